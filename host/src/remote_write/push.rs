//! One-shot delivery of a cycle's samples to every endpoint, waiting for the outcome: what
//! `sonde collect --once` does when the config has `[[remote_write]]`.

use super::client::{Delivery, Endpoint};
use super::config::RemoteWriteConfig;
use super::encode::{SeriesSample, encode_batch};
use super::proto::MetricMetadata;
use super::queue::add_external_labels;
use sonde_sdk::Label;

/// What happened at one endpoint.
#[derive(Debug)]
pub struct PushOutcome {
    /// The endpoint's name.
    pub endpoint: String,
    /// Samples the receiver accepted.
    pub accepted: usize,
    /// Why some samples were not accepted, if any were not.
    pub error: Option<String>,
}

/// Sends `series` to each endpoint in batches of its `max_samples_per_send`, with its external
/// labels and (if `send_metadata`) the metadata, retrying for up to the endpoint's
/// `remote_timeout` in all.
pub async fn push(
    endpoints: &[RemoteWriteConfig],
    series: &[SeriesSample],
    metadata: &[MetricMetadata],
) -> Vec<PushOutcome> {
    let mut outcomes = Vec::new();
    for config in endpoints {
        let mut outcome = PushOutcome {
            endpoint: config.display_name().to_owned(),
            accepted: 0,
            error: None,
        };
        let endpoint = match Endpoint::new(config) {
            Ok(e) => e,
            Err(e) => {
                outcome.error = Some(format!("{e:#}"));
                outcomes.push(outcome);
                continue;
            }
        };
        let external: Vec<Label> = config
            .external_labels
            .iter()
            .map(|(name, value)| Label {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        let until = tokio::time::Instant::now() + config.remote_timeout.0;
        let mut scratch = Vec::new();
        for (i, chunk) in series.chunks(config.queue.max_samples_per_send).enumerate() {
            let batch: Vec<SeriesSample> = chunk
                .iter()
                .cloned()
                .map(|mut s| {
                    add_external_labels(&mut s.labels, &external);
                    s
                })
                .collect();
            let metadata = if config.send_metadata && i == 0 {
                metadata.to_vec()
            } else {
                Vec::new()
            };
            let body = encode_batch(&batch, &metadata, &mut scratch);
            match endpoint.send_with_retry(body, batch.len(), until).await {
                Delivery::Sent { .. } => outcome.accepted += batch.len(),
                Delivery::Rejected(reason) | Delivery::GaveUp(reason) => {
                    outcome.error = Some(reason);
                    break;
                }
            }
        }
        outcomes.push(outcome);
    }
    outcomes
}
