//! combined/common lines: any bytes parse to a record, a skip or a bad
//! line, never a panic; a record's slices and times stay consistent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sitewarden_logwatch::format::ClfParser;
use sitewarden_logwatch::{Parsed, time};

fuzz_target!(|data: &[u8]| {
    let mut parser = ClfParser::new();
    for line in data.split(|b| *b == b'\n') {
        if let Parsed::Record(record) = parser.parse(line) {
            let _ = record.request_line();
            let _ = record.path();
            let _ = record.query();
            if let Some(ms) = record.time_ms {
                let _ = time::format_rfc3339(ms);
            }
        }
    }
});
