//! node_exporter's `edac` collector: the memory error counters of the EDAC memory controllers
//! under `/sys/devices/system/edac/mc` (`node_edac_*_errors_total`), per controller, per chip-select
//! row and per channel, with the DIMM's label.

use crate::families::Families;
use sonde_sdk::bundle::Part;
use sonde_sdk::filter::{Pattern, compile};
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily, ResultExt, Root};
use std::rc::Rc;

/// The controllers' directory, relative to the sysfs root.
const MC_DIR: &str = "devices/system/edac/mc";

const CE: &str = "node_edac_correctable_errors_total";
const CE_HELP: &str = "Total correctable memory errors.";
const UE: &str = "node_edac_uncorrectable_errors_total";
const UE_HELP: &str = "Total uncorrectable memory errors.";
const CSROW_CE: &str = "node_edac_csrow_correctable_errors_total";
const CSROW_CE_HELP: &str = "Total correctable memory errors for this csrow.";
const CSROW_UE: &str = "node_edac_csrow_uncorrectable_errors_total";
const CSROW_UE_HELP: &str = "Total uncorrectable memory errors for this csrow.";
const CHANNEL_CE: &str = "node_edac_channel_correctable_errors_total";
const CHANNEL_CE_HELP: &str = "Total correctable memory errors for this channel.";
const CHANNEL_UE: &str = "node_edac_channel_uncorrectable_errors_total";
const CHANNEL_UE_HELP: &str = "Total uncorrectable memory errors for this channel.";

/// The part.
pub struct Edac {
    /// node_exporter's `ch([0-9]+)_ce_count`, searched in a channel file's name.
    channel: Rc<Pattern>,
}

impl Edac {
    /// Builds the part.
    pub fn new() -> Result<Self, Error> {
        Ok(Edac {
            channel: compile("ch([0-9]+)_ce_count").map_err(Error::msg)?,
        })
    }
}

/// The entries of a listing that match the glob `<prefix>[0-9]*`, with the digits after the
/// prefix (node_exporter's regex takes `[0-9]*` there, greedily).
fn numbered<'a>(names: &'a [String], prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    names.iter().filter_map(move |name| {
        let rest = name.strip_prefix(prefix)?;
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        (digits > 0).then(|| (name.as_str(), &rest[..digits]))
    })
}

/// A counter file: the whole file, whitespace-trimmed, a decimal `u64` (`readUintFromFile`).
fn counter(path: &str, read: Result<Vec<u8>, FsError>) -> Result<f64, Error> {
    let bytes = read.map_err(|e| Error::from(e).context(format!("reading /sys/{path}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(n) if !text.starts_with('+') => Ok(n as f64),
        _ => Err(Error::msg(format!(
            "/sys/{path}: not an unsigned integer: {text:?}"
        ))),
    }
}

/// Lists `dir`, names only; `None` when it does not exist.
fn list(host: &Host, dir: &str) -> Result<Option<Vec<String>>, Error> {
    match host.read_dir(Root::Sys, dir) {
        Err(FsError::NotFound) => Ok(None),
        listing => Ok(Some(
            listing
                .context(format!("listing /sys/{dir}"))?
                .into_iter()
                .filter(|e| e.kind != EntryKind::File)
                .map(|e| e.name)
                .collect(),
        )),
    }
}

/// node_exporter's `edacDimmLabel`: the label file trimmed, `#` removed, `csrow` and `channel`
/// preceded by `_`; `unknown` when it cannot be read.
fn dimm_label(read: Option<Result<Vec<u8>, FsError>>) -> String {
    let Some(Ok(bytes)) = read else {
        return "unknown".into();
    };
    String::from_utf8_lossy(&bytes)
        .trim()
        .replace('#', "")
        .replace("csrow", "_csrow")
        .replace("channel", "_channel")
}

impl Part for Edac {
    /// One listing of `devices/system/edac/mc` (none on a machine without an EDAC driver), then
    /// per controller and row a listing and a batch read. As in node_exporter, a counter that
    /// cannot be read ends its controller with an error (other controllers are still read).
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(controllers) = list(host, MC_DIR)? else {
            return Ok(());
        };
        let mut families = Families::default();
        let mut errors = Vec::new();
        for (dir, number) in numbered(&controllers, "mc") {
            let dir = format!("{MC_DIR}/{dir}");
            if let Err(e) = self.controller(host, &dir, number, &mut families) {
                errors.push(e);
            }
        }
        out.extend(families.into_vec());
        errors.pop().map_or(Ok(()), Err)
    }
}

impl Edac {
    /// The counters of the controller `dir` (number `mc`) and of its rows.
    fn controller(
        &self,
        host: &Host,
        dir: &str,
        mc: &str,
        families: &mut Families,
    ) -> Result<(), Error> {
        let files = ["ce_count", "ce_noinfo_count", "ue_count", "ue_noinfo_count"];
        let paths = files.map(|f| format!("{dir}/{f}"));
        let reads = host.read_many(Root::Sys, &paths);
        let metrics = [
            (CE, CE_HELP, None),
            (CSROW_CE, CSROW_CE_HELP, Some("unknown")),
            (UE, UE_HELP, None),
            (CSROW_UE, CSROW_UE_HELP, Some("unknown")),
        ];
        for ((path, read), (name, help, csrow)) in paths.iter().zip(reads).zip(metrics) {
            let value = counter(path, read)?;
            match csrow {
                None => families.counter(name, help, &[("controller", mc)], value),
                Some(row) => {
                    families.counter(name, help, &[("controller", mc), ("csrow", row)], value)
                }
            }
        }
        let Some(entries) = list(host, dir)? else {
            return Ok(());
        };
        for (row_dir, row) in numbered(&entries, "csrow") {
            self.csrow(host, &format!("{dir}/{row_dir}"), mc, row, families)?;
        }
        Ok(())
    }

    /// The counters of one chip-select row and its channels.
    fn csrow(
        &self,
        host: &Host,
        dir: &str,
        mc: &str,
        row: &str,
        families: &mut Families,
    ) -> Result<(), Error> {
        let files = match host.read_dir(Root::Sys, dir) {
            Err(FsError::NotFound) => return Ok(()),
            listing => listing.context(format!("listing /sys/{dir}"))?,
        };
        // The channels: `ch*_ce_count` files whose name holds `ch<digits>_ce_count`.
        let channels: Vec<&str> = files
            .iter()
            .filter(|f| f.name.starts_with("ch") && f.name.ends_with("_ce_count"))
            .filter_map(|f| {
                let captures = self.channel.regex().captures(&f.name)?;
                Some(captures.get(1)?.as_str())
            })
            .collect();
        let mut paths = vec![format!("{dir}/ce_count"), format!("{dir}/ue_count")];
        for channel in &channels {
            paths.push(format!("{dir}/ch{channel}_ce_count"));
            paths.push(format!("{dir}/ch{channel}_ue_count"));
            paths.push(format!("{dir}/ch{channel}_dimm_label"));
        }
        let mut reads = host.read_many(Root::Sys, &paths).into_iter();
        let labels = [("controller", mc), ("csrow", row)];
        let mut next = |i: usize| {
            (
                paths[i].as_str(),
                reads.next().unwrap_or(Err(FsError::NotFound)),
            )
        };
        let (path, read) = next(0);
        families.counter(CSROW_CE, CSROW_CE_HELP, &labels, counter(path, read)?);
        let (path, read) = next(1);
        families.counter(CSROW_UE, CSROW_UE_HELP, &labels, counter(path, read)?);
        for (i, channel) in channels.iter().enumerate() {
            let (ce_path, ce) = next(2 + 3 * i);
            let (_, ue) = next(3 + 3 * i);
            let (_, label) = next(4 + 3 * i);
            let label = dimm_label(Some(label));
            let labels = [
                ("controller", mc),
                ("csrow", row),
                ("channel", channel),
                ("dimm_label", label.as_str()),
            ];
            families.counter(CHANNEL_CE, CHANNEL_CE_HELP, &labels, counter(ce_path, ce)?);
            // A channel without an uncorrectable counter: left out quietly, as node_exporter.
            if let Ok(ue) = counter("", ue) {
                families.counter(CHANNEL_UE, CHANNEL_UE_HELP, &labels, ue);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_numbers_as_node_exporter() {
        let names: Vec<String> = ["mc0", "mc12x", "mc", "mcx1", "power", "csrow3"]
            .map(String::from)
            .into();
        let found: Vec<_> = numbered(&names, "mc").collect();
        assert_eq!(found, [("mc0", "0"), ("mc12x", "12")]);
        assert_eq!(
            dimm_label(Some(Ok(b"mc#0csrow#1channel#0\n".to_vec()))),
            "mc0_csrow1_channel0"
        );
        assert_eq!(dimm_label(Some(Err(FsError::NotFound))), "unknown");
    }
}
