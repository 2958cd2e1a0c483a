//! node_exporter's `nfsd` collector: the NFS server's statistics from `/proc/net/rpc/nfsd`
//! (reply cache, file handles, disk I/O, threads, read-ahead cache, network, RPC errors, and the
//! calls of each NFSv2 and v3 procedure and NFSv4 operation).

use crate::nfs::{V2_PROCEDURES, V3_PROCEDURES};
use crate::rpc::{RpcFile, counted, exactly};
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The nfsd part.
pub struct NfsServer;

const FILE: &str = "net/rpc/nfsd";

/// The NFSv4 operations node_exporter reports, with their column in `proc4ops` (the count is
/// column 0). `RelLockOwner` is column 40, which kernels before 2.6 lack (it reads 0 then).
const V4_OPERATIONS: [(&str, usize); 35] = [
    ("Access", 4),
    ("Close", 5),
    ("Commit", 6),
    ("Create", 7),
    ("DelegPurge", 8),
    ("DelegReturn", 9),
    ("GetAttr", 10),
    ("GetFH", 11),
    ("Link", 12),
    ("Lock", 13),
    ("Lockt", 14),
    ("Locku", 15),
    ("Lookup", 16),
    ("LookupRoot", 17),
    ("Nverify", 18),
    ("Open", 19),
    ("OpenAttr", 20),
    ("OpenConfirm", 21),
    ("OpenDgrd", 22),
    ("PutFH", 23),
    ("Read", 26),
    ("ReadDir", 27),
    ("ReadLink", 28),
    ("Remove", 29),
    ("Rename", 30),
    ("Renew", 31),
    ("RestoreFH", 32),
    ("SaveFH", 33),
    ("SecInfo", 34),
    ("SetAttr", 35),
    ("SetClientID", 36),
    ("SetClientIDConfirm", 37),
    ("Verify", 38),
    ("Write", 39),
    ("RelLockOwner", 40),
];

fn counter(name: &str, help: &str, value: u64) -> MetricFamily {
    MetricFamily::counter(name, help).with_value(value as f64)
}

impl Part for NfsServer {
    /// No file (no NFS server running or loaded): no families. A malformed section's series are
    /// left out and fail the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, FILE)? else {
            return Ok(());
        };
        let mut file = RpcFile::parse(&text);
        collect_file(&mut file, out);
        file.skipped.result("/proc/net/rpc/nfsd", true)
    }
}

fn collect_file(file: &mut RpcFile, out: &mut Vec<MetricFamily>) {
    if let Some(rc) = file.section("rc", None, exactly(3)) {
        out.push(counter(
            "node_nfsd_reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            rc.at(0),
        ));
        out.push(counter(
            "node_nfsd_reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            rc.at(1),
        ));
        out.push(counter(
            "node_nfsd_reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
            rc.at(2),
        ));
    }
    if let Some(fh) = file.section("fh", None, exactly(5)) {
        out.push(counter(
            "node_nfsd_file_handles_stale_total",
            "Total number of NFSd stale file handles",
            fh.at(0),
        ));
    }
    if let Some(io) = file.section("io", None, exactly(2)) {
        out.push(counter(
            "node_nfsd_disk_bytes_read_total",
            "Total NFSd bytes read.",
            io.at(0),
        ));
        out.push(counter(
            "node_nfsd_disk_bytes_written_total",
            "Total NFSd bytes written.",
            io.at(1),
        ));
    }
    // `th <threads> <fullcnt> <histogram of floats…>`: procfs reads the first two columns.
    if let Some(th) = file.section("th", Some(2), exactly(2)) {
        out.push(
            MetricFamily::gauge(
                "node_nfsd_server_threads",
                "Total number of NFSd kernel threads that are running.",
            )
            .with_value(th.at(0) as f64),
        );
    }
    if let Some(ra) = file.section("ra", None, exactly(12)) {
        out.push(
            MetricFamily::gauge(
                "node_nfsd_read_ahead_cache_size_blocks",
                "How large the read ahead cache is in blocks.",
            )
            .with_value(ra.at(0) as f64),
        );
        out.push(counter(
            "node_nfsd_read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            ra.at(11),
        ));
    }
    if let Some(net) = file.section("net", None, exactly(4)) {
        let mut packets = MetricFamily::counter(
            "node_nfsd_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
        );
        packets.sample(&[("proto", "udp")], net.at(1) as f64);
        packets.sample(&[("proto", "tcp")], net.at(2) as f64);
        out.push(packets);
        out.push(counter(
            "node_nfsd_connections_total",
            "Total number of NFSd TCP connections.",
            net.at(3),
        ));
    }
    if let Some(rpc) = file.section("rpc", None, exactly(5)) {
        let mut errors = MetricFamily::counter(
            "node_nfsd_rpc_errors_total",
            "Total number of NFSd RPC errors by error type.",
        );
        errors.sample(&[("error", "fmt")], rpc.at(2) as f64);
        errors.sample(&[("error", "auth")], rpc.at(3) as f64);
        errors.sample(&[("error", "cInt")], rpc.at(4) as f64);
        out.push(errors);
        out.push(counter(
            "node_nfsd_server_rpcs_total",
            "Total number of NFSd RPCs.",
            rpc.at(0),
        ));
    }
    let mut requests = MetricFamily::counter(
        "node_nfsd_requests_total",
        "Total number NFSd Requests by method and protocol.",
    );
    // node_exporter leaves out the Null procedures of v2 and v3.
    let versions: [(&str, &str, usize, &[&str]); 2] = [
        ("proc2", "2", 18, &V2_PROCEDURES),
        ("proc3", "3", 22, &V3_PROCEDURES),
    ];
    for (key, proto, min, names) in versions {
        if let Some(values) = file.section(key, None, counted(min, false)) {
            for (i, method) in names.iter().enumerate().skip(1) {
                requests.sample(
                    &[("proto", proto), ("method", method)],
                    values.at(i + 1) as f64,
                );
            }
        }
    }
    // Not reported, but checked as procfs does (`proc4 2 <null> <compound>`).
    let _ = file.section("proc4", None, counted(2, true));
    if let Some(ops) = file.section("proc4ops", None, counted(39, false)) {
        for (method, column) in V4_OPERATIONS {
            requests.sample(&[("proto", "4"), ("method", method)], ops.at(column) as f64);
        }
    }
    if let Some(wdeleg) = file.section("wdeleg_getattr", None, |_| None) {
        requests.sample(
            &[("proto", "4"), ("method", "WdelegGetattr")],
            wdeleg.at(0) as f64,
        );
    }
    out.push(requests);
}
