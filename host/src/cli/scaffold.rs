//! `sonde plugin new NAME`: a ready-to-build plugin crate (collector, native test with a fixture,
//! README), the starting point of docs/writing-plugins.md.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Where the SDK's sources were when this sonde was built; used for a path dependency when they
/// are still there (a checkout of sonde), else the crates.io version is used.
const SDK_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// Creates `<parent>/<name>/` with the plugin crate and returns its path. `sdk_path` overrides
/// where the SDK comes from.
pub fn new_plugin(name: &str, parent: &Path, sdk_path: Option<&Path>) -> anyhow::Result<PathBuf> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!("plugin name {name:?}: use lowercase letters, digits and _, starting with a letter");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let sdk = match sdk_path {
        Some(path) => format!(
            "{{ path = {:?} }}",
            path.canonicalize().unwrap_or(path.to_path_buf())
        ),
        None if Path::new(SDK_SOURCE).join("Cargo.toml").exists() => format!(
            "{{ path = {:?} }}",
            Path::new(SDK_SOURCE)
                .canonicalize()
                .unwrap_or(SDK_SOURCE.into())
        ),
        None => format!("\"{}\"", sonde_sdk::VERSION),
    };
    let files = [
        (
            "Cargo.toml",
            CARGO_TOML.replace("{name}", name).replace("{sdk}", &sdk),
        ),
        (
            "src/lib.rs",
            LIB_RS
                .replace("{name}", name)
                .replace("{Name}", &camel(name)),
        ),
        (
            "tests/collector.rs",
            TEST_RS
                .replace("{name}", name)
                .replace("{Name}", &camel(name)),
        ),
        (
            "tests/fixtures/proc/sys/fs/file-nr",
            "2272\t0\t9223372036854775807\n".to_owned(),
        ),
        ("README.md", README.replace("{name}", name)),
        (".gitignore", "/target\n".to_owned()),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a file in the crate"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

const CARGO_TOML: &str = r#"[package]
name = "sonde-plugin-{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component; rlib: the native tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
sonde-sdk = {sdk}
serde = { version = "1", features = ["derive"] }

# Small, fast components.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

# A crate of its own, not part of an enclosing workspace.
[workspace]
"#;

const LIB_RS: &str = r#"//! The `{name}` sonde plugin.

use serde::{Deserialize, Serialize};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily, ResultExt, Root};

/// The collector, built once from its config and kept while its instance lives: state it
/// keeps in its fields (compiled filters, an earlier reading) lasts from one cycle to the next.
pub struct {Name} {
    config: Config,
}

/// `[plugins.{name}] config = { … }`: every key has a default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Also report the kernel's limit of open files.
    pub with_maximum: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { with_maximum: true }
    }
}

impl Collector for {Name} {
    type Config = Config;

    fn describe() -> Description {
        Description::new("{name}", env!("CARGO_PKG_VERSION"), "open file handles")
            .needs(&[Capability::Proc])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok({Name} { config })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        // /proc/sys/fs/file-nr: allocated, unused (always 0), maximum.
        let text = host
            .read_to_string(Root::Proc, "sys/fs/file-nr")
            .context("reading /proc/sys/fs/file-nr")?;
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [allocated, _, maximum] = fields[..] else {
            return Err(Error::msg(format!("/proc/sys/fs/file-nr: unexpected {text:?}")));
        };
        let mut out = vec![
            MetricFamily::gauge("{name}_open_files", "File handles the kernel has allocated.")
                .with_value(allocated.parse()?),
        ];
        if self.config.with_maximum {
            out.push(
                MetricFamily::gauge("{name}_max_open_files", "The kernel's limit of file handles.")
                    .with_value(maximum.parse()?),
            );
        }
        Ok(out)
    }
}

sonde_sdk::export!({Name});
"#;

const TEST_RS: &str = r##"//! The collector against a fixture tree laid out like /proc, natively, as the agent runs it.

use sonde_plugin_{name}::{Name};
use sonde_sdk::Root;
use sonde_sdk::testing::{Fixture, collect_text, sample_lines};

fn host() -> sonde_sdk::Host {
    let proc = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc");
    Fixture::new().root(Root::Proc, proc).host()
}

#[test]
fn reports_open_files_and_the_limit() {
    let text = collect_text::<{Name}>(&host(), "").unwrap();
    assert_eq!(
        sample_lines(&text),
        ["{name}_max_open_files 9.223372036854776e+18", "{name}_open_files 2272"]
    );
}

#[test]
fn the_limit_can_be_turned_off() {
    let text = collect_text::<{Name}>(&host(), r#"{"with_maximum": false}"#).unwrap();
    assert_eq!(sample_lines(&text), ["{name}_open_files 2272"]);
}
"##;

const README: &str = r#"# sonde plugin `{name}`

Reports the open file handles of the host (`{name}_open_files`, `{name}_max_open_files`).

```sh
cargo test                                          # native tests against tests/fixtures
cargo build --release --target wasm32-wasip2        # the component
sonde plugin inspect target/wasm32-wasip2/release/sonde_plugin_{name}.wasm
```

Enable it in sonde's config:

```toml
[plugins.{name}]
path = "/path/to/sonde_plugin_{name}.wasm"
grants = ["proc:sys/fs"]
```
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(new_plugin("Bad-Name", dir.path(), None).is_err());
        let crate_dir = new_plugin("open_files", dir.path(), None).unwrap();
        let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct OpenFiles {"));
        assert!(lib.contains("sonde_sdk::export!(OpenFiles);"));
        let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"sonde-plugin-open_files\""));
        assert!(manifest.contains("sonde-sdk = { path = "), "{manifest}");
        assert!(
            new_plugin("open_files", dir.path(), None).is_err(),
            "exists"
        );
    }
}
