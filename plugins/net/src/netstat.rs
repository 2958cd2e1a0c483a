//! node_exporter's `netstat` collector: untyped `node_netstat_<Protocol>_<Field>` from
//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, for the fields matching a pattern.

use crate::netns::NetDir;
use serde::{Deserialize, Serialize};
use sonde_procfs::netstat::{self, Counter};
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::names::valid_or_logged;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// node_exporter's default for `--collector.netstat.fields`.
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// `netstat = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.netstat`, on).
    pub enabled: bool,
    /// Regex of the `<Protocol>_<Field>` names to report (`--collector.netstat.fields`), matched
    /// unanchored like Go's `MatchString`; the default is anchored itself.
    pub fields: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            fields: DEFAULT_FIELDS.to_owned(),
        }
    }
}

/// The netstat part.
pub struct Netstat {
    /// Where the `net/…` files are read.
    net: NetDir,
    fields: NameFilter,
}

impl Netstat {
    /// Checks the config's pattern.
    pub fn new(config: &Config, net: NetDir) -> Result<Self, Error> {
        Ok(Netstat {
            net,
            fields: NameFilter::new(&config.fields, "")?,
        })
    }
}

impl Part for Netstat {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        // netstat and snmp are required by node_exporter; a kernel without them has no IPv4
        // stack, so missing files yield nothing here rather than an error.
        let mut texts = Vec::with_capacity(3);
        for name in ["netstat", "snmp", "snmp6"] {
            let file = self.net.file(name);
            if let Some(text) = read_optional(host, Root::Proc, &file)? {
                texts.push((name, file, text));
            }
        }
        let mut counters = Vec::new();
        // A malformed pair or line is left out; the first file's skipped lines fail the part.
        let mut result = Ok(());
        for (name, file, text) in &texts {
            let (parsed, skipped) = if *name == "snmp6" {
                netstat::parse_snmp6(text)
            } else {
                netstat::parse_pairs(text)
            };
            let kept = !parsed.is_empty();
            result = result.and(skipped.result(&format!("/proc/{file}"), kept));
            counters.extend(parsed);
        }
        let start = out.len();
        // The filter remembers its answer for each key; the key is built in one buffer, so
        // the hundreds of fields a cycle skips cost no allocation.
        let mut key = String::new();
        for Counter {
            protocol,
            field,
            value,
        } in counters
        {
            key.clear();
            key.push_str(protocol);
            key.push('_');
            key.push_str(field);
            if self.fields.ignored(&key) {
                continue;
            }
            let name = format!("node_netstat_{key}");
            // A field printed twice keeps its last value, as node_exporter's map does.
            if let Some(family) = out[start..].iter_mut().find(|f| f.name == name) {
                family.samples[0].value = value;
                continue;
            }
            if !valid_or_logged(host, "netstat", &name) {
                continue;
            }
            out.push(
                MetricFamily::untyped(name, format!("Statistic {protocol}{field}."))
                    .with_value(value),
            );
        }
        result
    }
}
