//! `/proc/mdstat`: the software RAID (md) arrays, read as procfs' `MDStat` reads them for
//! node_exporter's `mdadm` collector.
//!
//! Each array is a device line (`md0 : active raid1 sdb1[1] sda1[0](F)`), a status line
//! (`1953382400 blocks super 1.2 [2/1] [U_]`), an optional `bitmap:` line and an optional
//! progress line (`[=>...]  recovery =  8.5% (16775552/195310144) finish=17.0min
//! speed=259783K/sec`, or `resync=DELAYED` / `resync=PENDING`). The rules follow procfs:
//!
//! * `raid0` and `linear` arrays count their members (the `[` of the device line) as both active
//!   and required; `inactive` arrays have no disks; others take `[required/active]` from the
//!   status line. Failed and spare members are the `(F)` and `(S)` marks of the device line.
//! * The progress line names the activity: `recovery` is `recovering`, `reshape` `reshaping`,
//!   `check` `checking`, `resync` `resyncing` (in that order of precedence). Its `(synced/total)`
//!   gives the synced blocks; a delayed or pending sync has 0 synced. Without a progress line the
//!   synced blocks are the array's size.
//!
//! An array whose lines do not parse is left out and counted in [`Skipped`]; the others are kept.

use crate::Skipped;

/// One md array.
#[derive(Debug, Clone, PartialEq)]
pub struct MdStat {
    /// The device name, e.g. `md0`.
    pub name: String,
    /// The activity: the state word of the device line (`active`, `inactive`, …) or, while a
    /// progress line is shown, `recovering`, `reshaping`, `checking` or `resyncing`.
    pub activity_state: String,
    /// Active member disks.
    pub disks_active: i64,
    /// Disks the array needs (`[n/…]`).
    pub disks_total: i64,
    /// Failed members (`(F)`).
    pub disks_failed: i64,
    /// Missing members (`_` in `[U_]`).
    pub disks_down: i64,
    /// Spare members (`(S)`).
    pub disks_spare: i64,
    /// The array's size in blocks (1 KiB).
    pub blocks_total: i64,
    /// Blocks in sync.
    pub blocks_synced: i64,
}

/// Parses `/proc/mdstat`: the arrays in file order, and the lines of arrays left out.
pub fn parse(text: &str) -> (Vec<MdStat>, Skipped) {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut personalities_seen = false;
    let mut arrays = Vec::new();
    let mut skipped = Skipped::default();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() || line.starts_with(' ') || line.starts_with("unused") {
            continue;
        }
        if !personalities_seen && line.starts_with("Personalities : ") {
            personalities_seen = true;
            continue;
        }
        match parse_array(&lines, i) {
            Ok(array) => arrays.push(array),
            Err(problem) => skipped.line(i + 1, problem),
        }
    }
    (arrays, skipped)
}

/// The array whose device line is `lines[i]`.
fn parse_array(lines: &[&str], i: usize) -> Result<MdStat, String> {
    let line = lines[i];
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 3 {
        return Err(format!("expected 3+ fields in {}", crate::quoted(line)));
    }
    let name = fields[0];
    let mut state = fields[2].to_owned();
    if lines.len() <= i + 3 {
        return Err(format!("too few lines for md device {name:?}"));
    }
    let failed = line.matches("(F)").count() as i64;
    let spare = line.matches("(S)").count() as i64;
    let status = status_line(line, lines[i + 1])
        .map_err(|e| format!("md device {name:?}: {e} in {}", crate::quoted(lines[i + 1])))?;
    let mut sync_line = lines[i + 2];
    if sync_line.contains("bitmap") {
        sync_line = lines[i + 3];
    }
    let mut blocks_synced = status.size;
    let activity = if sync_line.contains("recovery") {
        Some("recovering")
    } else if sync_line.contains("reshape") {
        Some("reshaping")
    } else if sync_line.contains("check") {
        Some("checking")
    } else if sync_line.contains("resync") {
        Some("resyncing")
    } else {
        None
    };
    if let Some(activity) = activity {
        state = activity.to_owned();
        if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
            blocks_synced = 0;
        } else {
            blocks_synced = recovery_line(sync_line).map_err(|e| {
                format!(
                    "md device {name:?}: {e} in sync line {}",
                    crate::quoted(sync_line)
                )
            })?;
        }
    }
    Ok(MdStat {
        name: name.to_owned(),
        activity_state: state,
        disks_active: status.active,
        disks_total: status.total,
        disks_failed: failed,
        disks_down: status.down,
        disks_spare: spare,
        blocks_total: status.size,
        blocks_synced,
    })
}

struct Status {
    active: i64,
    total: i64,
    down: i64,
    size: i64,
}

/// The status line, e.g. `523968 blocks super 1.2 [4/4] [UUUU]`.
fn status_line(device_line: &str, status_line: &str) -> Result<Status, String> {
    let size_field = status_line
        .split_whitespace()
        .next()
        .ok_or("empty status line")?;
    let size: i64 = size_field
        .parse()
        .map_err(|e| format!("size {size_field:?}: {e}"))?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        let total = device_line.matches('[').count() as i64;
        return Ok(Status {
            active: total,
            total,
            down: 0,
            size,
        });
    }
    if device_line.contains("inactive") {
        return Ok(Status {
            active: 0,
            total: 0,
            down: 0,
            size,
        });
    }
    let (total, active, map) = disk_counts(status_line).ok_or("no [total/active] [U_] counts")?;
    let total = total.parse().map_err(|e| format!("total {total:?}: {e}"))?;
    let active = active
        .parse()
        .map_err(|e| format!("active {active:?}: {e}"))?;
    Ok(Status {
        active,
        total,
        down: map.matches('_').count() as i64,
        size,
    })
}

/// `(total, active, map)` of the last `[total/active] [map]` after a `<digits> blocks ` in the
/// status line, as procfs' `(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]` finds them.
fn disk_counts(line: &str) -> Option<(&str, &str, &str)> {
    let bytes = line.as_bytes();
    let blocks = (1..bytes.len())
        .find(|&at| bytes[at..].starts_with(b" blocks ") && bytes[at - 1].is_ascii_digit())?;
    let rest = &line[blocks + " blocks ".len()..];
    // The greedy `.*` makes the last match win.
    rest.match_indices('[').rev().find_map(|(at, _)| {
        let tail = &rest[at + 1..];
        let (total, tail) = split_digits(tail)?;
        let tail = tail.strip_prefix('/')?;
        let (active, tail) = split_digits(tail)?;
        let tail = tail.strip_prefix("] [")?;
        let end = tail.find(|c| c != 'U' && c != '_')?;
        (end > 0 && tail[end..].starts_with(']')).then(|| (total, active, &tail[..end]))
    })
}

/// The leading ASCII digits of `text` (at least one) and the rest.
fn split_digits(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (end > 0).then(|| text.split_at(end))
}

/// The synced blocks of a progress line, which must also show its percentage, finish time and
/// speed as procfs requires: `[=>...]  recovery =  8.5% (16775552/195310144) finish=17.0min
/// speed=259783K/sec`.
fn recovery_line(line: &str) -> Result<i64, String> {
    let (synced, to_sync) = line
        .match_indices('(')
        .find_map(|(at, _)| {
            let (synced, tail) = split_digits(&line[at + 1..])?;
            let (to_sync, tail) = split_digits(tail.strip_prefix('/')?)?;
            tail.starts_with(')').then_some((synced, to_sync))
        })
        .ok_or("no (synced/total) blocks")?;
    let synced: i64 = synced
        .parse()
        .map_err(|e| format!("synced blocks {synced:?}: {e}"))?;
    to_sync
        .parse::<i64>()
        .map_err(|e| format!("blocks to sync {to_sync:?}: {e}"))?;
    // `= (.+)%`, `finish=(.+)min`, `speed=(.+)[A-Z]`: greedy, so up to the last terminator.
    let pct = between(line, "= ", |rest| rest.rfind('%')).ok_or("no percentage")?;
    pct.trim()
        .parse::<f64>()
        .map_err(|_| format!("percentage {pct:?}"))?;
    let finish = between(line, "finish=", |rest| rest.rfind("min")).ok_or("no finish time")?;
    finish
        .parse::<f64>()
        .map_err(|_| format!("finish time {finish:?}"))?;
    let speed = between(line, "speed=", |rest| {
        rest.char_indices()
            .rev()
            .find(|&(at, c)| at > 0 && c.is_ascii_uppercase())
            .map(|(at, _)| at)
    })
    .ok_or("no speed")?;
    speed
        .parse::<f64>()
        .map_err(|_| format!("speed {speed:?}"))?;
    Ok(synced)
}

/// The non-empty text after the first `start` up to the position `end` finds in what follows.
fn between<'a>(line: &'a str, start: &str, end: impl Fn(&str) -> Option<usize>) -> Option<&'a str> {
    let rest = &line[line.find(start)? + start.len()..];
    let end = end(rest)?;
    (end > 0).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> MdStat {
        let (arrays, skipped) = parse(text);
        assert!(
            skipped.is_empty(),
            "{:?}",
            skipped.result("/proc/mdstat", true)
        );
        assert_eq!(arrays.len(), 1);
        arrays.into_iter().next().unwrap()
    }

    #[test]
    fn every_activity() {
        let recovering = one(
            "md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]\n      195310144 blocks [2/1] [U_]\n      [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec\n\n",
        );
        assert_eq!(
            recovering,
            MdStat {
                name: "md6".into(),
                activity_state: "recovering".into(),
                disks_active: 1,
                disks_total: 2,
                disks_failed: 1,
                disks_down: 1,
                disks_spare: 1,
                blocks_total: 195310144,
                blocks_synced: 16775552,
            }
        );
        let reshape = one(
            "md2 : active raid5 sdd[3] sdc[2] sdb[1] sda[0]\n      2930274304 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/4] [UUUU]\n      [>....................]  reshape =  0.1% (1465472/1465137152) finish=1168.4min speed=20875K/sec\n\n",
        );
        assert_eq!(reshape.activity_state, "reshaping");
        assert_eq!(reshape.blocks_synced, 1465472);
        let check = one(
            "md201 : active raid1 sda3[0] sdb3[1]\n      1993728 blocks super 1.2 [2/2] [UU]\n      bitmap: 0/1 pages [0KB], 65536KB chunk\n      [=>...................]  check =  5.7% (114176/1993728) finish=0.2min speed=114176K/sec\n\n",
        );
        assert_eq!(
            (check.activity_state.as_str(), check.blocks_synced),
            ("checking", 114176)
        );
        let delayed = one(
            "md9 : active raid1 sdc2[2] sdd2[3]\n      523968 blocks super 1.2 [4/4] [UUUU]\n      resync=DELAYED\n\n",
        );
        assert_eq!(
            (delayed.activity_state.as_str(), delayed.blocks_synced),
            ("resyncing", 0)
        );
        let pending = one(
            "md11 : active (auto-read-only) raid1 sdb2[0] sdc2[1]\n      4190208 blocks super 1.2 [2/2] [UU]\n      resync=PENDING\n\n",
        );
        assert_eq!(
            (pending.activity_state.as_str(), pending.disks_active),
            ("resyncing", 2)
        );
        let idle = one("md0 : active raid1 sdi1[0] sdj1[1]\n      248896 blocks [2/2] [UU]\n\n\n");
        assert_eq!(
            (idle.activity_state.as_str(), idle.blocks_synced),
            ("active", 248896)
        );
    }

    #[test]
    fn raid0_linear_and_inactive_arrays() {
        let raid0 =
            one("md10 : active raid0 sda1[0] sdb1[1]\n       314159265 blocks 64k chunks\n\n\n");
        assert_eq!((raid0.disks_active, raid0.disks_total), (2, 2));
        let inactive = one(
            "md219 : inactive sdb[2](S) sdc[1](S) sda[0](S)\n        7932 blocks super external:imsm\n\n\n",
        );
        assert_eq!(
            (
                inactive.disks_total,
                inactive.disks_spare,
                inactive.blocks_total
            ),
            (0, 3, 7932)
        );
    }

    #[test]
    fn malformed_arrays_are_left_out_the_others_kept() {
        let text = "Personalities : [raid1]\nmd0 : active raid1 sda[0]\n      x blocks [1/1] [U]\n\nmd1 : active raid1 sda[0]\n      10 blocks [1/1] [U]\n      [>...]  recovery =  1% (1/10) speed=1K/sec\n\nmd2 :\nmd3 : active raid1 sdb[0]\n      10 blocks [1/1] [U]\n\n\nmd4 : active raid1 sdc[0]\n";
        let (arrays, skipped) = parse(text);
        assert_eq!(
            arrays.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["md3"]
        );
        assert_eq!(skipped.count(), 4);
        let message = skipped
            .result("/proc/mdstat", true)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("/proc/mdstat: 4 malformed lines skipped, first line 2: md device \"md0\": size \"x\""), "{message}");
    }

    #[test]
    fn empty_files_and_no_arrays() {
        assert!(parse("").0.is_empty());
        let (arrays, skipped) = parse("Personalities : \nunused devices: <none>\n");
        assert!(arrays.is_empty() && skipped.is_empty());
    }
}
