//! node_exporter's `interrupts` collector: `node_interrupts_total{cpu,type,info,devices}` per
//! interrupt line of `/proc/interrupts` and CPU column.
//!
//! As node_exporter does: the number of CPU columns is the number of names in the header line;
//! `cpu` is the column's position (0, 1, …), not the number in the header; a line with fewer
//! fields than one per CPU plus a description (`ERR:`, `MIS:`) is left out; for a numbered
//! interrupt `info` is the first word after the counts (the chip) and `devices` the rest, for a
//! named one (`NMI`, `LOC`) `info` is the whole description and `devices` empty; a name that
//! appears twice keeps its last line. Unlike node_exporter, a line whose CPU columns are not all
//! numbers (the CPUs changed between the header and that line, a garbled line) is left out and
//! fails the part after the others are reported, instead of failing the whole collection.

use serde::{Deserialize, Serialize};
use sonde_procfs::Skipped;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, Host, MetricFamily, Root};
use std::collections::HashMap;

/// The longest label value the host accepts (sonde-wire's `MAX_LABEL_VALUE_BYTES`).
const MAX_LABEL_VALUE_BYTES: usize = 16 << 10;

/// `interrupts = { … }`, node_exporter's flags with their defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.interrupts`, off).
    pub enabled: bool,
    /// Only interrupts whose `name;info;devices` matches this regex
    /// (`--collector.interrupts.name-include`, unset).
    pub name_include: String,
    /// Leave out interrupts whose `name;info;devices` matches this regex
    /// (`--collector.interrupts.name-exclude`, unset).
    pub name_exclude: String,
    /// Report zero counts too (`--collector.interrupts.include-zeros`, on).
    pub include_zeros: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            name_include: String::new(),
            name_exclude: String::new(),
            include_zeros: true,
        }
    }
}

/// The interrupts part.
pub struct Interrupts {
    filter: NameFilter,
    include_zeros: bool,
}

impl Interrupts {
    /// Checks the config's patterns.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Interrupts {
            filter: NameFilter::new(&config.name_include, &config.name_exclude)?,
            include_zeros: config.include_zeros,
        })
    }
}

/// One interrupt line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupt {
    /// The name before the colon (`0`, `NMI`), leading spaces removed.
    pub name: String,
    /// The chip of a numbered interrupt, the description of a named one.
    pub info: String,
    /// The devices of a numbered interrupt (empty for named ones).
    pub devices: String,
    /// One count per CPU column.
    pub counts: Vec<u64>,
}

/// The interrupt lines of `/proc/interrupts`, in file order (a name seen twice keeps its last
/// line, at its first place); `Err` for a file without a header line.
pub fn parse(text: &str) -> Result<(Vec<Interrupt>, Skipped), Error> {
    let mut lines = text.lines();
    let cpus = lines
        .next()
        .ok_or_else(|| Error::msg("/proc/interrupts: empty"))?
        .split_whitespace()
        .count();
    let mut out: Vec<Interrupt> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut skipped = Skipped::default();
    for (index, line) in lines.enumerate() {
        // aarch64 can print no space between the name and the counts: split at the colon.
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let parts: Vec<&str> = rest.split_whitespace().collect();
        if parts.len() < cpus + 1 {
            // ERR, MIS (one total), as node_exporter.
            continue;
        }
        let counts: Result<Vec<u64>, _> = parts[..cpus].iter().map(|p| p.parse::<u64>()).collect();
        let counts = match counts {
            Ok(counts) => counts,
            Err(_) => {
                skipped.line(
                    index + 2,
                    format!("not {cpus} counts (one per CPU in the header) in line {line:?}"),
                );
                continue;
            }
        };
        let name = name.trim_start_matches(' ');
        let numbered = {
            let digits = name.strip_prefix(['+', '-']).unwrap_or(name);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        };
        let (info, devices) = if numbered {
            (parts[cpus].to_owned(), parts[cpus + 1..].join(" "))
        } else {
            (parts[cpus..].join(" "), String::new())
        };
        if [name, &info, &devices]
            .iter()
            .any(|v| v.len() > MAX_LABEL_VALUE_BYTES)
        {
            skipped.line(index + 2, "longer than a label value may be");
            continue;
        }
        let interrupt = Interrupt {
            name: name.to_owned(),
            info,
            devices,
            counts,
        };
        match seen.get(&interrupt.name) {
            Some(&at) => out[at] = interrupt,
            None => {
                seen.insert(interrupt.name.clone(), out.len());
                out.push(interrupt);
            }
        }
    }
    Ok((out, skipped))
}

impl Part for Interrupts {
    /// Nothing on a kernel without `/proc/interrupts`.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "interrupts")? else {
            return Ok(());
        };
        let (interrupts, skipped) = parse(&text)?;
        let mut family = MetricFamily::counter("node_interrupts_total", "Interrupt details.");
        let mut cpu_labels: Vec<String> = Vec::new();
        for i in &interrupts {
            if self
                .filter
                .ignored(&format!("{};{};{}", i.name, i.info, i.devices))
            {
                continue;
            }
            for (cpu, &count) in i.counts.iter().enumerate() {
                if !self.include_zeros && count == 0 {
                    continue;
                }
                while cpu_labels.len() <= cpu {
                    cpu_labels.push(cpu_labels.len().to_string());
                }
                family.sample(
                    &[
                        ("cpu", &cpu_labels[cpu]),
                        ("type", &i.name),
                        ("info", &i.info),
                        ("devices", &i.devices),
                    ],
                    count as f64,
                );
            }
        }
        out.push(family);
        skipped.result("/proc/interrupts", !interrupts.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_named_lines() {
        let (irqs, skipped) = parse(
            "           CPU0       CPU1\n\
             \x20 0:         18          0  IR-IO-APIC-edge      timer\n\
             \x2016:     328511     322879  IR-IO-APIC-fasteoi   ehci_hcd:usb1, mmc0\n\
             NMI:         47       5031   Non-maskable interrupts\n\
             IPI0:12 13 Rescheduling interrupts\n\
             ERR:          0\n\
             MIS:          0\n",
        )
        .unwrap();
        assert_eq!(skipped, Skipped::default());
        assert_eq!(irqs.len(), 4);
        assert_eq!(
            irqs[1],
            Interrupt {
                name: "16".into(),
                info: "IR-IO-APIC-fasteoi".into(),
                devices: "ehci_hcd:usb1, mmc0".into(),
                counts: vec![328511, 322879],
            }
        );
        assert_eq!(irqs[2].info, "Non-maskable interrupts");
        assert_eq!(irqs[2].devices, "");
        assert_eq!(irqs[3].name, "IPI0");
        assert_eq!(irqs[3].counts, [12, 13]);
    }

    #[test]
    fn fewer_cpus_in_a_row_than_in_the_header() {
        let (irqs, skipped) = parse(
            "  CPU0 CPU1 CPU2 CPU3\n\
             \x201: 1 2 IO-APIC edge i8042\n\
             \x202: 1 2 3 4 IO-APIC cascade\n\
             \x203: 1 x 3 4 IO-APIC y\n",
        )
        .unwrap();
        assert_eq!(irqs.len(), 1);
        assert_eq!(irqs[0].name, "2");
        assert_eq!(skipped.count(), 2);
        assert!(parse("").is_err());
        // A header only: no interrupts, nothing wrong.
        assert_eq!(parse("CPU0\n").unwrap().0, []);
    }

    #[test]
    fn a_name_twice_keeps_the_last_line() {
        let (irqs, _) = parse("CPU0\n 5: 1 A a\n 6: 2 B b\n 5: 3 C c\n").unwrap();
        assert_eq!(irqs.len(), 2);
        assert_eq!((irqs[0].counts[0], irqs[0].info.as_str()), (3, "C"));
    }
}
