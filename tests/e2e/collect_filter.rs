//! `/metrics?collect[]=…` side by side with Debian's `prometheus-node-exporter` on this machine:
//! for every collector both run, the families each serves for that name agree (none of sonde's
//! belongs to another of node_exporter's collectors, none of node_exporter's is missing), only
//! that collector's `node_scrape_collector_*` series are served, and bad names get the same
//! status and body.

use crate::agent::Daemon;
use crate::support::{KillOnDrop, free_port, http_get_status, metric_name, parse_exposition};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// The `/metrics` answer of the exporter on `port` for `query` (`""` for none).
fn scrape(port: u16, query: &str) -> (u16, String) {
    http_get_status(port, &format!("/metrics{query}")).unwrap()
}

/// The collector families of an exposition: without the meta-metrics either exporter adds
/// (`node_scrape_collector_*`, node_exporter's build info and `promhttp_*`, sonde's `sonde_*`,
/// `process_*`).
fn collector_families(text: &str) -> BTreeSet<String> {
    parse_exposition(text)
        .keys()
        .map(|series| metric_name(series).to_owned())
        .filter(|name| {
            !name.starts_with("node_scrape_collector_")
                && !name.starts_with("sonde_")
                && !name.starts_with("process_")
                && !name.starts_with("promhttp_")
                && name != "node_exporter_build_info"
        })
        .collect()
}

/// The `collector` labels of `node_scrape_collector_success` in an exposition.
fn scraped_collectors(text: &str) -> BTreeSet<String> {
    parse_exposition(text)
        .keys()
        .filter_map(|series| series.strip_prefix("node_scrape_collector_success{collector=\""))
        .filter_map(|rest| rest.strip_suffix("\"}"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn collect_filters_as_node_exporter_does_for_the_same_names() {
    if !crate::support::peer_installed(NODE_EXPORTER, "prometheus-node-exporter") {
        return;
    }
    let exporter_port = free_port();
    let _exporter = KillOnDrop(
        Command::new(NODE_EXPORTER)
            .args(sonde::wasm::builtin::node_exporter_args(&format!(
                "127.0.0.1:{exporter_port}"
            )))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while http_get_status(exporter_port, "/metrics").is_err() {
        assert!(Instant::now() < deadline, "node_exporter did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sonde = Daemon::start("");
    sonde.wait_for(Duration::from_secs(60), |m| {
        m.contains_key("node_scrape_collector_success{collector=\"meminfo\"}")
    });

    let (_, theirs_all) = scrape(exporter_port, "");
    let theirs_all_families = collector_families(&theirs_all);
    let (_, ours_all) = scrape(sonde.port, "");
    let names: Vec<String> = scraped_collectors(&theirs_all)
        .intersection(&scraped_collectors(&ours_all))
        .cloned()
        .collect();
    assert!(names.len() >= 20, "too few collectors in common: {names:?}");
    for name in &names {
        let query = format!("?collect[]={name}");
        let (their_status, theirs) = scrape(exporter_port, &query);
        let (our_status, ours) = scrape(sonde.port, &query);
        assert_eq!((their_status, our_status), (200, 200), "{query}");
        let (theirs, ours) = (collector_families(&theirs), collector_families(&ours));
        // Each of node_exporter's families for the name is in sonde's, and sonde serves none
        // that node_exporter has under another collector.
        let missing: Vec<_> = theirs.difference(&ours).collect();
        assert!(missing.is_empty(), "{query}: sonde lacks {missing:?}");
        let foreign: Vec<_> = ours
            .iter()
            .filter(|f| theirs_all_families.contains(*f) && !theirs.contains(*f))
            .collect();
        assert!(foreign.is_empty(), "{query}: sonde adds {foreign:?}");
    }

    // Two names, one of them twice: both collectors' scrape series and nothing else.
    let query = "?collect[]=cpu&collect[]=meminfo&collect[]=cpu";
    let (their_status, theirs) = scrape(exporter_port, query);
    let (our_status, ours) = scrape(sonde.port, query);
    assert_eq!((their_status, our_status), (200, 200));
    let both: BTreeSet<String> = ["cpu", "meminfo"].map(str::to_owned).into();
    assert_eq!(scraped_collectors(&theirs), both);
    assert_eq!(scraped_collectors(&ours), both);
    assert_eq!(collector_families(&ours), {
        let cpu = collector_families(&scrape(sonde.port, "?collect[]=cpu").1);
        let meminfo = collector_families(&scrape(sonde.port, "?collect[]=meminfo").1);
        cpu.union(&meminfo).cloned().collect()
    });
    assert!(ours.contains("sonde_build_info"), "meta-metrics are kept");

    // Unknown names: a collector neither has, one both have but off (buddyinfo is off by
    // default in both), an empty name, and one bad name among good ones.
    for query in [
        "?collect[]=no_such_collector",
        "?collect[]=buddyinfo",
        "?collect[]=",
        "?collect[]=cpu&collect[]=nope",
    ] {
        let theirs = scrape(exporter_port, query);
        let ours = scrape(sonde.port, query);
        assert_eq!(theirs.0, 400, "{query}: {theirs:?}");
        assert_eq!(ours, theirs, "{query}");
    }
}
