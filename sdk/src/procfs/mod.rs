//! Parsers for `/proc` files that node_exporter-compatible collectors share.
//!
//! Where `procfs-core` parses a file the way node_exporter reads it, these modules use it; where
//! it loses information node_exporter exposes (the CPU number of each `/proc/stat` line, the full
//! `f64` precision of `/proc/loadavg`), they parse the file themselves.

pub mod arp;
pub mod auxv;
pub mod conntrack;
pub mod diskstats;
pub mod file_nr;
pub mod loadavg;
pub mod meminfo;
pub mod mountinfo;
pub mod net_dev;
pub mod netstat;
pub mod pid_files;
pub mod pid_stat;
pub mod pressure;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod udp;
pub mod vmstat;

/// Clock ticks per second of the `/proc` CPU counters. The kernel exports them in `USER_HZ`,
/// which is 100 on every architecture Linux supports (node_exporter hard-codes it too).
pub const USER_HZ: f64 = 100.0;
