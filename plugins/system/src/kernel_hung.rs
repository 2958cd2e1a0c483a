//! node_exporter's `kernel_hung` collector: tasks detected as hung since boot, from
//! `/proc/sys/kernel/hung_task_detect_count` (kernels with `CONFIG_DETECT_HUNG_TASK`, 6.13+).

use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, Root};

const PATH: &str = "sys/kernel/hung_task_detect_count";

/// Appends `node_kernel_hung_tasks_total`; nothing when the kernel has no such file.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, PATH)? else {
        return Ok(());
    };
    let count: u64 = text
        .trim()
        .parse()
        .map_err(|e| Error::msg(format!("/proc/{PATH}: {:?}: {e}", text.trim())))?;
    out.push(
        MetricFamily::counter(
            "node_kernel_hung_tasks_total",
            "Total number of tasks that have been detected as hung since the system booted.",
        )
        .with_value(count as f64),
    );
    Ok(())
}
