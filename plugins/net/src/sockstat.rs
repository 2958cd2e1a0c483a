//! node_exporter's `sockstat` collector: `node_sockstat_<PROTO>_<state>` gauges from
//! `/proc/net/sockstat` and `/proc/net/sockstat6`.

use crate::netns::NetDir;
use sonde_procfs::{auxv, sockstat};
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::names::valid_or_logged;
use sonde_sdk::{Error, Host, MetricFamily, Root};
use std::cell::OnceCell;

/// The sockstat part.
pub struct Sockstat {
    /// Where the `net/…` files are read.
    pub net: NetDir,
}

impl Part for Sockstat {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let page_size = OnceCell::new();
        // A malformed line is left out; the first file's skipped lines fail the part.
        let mut result = Ok(());
        for name in ["sockstat", "sockstat6"] {
            let file = self.net.file(name);
            let Some(text) = read_optional(host, Root::Proc, &file)? else {
                continue;
            };
            let (stat, skipped) = sockstat::parse(&text);
            let kept = stat.used.is_some() || !stat.protocols.is_empty();
            result = result.and(skipped.result(&format!("/proc/{file}"), kept));
            // sockstat6 has no `sockets:` line; node_exporter reports it for IPv4 only.
            if let Some(used) = stat.used.filter(|_| name == "sockstat") {
                out.push(
                    MetricFamily::gauge(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                    )
                    .with_value(used as f64),
                );
            }
            let page_bytes = || *page_size.get_or_init(|| auxv::page_size(host) as i64);
            for p in &stat.protocols {
                let states = [
                    ("inuse", p.inuse),
                    ("orphan", p.orphan),
                    ("tw", p.tw),
                    ("alloc", p.alloc),
                    ("mem", p.mem),
                    ("memory", p.memory),
                    (
                        "mem_bytes",
                        p.mem.map(|pages| pages.wrapping_mul(page_bytes())),
                    ),
                ];
                for (state, value) in states {
                    let Some(value) = value else { continue };
                    let name = format!("node_sockstat_{}_{state}", p.protocol);
                    if valid_or_logged(host, "sockstat", &name) {
                        out.push(
                            MetricFamily::gauge(
                                name,
                                format!("Number of {} sockets in state {state}.", p.protocol),
                            )
                            .with_value(value as f64),
                        );
                    }
                }
            }
        }
        result
    }
}
