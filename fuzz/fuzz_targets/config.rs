//! Config parsing: any text gives a config or an error that names the file; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    if let Err(e) = sonde::config::Config::parse(text, Path::new("fuzz.toml")) {
        assert!(e.to_string().contains("fuzz.toml"), "{e}");
    }
});
