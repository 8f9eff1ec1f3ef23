//! IIS W3C: directives and data lines in any order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sitewarden_logwatch::LogFormat;

fuzz_target!(|data: &[u8]| {
    let mut parser = LogFormat::Iis.compile().expect("iis compiles");
    for line in data.split(|b| *b == b'\n') {
        let _ = parser.parse(line);
    }
});
