//! sonde's end-to-end tests: the real host, real components, fixture trees of real `/proc` files.
//! One test binary with a module per area, to keep link time down.

mod agent;
mod api_compat;
mod cli;
mod collect_filter;
mod config_corpus;
mod cpu;
mod durability;
mod example_plugin;
mod hostile_network;
mod isolation;
mod kept_files;
mod live_node_exporter;
mod netns;
mod node_exporter_fixtures;
mod old_kernel;
mod prometheus;
mod remote_write;
mod security;
mod support;
mod systemd;
mod web_config;
