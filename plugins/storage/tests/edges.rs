//! The storage collector on trees built here: every md activity, the series node_exporter's
//! mixin alerts read, 500 arrays, hostile names, missing and malformed files, and hosts without
//! any of the sources.

use sonde_plugin_storage::Storage;
use sonde_sdk::Level;
use sonde_sdk::testing::{Fixture, Tree, collect_text, family_lines, family_names, sample_lines};

const ALL_ON: &str = r#"{"drbd": {"enabled": true}}"#;

/// The exposition parses back, with as many samples as it has sample lines.
fn assert_valid(text: &str) {
    let families = sonde_textformat::parse(text.as_bytes()).unwrap();
    let samples: usize = families.iter().map(|f| f.metrics.len()).sum();
    assert_eq!(samples, sample_lines(text).len());
}

const MDSTAT: &str = "Personalities : [raid1] [raid6] [raid5] [raid4] [raid10]
md1 : active raid1 sdb1[1] sda1[0]
      1000 blocks super 1.2 [2/2] [UU]
      [==>..................]  resync = 12.5% (125/1000) finish=1.0min speed=1000K/sec

md2 : active raid1 sdc1[2] sdd1[1](F) sde1[0]
      1000 blocks super 1.2 [2/1] [U_]
      [====>................]  recovery = 25.0% (250/1000) finish=1.0min speed=1000K/sec

md3 : active raid6 sdf[3] sdg[2] sdh[1] sdi[0]
      2000 blocks super 1.2 level 6, 512k chunk, algorithm 2 [4/4] [UUUU]
      bitmap: 0/8 pages [0KB], 65536KB chunk
      [=>...................]  check =  7.5% (75/1000) finish=1.0min speed=1000K/sec

md4 : active raid5 sdj[3] sdk[2] sdl[1] sdm[0]
      3000 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/4] [UUUU]
      [>....................]  reshape =  1.0% (10/1000) finish=1.0min speed=1000K/sec

md5 : active raid1 sdn[1] sdo[0]
      500 blocks super 1.2 [2/2] [UU]
      resync=DELAYED

md6 : active (auto-read-only) raid1 sdp[1] sdq[0] sdr[2](S)
      600 blocks super 1.2 [2/2] [UU]
      resync=PENDING

md7 : inactive sds[0](S)
      700 blocks super 1.2

unused devices: <none>
";

#[test]
fn every_md_activity_and_the_mixin_alert_series() {
    let tree = Tree::new("storage");
    tree.file("proc/mdstat", MDSTAT);
    let text = collect_text::<Storage>(&tree.host(), "").unwrap();
    assert!(tree.host().logged().is_empty());
    assert_valid(&text);
    let on: Vec<&str> = family_lines(&text, "node_md_state")
        .into_iter()
        .filter(|l| l.ends_with(" 1"))
        .collect();
    // Reshaping has no state label of its own in node_exporter: all five read 0.
    assert_eq!(
        on,
        [
            "node_md_state{device=\"md1\",state=\"resync\"} 1",
            "node_md_state{device=\"md2\",state=\"recovering\"} 1",
            "node_md_state{device=\"md3\",state=\"check\"} 1",
            "node_md_state{device=\"md5\",state=\"resync\"} 1",
            "node_md_state{device=\"md6\",state=\"resync\"} 1",
            "node_md_state{device=\"md7\",state=\"inactive\"} 1",
        ]
    );
    assert_eq!(family_lines(&text, "node_md_state").len(), 7 * 5);
    assert_eq!(
        family_lines(&text, "node_md_blocks_synced"),
        [
            "node_md_blocks_synced{device=\"md1\"} 125",
            "node_md_blocks_synced{device=\"md2\"} 250",
            "node_md_blocks_synced{device=\"md3\"} 75",
            "node_md_blocks_synced{device=\"md4\"} 10",
            "node_md_blocks_synced{device=\"md5\"} 0",
            "node_md_blocks_synced{device=\"md6\"} 0",
            "node_md_blocks_synced{device=\"md7\"} 700",
        ]
    );
    // NodeRAIDDegraded: node_md_disks_required - ignoring(state) node_md_disks{state="active"}
    // > 0; NodeRAIDDiskFailure: node_md_disks{state="failed"} > 0. Both for md2 only.
    for line in [
        "node_md_disks_required{device=\"md2\"} 2",
        "node_md_disks{device=\"md2\",state=\"active\"} 1",
        "node_md_disks{device=\"md2\",state=\"failed\"} 1",
        "node_md_disks{device=\"md2\",state=\"spare\"} 0",
        "node_md_disks_required{device=\"md1\"} 2",
        "node_md_disks{device=\"md1\",state=\"active\"} 2",
        "node_md_disks{device=\"md1\",state=\"failed\"} 0",
        "node_md_disks{device=\"md6\",state=\"spare\"} 1",
    ] {
        assert!(text.contains(&format!("{line}\n")), "{line}\n{text}");
    }
    let failed: Vec<&str> = family_lines(&text, "node_md_disks")
        .into_iter()
        .filter(|l| l.contains("state=\"failed\"") && !l.ends_with(" 0"))
        .collect();
    assert_eq!(failed, ["node_md_disks{device=\"md2\",state=\"failed\"} 1"]);
    // No /sys/block here: no raid_disks or degraded, and no error.
    assert!(!text.contains("node_md_raid_disks"));
}

#[test]
fn five_hundred_arrays() {
    let tree = Tree::new("storage");
    let mut mdstat = String::from("Personalities : [raid1] [raid5] [raid0]\n");
    for n in 0..500 {
        match n % 5 {
            0 => mdstat.push_str(&format!(
                "md{n} : active raid1 sda{n}[1] sdb{n}[0]\n      1000 blocks super 1.2 [2/2] [UU]\n\n"
            )),
            1 => mdstat.push_str(&format!(
                "md{n} : active raid1 sda{n}[1](F) sdb{n}[0]\n      1000 blocks super 1.2 [2/1] [U_]\n      [=>...]  recovery =  5.0% (50/1000) finish=1.0min speed=1000K/sec\n\n"
            )),
            2 => mdstat.push_str(&format!(
                "md{n} : active raid5 sda{n}[2] sdb{n}[1] sdc{n}[0]\n      2000 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]\n      bitmap: 0/1 pages [0KB], 65536KB chunk\n      [=>...]  check =  5.0% (50/1000) finish=1.0min speed=1000K/sec\n\n"
            )),
            3 => mdstat.push_str(&format!(
                "md{n} : active raid0 sda{n}[1] sdb{n}[0]\n      4000 blocks super 1.2 512k chunks\n\n"
            )),
            _ => mdstat.push_str(&format!(
                "md{n} : active raid1 sda{n}[1] sdb{n}[0]\n      1000 blocks super 1.2 [2/2] [UU]\n      resync=DELAYED\n\n"
            )),
        }
        let (level, degraded) = match n % 5 {
            2 => ("raid5", "0"),
            3 => ("raid0", ""),
            1 => ("raid1", "1"),
            _ => ("raid1", "0"),
        };
        let dir = format!("sys/block/md{n}/md");
        tree.file(format!("{dir}/level"), format!("{level}\n"))
            .file(format!("{dir}/raid_disks"), "2\n");
        if !degraded.is_empty() {
            tree.file(format!("{dir}/degraded"), format!("{degraded}\n"));
        }
    }
    tree.file("proc/mdstat", format!("{mdstat}unused devices: <none>\n"));
    let started = std::time::Instant::now();
    let text = collect_text::<Storage>(&tree.host(), "").unwrap();
    assert!(started.elapsed().as_secs() < 5);
    assert_valid(&text);
    // Per array: disks_required, 3 disks, 5 states, blocks, blocks_synced; raid_disks, degraded.
    assert_eq!(sample_lines(&text).len(), 500 * (1 + 3 + 5 + 1 + 1 + 2));
    let degraded = family_lines(&text, "node_md_degraded")
        .into_iter()
        .filter(|l| l.ends_with(" 1"))
        .count();
    assert_eq!(degraded, 100);
    let recovering = family_lines(&text, "node_md_state")
        .into_iter()
        .filter(|l| l.contains("\"recovering\"") && l.ends_with(" 1"))
        .count();
    assert_eq!(recovering, 100);
}

#[test]
fn sysfs_arrays_containers_reshapes_and_missing_files() {
    let tree = Tree::new("storage");
    tree.file("proc/mdstat", "Personalities : \nunused devices: <none>\n")
        .file("sys/block/md0/md/level", "raid1\n")
        .file("sys/block/md0/md/raid_disks", "2\n")
        .file("sys/block/md0/md/degraded", "1\n")
        .file("sys/block/md1/md/level", "container\n")
        .file("sys/block/md2/md/level", "raid5\n")
        .file("sys/block/md2/md/raid_disks", "5 (4)\n")
        .file("sys/block/md2/md/degraded", "0\n")
        // Going away: no raid_disks, no degraded. Left out without an error.
        .file("sys/block/md3/md/level", "raid1\n")
        // Not an array (no md/), and not md at all.
        .dir("sys/block/md4")
        .file("sys/block/sda/size", "1\n")
        .file("sys/block/md5/md/level", "raid6\n")
        .file("sys/block/md5/md/raid_disks", "\n")
        .file("sys/block/md5/md/degraded", "2\n");
    let host = tree.host();
    let text = collect_text::<Storage>(&host, "").unwrap();
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    assert_eq!(
        sample_lines(&text),
        [
            "node_md_degraded{device=\"md0\"} 1",
            "node_md_degraded{device=\"md1\"} 0",
            "node_md_degraded{device=\"md2\"} 0",
            "node_md_degraded{device=\"md5\"} 2",
            "node_md_raid_disks{device=\"md0\"} 2",
            "node_md_raid_disks{device=\"md2\"} 5",
        ]
    );

    // A degraded count that does not parse: that array is left out, the part fails naming it.
    tree.file("sys/block/md0/md/degraded", "x\n");
    let host = tree.host();
    let text = collect_text::<Storage>(&host, "").unwrap();
    assert!(!text.contains("device=\"md0\""));
    assert!(text.contains("node_md_degraded{device=\"md2\"} 0"));
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].0, Level::Warn);
    assert!(
        logged[0]
            .1
            .starts_with("mdadm: /sys/block/md0/md/degraded: \"x\""),
        "{}",
        logged[0].1
    );
}

#[test]
fn malformed_mdstat_keeps_the_good_arrays() {
    let tree = Tree::new("storage");
    tree.file(
        "proc/mdstat",
        "Personalities : [raid1]\nmd0 : active raid1 sda[0] sdb[1]\n      100 blocks [2/2] [UU]\n\nmd1 : active raid1 sda[0]\n      x blocks [2/1] [U_]\n\nmd0 : active raid1 sdc[0] sdd[1]\n      100 blocks [2/2] [UU]\n\nmd2 : active raid1 sdb[0]\n      10 blocks [1/1] [U]\n      [>..]  recovery = 1% (x/10) finish=1min speed=1K/sec\n\nmd3 : active raid1 sde[0]\n",
    );
    let host = tree.host();
    let text = collect_text::<Storage>(&host, "").unwrap();
    assert_valid(&text);
    assert_eq!(
        family_lines(&text, "node_md_blocks"),
        ["node_md_blocks{device=\"md0\"} 100"]
    );
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].1.starts_with(
            "mdadm: /proc/mdstat: 3 malformed lines skipped, first line 5: md device \"md1\""
        ),
        "{}",
        logged[0].1
    );

    // Empty and unreadable-as-text files: nothing, no error.
    tree.file("proc/mdstat", "");
    let host = tree.host();
    assert_eq!(collect_text::<Storage>(&host, "").unwrap(), "");
    assert!(host.logged().is_empty());
}

#[test]
fn hostile_names_stay_valid_exposition() {
    let tree = Tree::new("storage");
    let weird = "md\"q\\x";
    let mdstat = format!(
        "Personalities : [raid1]\n{weird} : active raid1 sda[0]\n      10 blocks [1/1] [U]\n\nmd\u{e9}\u{1} : active raid1 sda[0]\n      10 blocks [1/1] [U]\n\nmdFF : active raid1 sdb[0]\n      10 blocks [1/1] [U]\n\n\n"
    );
    // Invalid UTF-8 in /proc/mdstat: replaced, still one series.
    let mdstat = mdstat.replace("mdFF", "md\u{0}").into_bytes();
    let at = mdstat.iter().position(|b| *b == 0).unwrap();
    let mut bytes = mdstat[..at].to_vec();
    bytes.push(0xff);
    bytes.extend_from_slice(&mdstat[at + 1..]);
    tree.file("proc/mdstat", bytes);
    tree.file(format!("sys/block/{weird}/md/level"), "raid1\n")
        .file(format!("sys/block/{weird}/md/raid_disks"), "1\n")
        .file(format!("sys/block/{weird}/md/degraded"), "0\n");
    // A multipath map whose dm name has quotes, a backslash and a newline inside.
    tree.file("sys/block/dm-0/dm/uuid", "mpath-3600\n")
        .file("sys/block/dm-0/dm/name", "a\"b\\c\nd\n")
        .file("sys/block/dm-0/dm/suspended", "0\n")
        .file("sys/block/dm-0/size", "8\n")
        .dir("sys/block/dm-0/slaves/sd\"x")
        .file("sys/block/sd\"x/device/state", "running\n")
        // Not multipath (an LVM volume) and no device mapper at all.
        .file("sys/block/dm-1/dm/uuid", "LVM-abc\n")
        .dir("sys/block/dm-2");
    tree.file("sys/class/nvme/nvme\"0/model", "M\"odel\\\n")
        .file("sys/class/nvme/nvme\"0/serial", "S\n")
        .file("sys/class/nvme/nvme\"0/firmware_rev", "F\n")
        .file("sys/class/nvme/nvme\"0/state", "live\n")
        .file("sys/class/nvme/nvme\"0/cntlid", "1\n")
        .file("sys/class/nvme/nvme\"0/nvme0n1/nuse", "1\n")
        .file("sys/class/nvme/nvme\"0/nvme0n1/size", "2\n")
        .file(
            "sys/class/nvme/nvme\"0/nvme0n1/queue/logical_block_size",
            "512\n",
        );
    // A name that is not UTF-8 cannot be named in a path: left out, no error.
    tree.file(b"sys/class/nvme/nvme\xff/model", "m");
    let host = tree.host();
    let text = collect_text::<Storage>(&host, ALL_ON).unwrap();
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    assert_valid(&text);
    for line in [
        "node_md_raid_disks{device=\"md\\\"q\\\\x\"} 1",
        "node_md_blocks{device=\"md\\\"q\\\\x\"} 10",
        "node_dmmultipath_path_state{device=\"a\\\"b\\\\c\\nd\",path=\"sd\\\"x\",state=\"running\"} 1",
        "node_dmmultipath_device_size_bytes{device=\"a\\\"b\\\\c\\nd\",sysfs_name=\"dm-0\"} 4096",
        "node_nvme_info{cntlid=\"1\",device=\"nvme\\\"0\",firmware_revision=\"F\",model=\"M\\\"odel\\\\\",serial=\"S\",state=\"live\"} 1",
        "node_nvme_namespace_info{ana_state=\"unknown\",device=\"nvme\\\"0\",nsid=\"1\"} 1",
        "node_nvme_namespace_size_bytes{device=\"nvme\\\"0\",nsid=\"1\"} 1024",
    ] {
        assert!(text.contains(&format!("{line}\n")), "{line}\n{text}");
    }
    assert_eq!(family_lines(&text, "node_dmmultipath_device_info").len(), 1);
    assert_eq!(family_lines(&text, "node_nvme_info").len(), 1);
    assert_eq!(family_lines(&text, "node_md_blocks").len(), 3);
}

#[test]
fn fibre_channel_tape_and_drbd_edges() {
    let tree = Tree::new("storage");
    // A port without state reports its counters as 0; a counter of all ones is left out.
    tree.file("sys/class/fc_host/host0/speed", "8 Gbit\n")
        .file("sys/class/fc_host/host0/statistics/tx_frames", "0x5\n")
        .file("sys/class/fc_host/host1/port_state", "Online\n")
        .file("sys/class/fc_host/host1/port_name", "0x10\n")
        .file("sys/class/fc_host/host1/statistics/tx_frames", "0x5\n")
        .file(
            "sys/class/fc_host/host1/statistics/rx_frames",
            "0xffffffffffffffff\n",
        )
        .file("sys/class/fc_host/host1/statistics/reset_statistics", "")
        .file("sys/class/fc_host/host2/port_state", "Online\n")
        .file("sys/class/fc_host/host2/statistics/tx_frames", "zz\n");
    tree.file("sys/class/scsi_tape/st0/stats/read_ns", "1500000000\n")
        .file("sys/class/scsi_tape/st0/stats/in_flight", "2\n")
        .file("sys/class/scsi_tape/nst0/stats/read_ns", "1\n")
        .file("sys/class/scsi_tape/st1/stats/read_ns", "x\n")
        .dir("sys/class/scsi_tape/st2")
        .file("sys/class/scsi_tape/st3/stats/read_ns", "7\n");
    tree.file(
        "proc/drbd",
        "version: 8.4.3 (api:1/proto:86-101)\n 0: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----\n    ns:1 nr:2 dw:x oos:3\n 1: cs:Connected ro:Primary ds:UpToDate/UpToDate ns:4 ns:5\n",
    );
    let host = tree.host();
    let text = collect_text::<Storage>(
        &host,
        r#"{"drbd": {"enabled": true}, "tapestats": {"ignored_devices": "^st3$"}}"#,
    )
    .unwrap();
    assert_valid(&text);
    let fc: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_fibrechannel_") && !l.contains("info"))
        .filter(|l| !l.ends_with(" 0"))
        .collect();
    assert_eq!(
        fc,
        ["node_fibrechannel_tx_frames_total{fc_host=\"host1\"} 5"]
    );
    assert_eq!(
        family_lines(&text, "node_fibrechannel_tx_frames_total"),
        [
            "node_fibrechannel_tx_frames_total{fc_host=\"host0\"} 0",
            "node_fibrechannel_tx_frames_total{fc_host=\"host1\"} 5",
        ]
    );
    assert!(text.contains("node_fibrechannel_info{dev_loss_tmo=\"\",fabric_name=\"\",fc_host=\"host1\",port_id=\"\",port_name=\"10\",port_state=\"Online\",port_type=\"\",speed=\"\",supported_classes=\"\",supported_speeds=\"\",symbolic_name=\"\"} 1\n"));
    assert_eq!(family_lines(&text, "node_fibrechannel_info").len(), 2);
    assert_eq!(
        family_lines(&text, "node_tape_read_time_seconds_total"),
        ["node_tape_read_time_seconds_total{device=\"st0\"} 1.5"]
    );
    assert_eq!(
        family_lines(&text, "node_tape_io_now"),
        ["node_tape_io_now{device=\"st0\"} 2"]
    );
    assert_eq!(
        family_lines(&text, "node_drbd_network_sent_bytes_total"),
        [
            "node_drbd_network_sent_bytes_total{device=\"drbd0\"} 1024",
            "node_drbd_network_sent_bytes_total{device=\"drbd1\"} 4096",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_drbd_connected"),
        [
            "node_drbd_connected{device=\"drbd0\"} 0",
            "node_drbd_connected{device=\"drbd1\"} 1",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_drbd_node_role_is_primary"),
        [
            "node_drbd_node_role_is_primary{device=\"drbd0\",node=\"local\"} 0",
            "node_drbd_node_role_is_primary{device=\"drbd0\",node=\"remote\"} 0",
        ]
    );
    assert!(family_lines(&text, "node_drbd_disk_written_bytes_total").is_empty());
    let logged: Vec<String> = host.logged().into_iter().map(|(_, m)| m).collect();
    assert_eq!(logged.len(), 3, "{logged:?}");
    assert!(
        logged[0].starts_with(
            "fibrechannel: /sys/class/fc_host/host2/statistics/tx_frames: invalid integer \"zz\""
        ),
        "{}",
        logged[0]
    );
    assert!(
        logged[1].starts_with(
            "tapestats: /sys/class/scsi_tape/st1/stats/read_ns: invalid integer \"x\""
        ),
        "{}",
        logged[1]
    );
    assert_eq!(
        logged[2],
        "drbd: /proc/drbd: drbd0: dw: \"x\" is not a number (and 1 more)"
    );
}

#[test]
fn a_host_without_any_source_costs_nothing_and_logs_nothing() {
    let tree = Tree::new("storage");
    let host = tree.host();
    assert_eq!(collect_text::<Storage>(&host, ALL_ON).unwrap(), "");
    assert!(host.logged().is_empty());
    // Nor does a host with the directories but nothing in them.
    tree.dir("sys/block")
        .dir("sys/class/nvme")
        .dir("sys/class/fc_host")
        .dir("sys/class/scsi_tape");
    let host = tree.host();
    assert_eq!(collect_text::<Storage>(&host, ALL_ON).unwrap(), "");
    assert!(host.logged().is_empty());
    // Nor a plugin granted neither root (the fixture has no roots at all).
    let host = Fixture::new().host();
    let error = collect_text::<Storage>(&host, ALL_ON)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not granted"), "{error}");
}

#[test]
fn every_part_can_be_turned_off_and_patterns_are_checked() {
    let tree = Tree::new("storage");
    tree.file("proc/mdstat", MDSTAT)
        .file("sys/class/scsi_tape/st0/stats/read_ns", "1\n");
    let off = r#"{"mdadm": {"enabled": false}, "dmmultipath": {"enabled": false}, "nvme": {"enabled": false}, "fibrechannel": {"enabled": false}, "tapestats": {"enabled": false}}"#;
    assert_eq!(collect_text::<Storage>(&tree.host(), off).unwrap(), "");
    let text =
        collect_text::<Storage>(&tree.host(), r#"{"tapestats": {"ignored_devices": "^st"}}"#)
            .unwrap();
    assert!(
        family_names(&text)
            .iter()
            .all(|f| f.starts_with("node_md_"))
    );
    let error = collect_text::<Storage>(&tree.host(), r#"{"tapestats": {"ignored_devices": "("}}"#)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("tapestats: invalid exclude pattern"),
        "{error}"
    );
    assert!(collect_text::<Storage>(&tree.host(), r#"{"md": {}}"#).is_err());
}
