//! nginx log_format: the first line is the format string, the rest are
//! log lines; compile errors are fine, panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sitewarden_logwatch::LogFormat;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let Some(format) = lines.next() else { return };
    let Ok(format) = std::str::from_utf8(format) else {
        return;
    };
    let Ok(mut parser) = (LogFormat::Nginx {
        format: format.to_string(),
    })
    .compile() else {
        return;
    };
    for line in lines {
        let _ = parser.parse(line);
    }
});
