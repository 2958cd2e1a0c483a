//! node_exporter's `infiniband` collector: `node_infiniband_info{device,board_id,
//! firmware_version,hca_type}` and, per port, its state, physical state, rate and the counters
//! of `/sys/class/infiniband/<device>/ports/<port>/{counters,counters_ext,hw_counters}/`, read as
//! procfs' `sysfs.InfiniBandClass` reads them.
//!
//! * `fw_ver` is required, `board_id` and `hca_type` are optional (empty labels), and each port
//!   needs `state`, `phys_state` and `rate`.
//! * A counter file the HCA does not have gives no series; one that reads `N/A (no PMA)` (ports
//!   without a performance management agent), or that the kernel refuses (EINVAL, EOPNOTSUPP,
//!   permission), is skipped quietly. `port_{rcv,xmit}_data` and their `_64` variants count 32-bit
//!   words of the 4 lanes and are multiplied by 4; `hw_counters/lifespan` (ms) becomes seconds.
//!
//! node_exporter fails the whole collector on the first unreadable or malformed file; here only
//! what that file feeds is left out (a device without `fw_ver` or `ports/`, a port with a
//! malformed `state`, one counter), the rest is reported and the part fails naming the file.

use sonde_procfs::net_class::is_unavailable;
use sonde_procfs::numbers::parse_u64;
use sonde_sdk::bundle::Part;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily, MetricKind, Root};
use std::collections::BTreeMap;

/// `infiniband = { … }`: `--collector.infiniband` and its `device-include` / `device-exclude` flags.
pub type Config = crate::DeviceFilter;

/// The infiniband part.
pub struct InfiniBand {
    devices: NameFilter,
}

impl InfiniBand {
    /// Checks the config's patterns (node_exporter applies both when both are set).
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(InfiniBand {
            devices: NameFilter::new(&config.device_include, &config.device_exclude)?,
        })
    }
}

/// The directory of the devices, below the sysfs root.
const CLASS_DIR: &str = "class/infiniband";

/// A counter file: its directory below the port, its name, the metric (without
/// `node_infiniband_`), and whether it counts per lane (multiplied by 4).
type CounterFile = (&'static str, &'static str, &'static str, bool);

const COUNTERS: [CounterFile; 60] = [
    (
        "counters_ext",
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        false,
    ),
    (
        "counters_ext",
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        false,
    ),
    (
        "counters_ext",
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        true,
    ),
    (
        "counters_ext",
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        false,
    ),
    (
        "counters_ext",
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        false,
    ),
    (
        "counters_ext",
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        false,
    ),
    (
        "counters_ext",
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        true,
    ),
    (
        "counters_ext",
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        false,
    ),
    (
        "counters",
        "excessive_buffer_overrun_errors",
        "excessive_buffer_overrun_errors_total",
        false,
    ),
    ("counters", "link_downed", "link_downed_total", false),
    (
        "counters",
        "link_error_recovery",
        "link_error_recovery_total",
        false,
    ),
    (
        "counters",
        "local_link_integrity_errors",
        "local_link_integrity_errors_total",
        false,
    ),
    (
        "counters",
        "multicast_rcv_packets",
        "multicast_packets_received_total",
        false,
    ),
    (
        "counters",
        "multicast_xmit_packets",
        "multicast_packets_transmitted_total",
        false,
    ),
    (
        "counters",
        "port_rcv_constraint_errors",
        "port_constraint_errors_received_total",
        false,
    ),
    (
        "counters",
        "port_xmit_constraint_errors",
        "port_constraint_errors_transmitted_total",
        false,
    ),
    (
        "counters",
        "port_rcv_data",
        "port_data_received_bytes_total",
        true,
    ),
    (
        "counters",
        "port_xmit_data",
        "port_data_transmitted_bytes_total",
        true,
    ),
    (
        "counters",
        "port_rcv_discards",
        "port_discards_received_total",
        false,
    ),
    (
        "counters",
        "port_xmit_discards",
        "port_discards_transmitted_total",
        false,
    ),
    (
        "counters",
        "port_rcv_errors",
        "port_errors_received_total",
        false,
    ),
    (
        "counters",
        "port_rcv_packets",
        "port_packets_received_total",
        false,
    ),
    (
        "counters",
        "port_xmit_packets",
        "port_packets_transmitted_total",
        false,
    ),
    (
        "counters",
        "port_xmit_wait",
        "port_transmit_wait_total",
        false,
    ),
    (
        "counters",
        "unicast_rcv_packets",
        "unicast_packets_received_total",
        false,
    ),
    (
        "counters",
        "unicast_xmit_packets",
        "unicast_packets_transmitted_total",
        false,
    ),
    (
        "counters",
        "port_rcv_remote_physical_errors",
        "port_receive_remote_physical_errors_total",
        false,
    ),
    (
        "counters",
        "port_rcv_switch_relay_errors",
        "port_receive_switch_relay_errors_total",
        false,
    ),
    ("counters", "symbol_error", "symbol_error_total", false),
    ("counters", "VL15_dropped", "vl15_dropped_total", false),
    ("hw_counters", "lifespan", "lifespan_seconds", false),
    (
        "hw_counters",
        "duplicate_request",
        "duplicate_requests_packets_total",
        false,
    ),
    (
        "hw_counters",
        "implied_nak_seq_err",
        "implied_nak_seq_errors_total",
        false,
    ),
    (
        "hw_counters",
        "local_ack_timeout_err",
        "local_ack_timeout_errors_total",
        false,
    ),
    (
        "hw_counters",
        "np_cnp_sent",
        "np_cnp_packets_sent_total",
        false,
    ),
    (
        "hw_counters",
        "np_ecn_marked_roce_packets",
        "np_ecn_marked_roce_packets_received_total",
        false,
    ),
    (
        "hw_counters",
        "out_of_buffer",
        "out_of_buffer_drops_total",
        false,
    ),
    (
        "hw_counters",
        "out_of_sequence",
        "out_of_sequence_packets_received_total",
        false,
    ),
    (
        "hw_counters",
        "packet_seq_err",
        "packet_sequence_errors_total",
        false,
    ),
    (
        "hw_counters",
        "req_cqe_error",
        "req_cqes_errors_total",
        false,
    ),
    (
        "hw_counters",
        "req_cqe_flush_error",
        "req_cqes_flush_errors_total",
        false,
    ),
    (
        "hw_counters",
        "req_remote_access_errors",
        "req_remote_access_errors_total",
        false,
    ),
    (
        "hw_counters",
        "req_remote_invalid_request",
        "req_remote_invalid_request_errors_total",
        false,
    ),
    (
        "hw_counters",
        "resp_cqe_error",
        "resp_cqes_errors_total",
        false,
    ),
    (
        "hw_counters",
        "resp_cqe_flush_error",
        "resp_cqes_flush_errors_total",
        false,
    ),
    (
        "hw_counters",
        "resp_local_length_error",
        "resp_local_length_errors_total",
        false,
    ),
    (
        "hw_counters",
        "resp_remote_access_errors",
        "resp_remote_access_errors_total",
        false,
    ),
    (
        "hw_counters",
        "rnr_nak_retry_err",
        "rnr_nak_retry_packets_received_total",
        false,
    ),
    (
        "hw_counters",
        "roce_adp_retrans",
        "roce_adp_retransmits_total",
        false,
    ),
    (
        "hw_counters",
        "roce_adp_retrans_to",
        "roce_adp_retransmits_timeout_total",
        false,
    ),
    (
        "hw_counters",
        "roce_slow_restart",
        "roce_slow_restart_used_total",
        false,
    ),
    (
        "hw_counters",
        "roce_slow_restart_cnps",
        "roce_slow_restart_cnps_total",
        false,
    ),
    (
        "hw_counters",
        "roce_slow_restart_trans",
        "roce_slow_restart_total",
        false,
    ),
    (
        "hw_counters",
        "rp_cnp_handled",
        "rp_cnp_packets_handled_total",
        false,
    ),
    (
        "hw_counters",
        "rp_cnp_ignored",
        "rp_cnp_ignored_packets_received_total",
        false,
    ),
    (
        "hw_counters",
        "rx_atomic_requests",
        "rx_atomic_requests_total",
        false,
    ),
    (
        "hw_counters",
        "rx_dct_connect",
        "rx_dct_connect_requests_total",
        false,
    ),
    (
        "hw_counters",
        "rx_read_requests",
        "rx_read_requests_total",
        false,
    ),
    (
        "hw_counters",
        "rx_write_requests",
        "rx_write_requests_total",
        false,
    ),
    (
        "hw_counters",
        "rx_icrc_encapsulated",
        "rx_icrc_encapsulated_errors_total",
        false,
    ),
];

/// node_exporter's HELP for each metric (without `node_infiniband_`).
const HELP: [(&str, &str); 63] = [
    (
        "legacy_multicast_packets_received_total",
        "Number of multicast packets received",
    ),
    (
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted",
    ),
    (
        "legacy_data_received_bytes_total",
        "Number of data octets received on all links",
    ),
    (
        "legacy_packets_received_total",
        "Number of data packets received on all links",
    ),
    (
        "legacy_unicast_packets_received_total",
        "Number of unicast packets received",
    ),
    (
        "legacy_unicast_packets_transmitted_total",
        "Number of unicast packets transmitted",
    ),
    (
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
    ),
    (
        "legacy_packets_transmitted_total",
        "Number of data packets received on all links",
    ),
    (
        "excessive_buffer_overrun_errors_total",
        "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.",
    ),
    (
        "link_downed_total",
        "Number of times the link failed to recover from an error state and went down",
    ),
    (
        "link_error_recovery_total",
        "Number of times the link successfully recovered from an error state",
    ),
    (
        "local_link_integrity_errors_total",
        "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.",
    ),
    (
        "multicast_packets_received_total",
        "Number of multicast packets received (including errors)",
    ),
    (
        "multicast_packets_transmitted_total",
        "Number of multicast packets transmitted (including errors)",
    ),
    (
        "physical_state_id",
        "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
    ),
    (
        "port_constraint_errors_received_total",
        "Number of packets received on the switch physical port that are discarded",
    ),
    (
        "port_constraint_errors_transmitted_total",
        "Number of packets not transmitted from the switch physical port",
    ),
    (
        "port_data_received_bytes_total",
        "Number of data octets received on all links",
    ),
    (
        "port_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
    ),
    (
        "port_discards_received_total",
        "Number of inbound packets discarded by the port because the port is down or congested",
    ),
    (
        "port_discards_transmitted_total",
        "Number of outbound packets discarded by the port because the port is down or congested",
    ),
    (
        "port_errors_received_total",
        "Number of packets containing an error that were received on this port",
    ),
    (
        "port_packets_received_total",
        "Number of packets received on all VLs by this port (including errors)",
    ),
    (
        "port_packets_transmitted_total",
        "Number of packets transmitted on all VLs from this port (including errors)",
    ),
    (
        "port_transmit_wait_total",
        "Number of ticks during which the port had data to transmit but no data was sent during the entire tick",
    ),
    ("rate_bytes_per_second", "Maximum signal transfer rate"),
    (
        "state_id",
        "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
    ),
    (
        "unicast_packets_received_total",
        "Number of unicast packets received (including errors)",
    ),
    (
        "unicast_packets_transmitted_total",
        "Number of unicast packets transmitted (including errors)",
    ),
    (
        "port_receive_remote_physical_errors_total",
        "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.",
    ),
    (
        "port_receive_switch_relay_errors_total",
        "Number of packets that could not be forwarded by the switch.",
    ),
    (
        "symbol_error_total",
        "Number of minor link errors detected on one or more physical lanes.",
    ),
    (
        "vl15_dropped_total",
        "Number of incoming VL15 packets dropped due to resource limitations.",
    ),
    (
        "duplicate_requests_packets_total",
        "The number of received packets. A duplicate request is a request that had been previously executed.",
    ),
    (
        "implied_nak_seq_errors_total",
        "The number of time the requested decided an ACK. with a PSN larger than the expected PSN for an RDMA read or response.",
    ),
    (
        "lifespan_seconds",
        "The maximum period in ms which defines the aging of the counter reads. Two consecutive reads within this period might return the same values.",
    ),
    (
        "local_ack_timeout_errors_total",
        "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP retry limit was not exceed, therefore it is still recoverable error.",
    ),
    (
        "np_cnp_packets_sent_total",
        "The number of CNP packets sent by the Notification Point when it noticed congestion experienced in the RoCEv2 IP header (ECN bits). The counters was added in MLNX_OFED 4.1",
    ),
    (
        "np_ecn_marked_roce_packets_received_total",
        "The number of RoCEv2 packets received by the notification point which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) . The counters was added in MLNX_OFED 4.1",
    ),
    (
        "out_of_buffer_drops_total",
        "The number of drops occurred due to lack of WQE for the associated QPs.",
    ),
    (
        "out_of_sequence_packets_received_total",
        "The number of out of sequence packets received.",
    ),
    (
        "packet_sequence_errors_total",
        "The number of received NAK sequence error packets. The QP retry limit was not exceeded.",
    ),
    (
        "req_cqes_errors_total",
        "The number of times requester detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "req_cqes_flush_errors_total",
        "The number of times requester detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "req_remote_access_errors_total",
        "The number of times requester detected remote access errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "req_remote_invalid_request_errors_total",
        "The number of times requester detected remote invalid request errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "resp_cqes_errors_total",
        "The number of times responder detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "resp_cqes_flush_errors_total",
        "The number of times responder detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "resp_local_length_errors_total",
        "The number of times responder detected local length errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "resp_remote_access_errors_total",
        "The number of times responder detected remote access errors. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "rnr_nak_retry_packets_received_total",
        "The number of received RNR NAK packets. The QP retry limit was not exceeded.",
    ),
    (
        "roce_adp_retransmits_total",
        "The number of adaptive retransmissions for RoCE traffic. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    (
        "roce_adp_retransmits_timeout_total",
        "The number of times RoCE traffic reached timeout due to adaptive retransmission. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    (
        "roce_slow_restart_used_total",
        "The number of times RoCE slow restart was used. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    (
        "roce_slow_restart_cnps_total",
        "The number of times RoCE slow restart generated CNP packets. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    (
        "roce_slow_restart_total",
        "The number of times RoCE slow restart changed state to slow restart. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    (
        "rp_cnp_packets_handled_total",
        "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission rate. The counters was added in MLNX_OFED 4.1",
    ),
    (
        "rp_cnp_ignored_packets_received_total",
        "The number of CNP packets received and ignored by the Reaction Point HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter raise, verify that ECN was enabled on the adapter.",
    ),
    (
        "rx_atomic_requests_total",
        "The number of received ATOMIC request for the associated QPs.",
    ),
    (
        "rx_dct_connect_requests_total",
        "The number of received connection requests for the associated DCTs.",
    ),
    (
        "rx_read_requests_total",
        "The number of received READ requests for the associated QPs.",
    ),
    (
        "rx_write_requests_total",
        "The number of received WRITE requests for the associated QPs.",
    ),
    (
        "rx_icrc_encapsulated_errors_total",
        "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and kernel 4.19",
    ),
];

/// The families of one collection, by metric (without `node_infiniband_`).
struct Families(BTreeMap<&'static str, MetricFamily>);

impl Families {
    fn new() -> Self {
        Families(
            HELP.iter()
                .map(|(name, help)| {
                    let kind = if name.ends_with("_total") {
                        MetricKind::Counter
                    } else {
                        MetricKind::Gauge
                    };
                    (
                        *name,
                        MetricFamily::new(format!("node_infiniband_{name}"), *help, kind),
                    )
                })
                .collect(),
        )
    }

    fn sample(&mut self, metric: &str, device: &str, port: &str, value: u64) {
        if let Some(family) = self.0.get_mut(metric) {
            family.sample(&[("device", device), ("port", port)], value as f64);
        }
    }
}

impl Part for InfiniBand {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let devices = match host.read_dir(Root::Sys, CLASS_DIR) {
            Ok(devices) => devices,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(Error::msg(format!("reading /sys/{CLASS_DIR}: {e}"))),
        };
        let mut info = MetricFamily::gauge(
            "node_infiniband_info",
            "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
        );
        let mut families = Families::new();
        let mut problems = Vec::new();
        for device in devices.iter().filter(|d| self.devices.kept(&d.name)) {
            let name = &device.name;
            let dir = format!("{CLASS_DIR}/{name}");
            let attrs = match device_attributes(host, &dir) {
                Ok(attrs) => attrs,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            let ports = match host.read_dir(Root::Sys, &format!("{dir}/ports")) {
                Ok(ports) => ports,
                Err(e) => {
                    problems.push(format!("reading /sys/{dir}/ports: {e}"));
                    continue;
                }
            };
            info.sample(
                &[
                    ("device", name),
                    ("board_id", &attrs[1]),
                    ("firmware_version", &attrs[0]),
                    ("hca_type", &attrs[2]),
                ],
                1.0,
            );
            // Ports by number, as procfs keys them (`01` and `1` are one port).
            let mut numbered = BTreeMap::new();
            for port in &ports {
                match parse_uint(&port.name) {
                    Some(number) => {
                        numbered.insert(number, &port.name);
                    }
                    None => problems.push(format!(
                        "/sys/{dir}/ports: port {:?} is not a number",
                        port.name
                    )),
                }
            }
            for (number, port) in numbered {
                let port_dir = format!("{dir}/ports/{port}");
                let port_label = number.to_string();
                collect_port(
                    host,
                    &port_dir,
                    name,
                    &port_label,
                    &mut families,
                    &mut problems,
                );
            }
        }
        out.push(info);
        out.extend(families.0.into_values());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(problems.join("; ")))
        }
    }
}

/// `fw_ver` (required), `board_id` and `hca_type` (empty when absent) of the device in `dir`.
fn device_attributes(host: &Host, dir: &str) -> Result<[String; 3], String> {
    let names = ["fw_ver", "board_id", "hca_type"];
    let paths: Vec<String> = names.iter().map(|n| format!("{dir}/{n}")).collect();
    let mut attrs: [String; 3] = Default::default();
    for (i, (path, read)) in paths
        .iter()
        .zip(host.read_many(Root::Sys, &paths))
        .enumerate()
    {
        match read {
            Ok(bytes) => attrs[i] = attribute_text(&bytes),
            Err(FsError::NotFound) if i > 0 => {}
            Err(e) => return Err(format!("reading /sys/{path}: {e}")),
        }
    }
    Ok(attrs)
}

/// Reads one port's state, rate and counters into `families`.
fn collect_port(
    host: &Host,
    dir: &str,
    device: &str,
    port: &str,
    families: &mut Families,
    problems: &mut Vec<String>,
) {
    let names = ["state", "phys_state", "rate"];
    let paths: Vec<String> = names.iter().map(|n| format!("{dir}/{n}")).collect();
    let mut values = [0u64; 3];
    for (i, (path, read)) in paths
        .iter()
        .zip(host.read_many(Root::Sys, &paths))
        .enumerate()
    {
        let text = match read {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                problems.push(format!("reading /sys/{path}: {e}"));
                return;
            }
        };
        let parsed = if i < 2 {
            parse_state(&text)
        } else {
            parse_rate(&text)
        };
        match parsed {
            Some(value) => values[i] = value,
            None => {
                problems.push(format!("/sys/{path}: cannot parse {text:?}"));
                return;
            }
        }
    }
    families.sample("state_id", device, port, values[0]);
    families.sample("physical_state_id", device, port, values[1]);
    families.sample("rate_bytes_per_second", device, port, values[2]);

    for counters in ["counters", "counters_ext", "hw_counters"] {
        let counters_dir = format!("{dir}/{counters}");
        let files = match host.read_dir(Root::Sys, &counters_dir) {
            Ok(files) => files,
            Err(FsError::NotFound) => continue,
            Err(e) => {
                problems.push(format!("reading /sys/{counters_dir}: {e}"));
                continue;
            }
        };
        // The files this collector knows, that the HCA has.
        let known: Vec<&CounterFile> = COUNTERS
            .iter()
            .filter(|(d, file, _, _)| {
                *d == counters
                    && files
                        .iter()
                        .any(|f| f.kind == EntryKind::File && f.name == *file)
            })
            .collect();
        let paths: Vec<String> = known
            .iter()
            .map(|(_, file, _, _)| format!("{counters_dir}/{file}"))
            .collect();
        for ((path, (_, _, metric, per_lane)), read) in paths
            .iter()
            .zip(known)
            .zip(host.read_many(Root::Sys, &paths))
        {
            let text = match read {
                Ok(bytes) => attribute_text(&bytes),
                Err(e) if is_unavailable(&e) => continue,
                Err(e) => {
                    problems.push(format!("reading /sys/{path}: {e}"));
                    continue;
                }
            };
            match parse_u64(&text) {
                Ok(value) => {
                    let value = match (*per_lane, *metric) {
                        (true, _) => value.wrapping_mul(4),
                        (false, "lifespan_seconds") => value / 1000,
                        _ => value,
                    };
                    families.sample(metric, device, port, value);
                }
                // A port without a performance management agent.
                Err(_) if text.contains("N/A (no PMA)") => {}
                Err(_) => problems.push(format!("/sys/{path}: invalid counter {text:?}")),
            }
        }
    }
}

/// A sysfs attribute as procfs' `SysReadFile` reads it: its first 128 bytes, trimmed.
fn attribute_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(128)])
        .trim()
        .to_owned()
}

/// A decimal number as Go's `ParseUint(s, 10, 32)` reads it: digits only.
fn parse_uint(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The id of a `state` or `phys_state` file: `4: ACTIVE` is 4.
fn parse_state(text: &str) -> Option<u64> {
    let mut parts = text.split(':');
    let (id, _name) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    parse_uint(id.trim()).map(u64::from)
}

/// A `rate` file (`40 Gb/sec (4X QDR)`) in bytes per second, computed as procfs does: the number
/// before the first space read as a 32-bit float, times 125000000, truncated.
fn parse_rate(text: &str) -> Option<u64> {
    let (gbits, _) = text.split_once(' ')?;
    let gbits: f32 = gbits.trim().parse().ok()?;
    Some((f64::from(gbits) * 125_000_000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_rates() {
        assert_eq!(parse_state("4: ACTIVE\n"), Some(4));
        assert_eq!(parse_state("5: LinkUp"), Some(5));
        assert_eq!(parse_state("ACTIVE"), None);
        assert_eq!(parse_state("4: A: B"), None);
        assert_eq!(parse_state("+4: ACTIVE"), None);
        assert_eq!(parse_rate("40 Gb/sec (4X QDR)\n"), Some(5_000_000_000));
        assert_eq!(parse_rate("10 Gb/sec (4X)"), Some(1_250_000_000));
        assert_eq!(parse_rate("2.5 Gb/sec (1X SDR)"), Some(312_500_000));
        // float32 precision, as procfs: 0.1 is 0.100000001490116…
        assert_eq!(parse_rate("0.1 Gb/sec"), Some(12_500_000));
        assert_eq!(parse_rate("40"), None);
        assert_eq!(parse_rate("fast Gb/sec"), None);
    }

    #[test]
    fn every_metric_has_help() {
        for (_, _, metric, _) in COUNTERS {
            assert!(HELP.iter().any(|(m, _)| *m == metric), "{metric}");
        }
    }
}
