//! `node_cpu_info`, `node_cpu_frequency_hertz` (from cpuinfo), `node_cpu_flag_info` and
//! `node_cpu_bug_info` from `/proc/cpuinfo` (node_exporter's `--collector.cpu.info`).

use crate::Config;
use procfs_core::{CpuInfo, FromBufRead};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, Host, MetricFamily, ResultExt, Root};

/// The `flags_include` and `bugs_include` filters, compiled when the collector is built. Each is
/// `None` when its pattern is empty; a pattern that does not compile keeps its error, which fails
/// the cpuinfo part (not the whole collection) every cycle.
pub struct Filters {
    flags: Option<Result<NameFilter, Error>>,
    bugs: Option<Result<NameFilter, Error>>,
}

impl Filters {
    /// Compiles the patterns of `config`.
    pub fn new(config: &Config) -> Filters {
        let compile = |pattern: &str| (!pattern.is_empty()).then(|| NameFilter::new(pattern, ""));
        Filters {
            flags: compile(&config.flags_include),
            bugs: compile(&config.bugs_include),
        }
    }
}

/// The cpuinfo families; flags and bugs only for the names matching the configured patterns.
pub fn collect(host: &Host, filters: &Filters) -> Result<Vec<MetricFamily>, Error> {
    let text = host
        .read(Root::Proc, "cpuinfo")
        .context("reading /proc/cpuinfo")?;
    let cpuinfo = CpuInfo::from_buf_read(text.as_slice())?;
    let mut info = MetricFamily::gauge("node_cpu_info", "CPU information from /proc/cpuinfo.");
    let mut frequency = MetricFamily::gauge(
        "node_cpu_frequency_hertz",
        "CPU frequency in hertz from /proc/cpuinfo.",
    );
    for cpu in 0..cpuinfo.num_cores() {
        let field = |name: &str| cpuinfo.get_field(cpu, name).unwrap_or("").to_owned();
        let (package, core, processor) =
            (field("physical id"), field("core id"), field("processor"));
        info.sample(
            &[
                ("package", &package),
                ("core", &core),
                ("cpu", &processor),
                ("vendor", &field("vendor_id")),
                ("family", &field("cpu family")),
                ("model", &field("model")),
                ("model_name", &field("model name")),
                ("microcode", &field("microcode")),
                ("stepping", &field("stepping")),
                ("cachesize", &field("cache size")),
            ],
            1.0,
        );
        if let Ok(mhz) = field("cpu MHz").parse::<f64>() {
            frequency.sample(
                &[("package", &package), ("core", &core), ("cpu", &processor)],
                mhz * 1e6,
            );
        }
    }
    let mut out = vec![info, frequency];
    for (key, filter, name, label, help) in [
        (
            "flags",
            &filters.flags,
            "node_cpu_flag_info",
            "flag",
            "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
        ),
        (
            "bugs",
            &filters.bugs,
            "node_cpu_bug_info",
            "bug",
            "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
        ),
    ] {
        let Some(filter) = filter else { continue };
        let filter = filter.as_ref().map_err(Error::clone)?;
        let mut family = MetricFamily::gauge(name, help);
        for value in cpuinfo.get_field(0, key).unwrap_or("").split_whitespace() {
            if filter.kept(value) {
                family.sample(&[(label, value)], 1.0);
            }
        }
        out.push(family);
    }
    Ok(out)
}
