//! node_exporter's `cpu_vulnerabilities` collector: one `node_cpu_vulnerabilities_info` series
//! per file of `/sys/devices/system/cpu/vulnerabilities`.

use sonde_sdk::bundle::Part;
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily, Root};

const DIR: &str = "devices/system/cpu/vulnerabilities";

/// The longest label value the host accepts (sonde-wire's `MAX_LABEL_VALUE_BYTES`): a longer
/// file is left out rather than failing the plugin's whole output.
const MAX_LABEL_VALUE_BYTES: usize = 16 << 10;

/// The cpu_vulnerabilities part.
pub struct Vulnerabilities;

/// What a vulnerability file says: its state label and the mitigation text.
pub fn parse(content: &str) -> (&'static str, String) {
    let content = content.trim();
    let lower = content.to_lowercase();
    let rest = || {
        content
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if lower.starts_with("not affected") {
        ("not affected", String::new())
    } else if lower.starts_with("vulnerable") {
        ("vulnerable", rest())
    } else if lower.starts_with("mitigation") {
        ("mitigation", rest())
    } else if lower.starts_with("unknown") {
        ("unknown", rest())
    } else {
        // procfs keeps text it does not know whole, with state unknown.
        ("unknown", content.to_owned())
    }
}

impl Part for Vulnerabilities {
    /// Nothing on a kernel without the directory; a file that cannot be read is left out and
    /// fails the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let entries = match host.read_dir(Root::Sys, DIR) {
            Ok(entries) => entries,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(Error::from(e).context(format!("reading /sys/{DIR}"))),
        };
        let names: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind != EntryKind::Dir)
            .map(|e| e.name.as_str())
            .collect();
        let paths: Vec<String> = names.iter().map(|n| format!("{DIR}/{n}")).collect();
        let mut family = MetricFamily::gauge(
            "node_cpu_vulnerabilities_info",
            "Details of each CPU vulnerability reported by sysfs. The value of the series is an \
             int encoded state of the vulnerability. The same state is stored as a string in the \
             label",
        );
        let mut problems = Vec::new();
        for ((name, path), content) in names
            .iter()
            .zip(&paths)
            .zip(host.read_many(Root::Sys, &paths))
        {
            match content {
                Ok(bytes) => {
                    let (state, mitigation) = parse(&String::from_utf8_lossy(&bytes));
                    if mitigation.len() > MAX_LABEL_VALUE_BYTES
                        || name.len() > MAX_LABEL_VALUE_BYTES
                    {
                        problems.push(format!("/sys/{path}: longer than a label value may be"));
                        continue;
                    }
                    family.sample(
                        &[
                            ("codename", name),
                            ("state", state),
                            ("mitigation", &mitigation),
                        ],
                        1.0,
                    );
                }
                // Gone between listing and reading.
                Err(FsError::NotFound) => {}
                Err(e) => problems.push(format!("reading /sys/{path}: {e}")),
            }
        }
        out.push(family);
        match problems.len() {
            0 => Ok(()),
            1 => Err(Error::msg(problems.remove(0))),
            n => Err(Error::msg(format!(
                "{n} files left out, first {}",
                problems[0]
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn states_and_mitigations() {
        assert_eq!(parse("Not affected\n"), ("not affected", String::new()));
        assert_eq!(parse("Vulnerable\n"), ("vulnerable", String::new()));
        assert_eq!(
            parse("Vulnerable: Clear CPU buffers attempted, no microcode; SMT vulnerable\n"),
            (
                "vulnerable",
                "Clear CPU buffers attempted, no microcode; SMT vulnerable".into()
            )
        );
        assert_eq!(parse("Mitigation:  PTI\n"), ("mitigation", "PTI".into()));
        assert_eq!(
            parse("Unknown: No mitigations\n"),
            ("unknown", "No mitigations".into())
        );
        assert_eq!(
            parse("KVM: Mitigation: VMX disabled"),
            ("unknown", "KVM: Mitigation: VMX disabled".into())
        );
        assert_eq!(parse(""), ("unknown", String::new()));
    }
}
