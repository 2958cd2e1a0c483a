//! The WebAssembly side of [`crate::export!`]: converts between the SDK's types and the generated
//! bindings, and keeps the instance's collector. Not public API.

use crate::__bindings::sonde::collector::types as wit;
use crate::{Capability, Collector, Host};
use std::cell::RefCell;

/// `describe` of the `collector` interface for `C`.
pub fn describe<C: Collector>() -> wit::PluginInfo {
    let d = C::describe();
    wit::PluginInfo {
        name: d.name,
        version: d.version,
        summary: d.summary,
        needs: d
            .needs
            .into_iter()
            .map(|c| match c {
                Capability::Proc => wit::Capability::Proc,
                Capability::Sys => wit::Capability::Sys,
                Capability::Rootfs => wit::Capability::Rootfs,
                Capability::Statfs => wit::Capability::Statfs,
                Capability::Timex => wit::Capability::Timex,
                Capability::Systemd => wit::Capability::Systemd,
            })
            .collect(),
        default_config: crate::default_config_json::<C>(),
    }
}

/// The collector of an instance: none until `configure` succeeds.
pub struct Slot<C>(RefCell<Option<C>>);

impl<C: Collector> Slot<C> {
    /// An empty slot.
    pub const fn empty() -> Self {
        Slot(RefCell::new(None))
    }

    /// `configure`: drops the collector built before (so the old and the new one never hold
    /// memory together) and builds one from `config`.
    pub fn configure(&self, config: &str) -> Result<(), String> {
        let mut slot = self.0.borrow_mut();
        *slot = None;
        *slot = Some(crate::build::<C>(config).map_err(|e| e.to_string())?);
        Ok(())
    }

    /// `collect`: one collection, the families in one buffer (`sonde_wire::encoding`).
    pub fn collect(&self) -> Result<Vec<u8>, String> {
        let mut slot = self.0.borrow_mut();
        let collector = slot
            .as_mut()
            .ok_or_else(|| "collect called before a successful configure".to_owned())?;
        let host = Host { _private: () };
        let families = collector.collect(&host).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        sonde_wire::encoding::encode(&families, &mut out);
        Ok(out)
    }
}
