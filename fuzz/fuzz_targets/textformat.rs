//! The text-format parser (the textfile collector reads operators' `*.prom` files with it): any
//! bytes give families or a line-numbered error; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = sonde_textformat::parse(data) {
        assert!(e.line >= 1, "{e}");
    }
});
