//! Plugin API 0.2.x: `configure` once per instance, then `collect` returns one encoded buffer.
//! The world `plugin` of `sonde:collector@0.2.1`, which components built for 0.2.0 satisfy
//! (wasmtime links their `host@0.2.0` imports to it by semver; they never call
//! `part-finished`). Its `types` are 0.1's (the same definitions, so the same Rust types), and
//! its `host` interface delegates to 0.1's, but for 0.2.1's `part-finished`.

use super::PluginState;
use super::v0_1::sonde::collector::host::Host as HostV0_1;
use super::v0_1::sonde::collector::types as wit;

wasmtime::component::bindgen!({
    path: "../wit/since_v0.2.1",
    world: "plugin",
    with: {
        "sonde:collector/types": super::v0_1::sonde::collector::types,
    },
});

/// API 0.2's `host` is 0.1.2's, function for function, and `part-finished` (0.2.1).
impl sonde::collector::host::Host for PluginState {
    fn read_file(&mut self, r: wit::Root, path: String) -> Result<Vec<u8>, wit::FsError> {
        HostV0_1::read_file(self, r, path)
    }

    fn read_files(
        &mut self,
        r: wit::Root,
        paths: Vec<String>,
    ) -> Vec<Result<Vec<u8>, wit::FsError>> {
        HostV0_1::read_files(self, r, paths)
    }

    fn read_dir(&mut self, r: wit::Root, path: String) -> Result<Vec<wit::DirEntry>, wit::FsError> {
        HostV0_1::read_dir(self, r, path)
    }

    fn read_link(&mut self, r: wit::Root, path: String) -> Result<String, wit::FsError> {
        HostV0_1::read_link(self, r, path)
    }

    fn modified(&mut self, r: wit::Root, path: String) -> Result<f64, wit::FsError> {
        HostV0_1::modified(self, r, path)
    }

    fn statfs(&mut self, mount_point: String) -> Result<wit::FsStats, wit::FsError> {
        HostV0_1::statfs(self, mount_point)
    }

    fn uname(&mut self) -> wit::UnameInfo {
        HostV0_1::uname(self)
    }

    fn timex(&mut self) -> Result<wit::TimexInfo, wit::FsError> {
        HostV0_1::timex(self)
    }

    fn clock(&mut self) -> wit::ClockInfo {
        HostV0_1::clock(self)
    }

    fn log(&mut self, level: wit::Level, message: String) {
        HostV0_1::log(self, level, message)
    }

    fn part_finished(&mut self, name: String, success: bool) {
        PluginState::part_finished(self, &name, success)
    }
}
