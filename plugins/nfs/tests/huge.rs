//! A host with 2,000 NFS mounts: a generated `/proc/self/mountstats` (NFSv3 over two TCP
//! connections, four operations each) and its mountinfo. Asserts the series count and
//! prints the native collection time (`cargo test -p sonde-plugin-nfs --test huge -- --nocapture`).

use sonde_plugin_nfs::Nfs;
use sonde_plugin_nfs::mountstats::MountStats;
use sonde_sdk::Root;
use sonde_sdk::bundle::Part;
use sonde_sdk::testing::{Fixture, Instance};
use std::fmt::Write;
use std::time::Instant;

const MOUNTS: usize = 2000;

/// The operations of each mount: a few, so that the test stays fast in a debug build (a real
/// NFSv3 mount lists 22, an NFSv4 one about 60; the series grow by 8 per operation).
const OPERATIONS: [&str; 4] = ["NULL", "GETATTR", "READ", "WRITE"];

fn generate() -> (String, String) {
    let mut stats = String::from("device rootfs mounted on / with fstype rootfs\n");
    let mut info = String::from("1 0 0:5 / / rw - rootfs rootfs rw\n");
    for m in 0..MOUNTS {
        let server = format!("10.0.{}.{}", m / 250, m % 250);
        writeln!(
            stats,
            "device {server}:/export/vol{m} mounted on /mnt/vol{m} with fstype nfs statvers=1.1"
        )
        .unwrap();
        writeln!(
            stats,
            "\topts:\trw,vers=3,nconnect=2,proto=tcp,addr={server}"
        )
        .unwrap();
        writeln!(stats, "\tage:\t{}", 1000 + m).unwrap();
        writeln!(
            stats,
            "\tcaps:\tcaps=0x3fef,wtmult=512,dtsize=1048576,bsize=0,namlen=255"
        )
        .unwrap();
        writeln!(stats, "\tsec:\tflavor=1,pseudoflavor=1").unwrap();
        let events: Vec<String> = (0..27).map(|i| (m * 27 + i).to_string()).collect();
        writeln!(stats, "\tevents:\t{}", events.join(" ")).unwrap();
        writeln!(stats, "\tbytes:\t{m} 1 2 3 4 5 6 7").unwrap();
        writeln!(stats, "\tRPC iostats version: 1.1  p/v: 100003/3 (nfs)").unwrap();
        for port in [801, 802] {
            writeln!(stats, "\txprt:\ttcp {port} 1 2 0 3 4 5 6 7 8 9 10 11").unwrap();
        }
        writeln!(stats, "\tper-op statistics").unwrap();
        for (i, op) in OPERATIONS.iter().enumerate() {
            writeln!(
                stats,
                "\t{op:>12}: {i} {i} 0 {} {} 1 2 3 0",
                i * 100,
                i * 200
            )
            .unwrap();
        }
        stats.push('\n');
        writeln!(
            info,
            "{} 1 0:{} / /mnt/vol{m} rw,relatime shared:{} - nfs {server}:/export/vol{m} rw,vers=3,nconnect=2,proto=tcp,addr={server}",
            100 + m,
            50 + m,
            200 + m
        )
        .unwrap();
    }
    (stats, info)
}

#[test]
fn two_thousand_nfs_mounts() {
    let (stats, info) = generate();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("4242")).unwrap();
    std::os::unix::fs::symlink("4242", dir.path().join("self")).unwrap();
    std::fs::write(dir.path().join("4242/mountstats"), &stats).unwrap();
    std::fs::write(dir.path().join("4242/mountinfo"), &info).unwrap();
    let host = Fixture::new().root(Root::Proc, dir.path()).host();

    // The part alone: reading, parsing, building the families.
    let start = Instant::now();
    let mut out = Vec::new();
    MountStats.collect(&host, &mut out).unwrap();
    let native = start.elapsed();
    // Per mount: 35 mount series, 1 mountpoint info, 10 per transport, 8 per operation.
    let per_mount = 35 + 1 + 2 * 10 + OPERATIONS.len() * 8;
    let series: usize = out.iter().map(|f| f.samples.len()).sum();
    assert_eq!(out.len(), 54);
    assert_eq!(series, MOUNTS * per_mount);

    // Through the harness, as the agent runs it (validation, sorting).
    let start = Instant::now();
    let mut instance = Instance::<Nfs>::new(r#"{"mountstats": {"enabled": true}}"#).unwrap();
    let families = instance.collect(&host).unwrap();
    let harness = start.elapsed();
    assert_eq!(
        families.iter().map(|f| f.samples.len()).sum::<usize>(),
        MOUNTS * per_mount
    );
    assert!(host.logged().is_empty());
    eprintln!(
        "{MOUNTS} NFS mounts: mountstats {} bytes, mountinfo {} bytes, {series} series; \
         part {native:?}, with validation and sorting {harness:?} (this build's profile)",
        stats.len(),
        info.len()
    );
}
