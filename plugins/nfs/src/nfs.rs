//! node_exporter's `nfs` collector: the NFS client's RPC statistics from `/proc/net/rpc/nfs`
//! (network packets and connections, RPC calls, and the calls of each NFSv2, v3 and v4 procedure).

use crate::rpc::{RpcFile, counted, exactly};
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The nfs part.
pub struct NfsClient;

const FILE: &str = "net/rpc/nfs";

/// The NFSv2 procedures in the order of the `proc2` columns (after the count), as procfs names
/// them (node_exporter reports every field of its struct, `Null` included).
pub const V2_PROCEDURES: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// The NFSv3 procedures in the order of the `proc3` columns.
pub const V3_PROCEDURES: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The NFSv4 client operations in the order of the `proc4` columns (procfs reads the first 59;
/// an older kernel's shorter line reads as 0 for the rest, a newer kernel's extra columns are
/// not reported).
pub const V4_CLIENT_OPERATIONS: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "GetDeviceInfo",
    "LayoutGet",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

impl Part for NfsClient {
    /// No file (no NFS client support loaded): no families. A malformed section's series are
    /// left out and fail the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, FILE)? else {
            return Ok(());
        };
        let mut file = RpcFile::parse(&text);
        collect_file(&mut file, out);
        file.skipped.result("/proc/net/rpc/nfs", true)
    }
}

fn collect_file(file: &mut RpcFile, out: &mut Vec<MetricFamily>) {
    if let Some(net) = file.section("net", None, exactly(4)) {
        let mut packets = MetricFamily::counter(
            "node_nfs_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
        );
        packets.sample(&[("protocol", "udp")], net.at(1) as f64);
        packets.sample(&[("protocol", "tcp")], net.at(2) as f64);
        out.push(packets);
        out.push(
            MetricFamily::counter(
                "node_nfs_connections_total",
                "Total number of NFSd TCP connections.",
            )
            .with_value(net.at(3) as f64),
        );
    }
    if let Some(rpc) = file.section("rpc", None, exactly(3)) {
        for (i, name, help) in [
            (0, "node_nfs_rpcs_total", "Total number of RPCs performed."),
            (
                1,
                "node_nfs_rpc_retransmissions_total",
                "Number of RPC transmissions performed.",
            ),
            (
                2,
                "node_nfs_rpc_authentication_refreshes_total",
                "Number of RPC authentication refreshes performed.",
            ),
        ] {
            out.push(MetricFamily::counter(name, help).with_value(rpc.at(i) as f64));
        }
    }
    let mut requests = MetricFamily::counter(
        "node_nfs_requests_total",
        "Number of NFS procedures invoked.",
    );
    let versions: [(&str, &str, usize, &[&str]); 3] = [
        ("proc2", "2", 18, &V2_PROCEDURES),
        ("proc3", "3", 22, &V3_PROCEDURES),
        ("proc4", "4", 0, &V4_CLIENT_OPERATIONS),
    ];
    for (key, proto, min, names) in versions {
        if let Some(values) = file.section(key, None, counted(min, false)) {
            for (i, method) in names.iter().enumerate() {
                requests.sample(
                    &[("proto", proto), ("method", method)],
                    values.at(i + 1) as f64,
                );
            }
        }
    }
    out.push(requests);
}
