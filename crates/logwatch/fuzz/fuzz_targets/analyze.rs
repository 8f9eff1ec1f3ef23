//! The whole batch analysis on arbitrary input: format detection, every
//! parser, detection, floods, decisions, the JSON and HTML reports.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sitewarden_logwatch::{Config, Resolved, analyze_bytes_resolved, render_html};

fuzz_target!(|data: &[u8]| {
    static RESOLVED: OnceLock<Resolved> = OnceLock::new();
    let resolved = RESOLVED.get_or_init(|| {
        Config::default()
            .resolve()
            .expect("the default config resolves")
    });
    let report =
        analyze_bytes_resolved("fuzz.log", data, resolved).expect("analysis of bytes cannot fail");
    assert!(report.bad_lines <= report.lines);
    let _ = report.to_json();
    let _ = render_html(&report);
});
