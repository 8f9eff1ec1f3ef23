//! JSON lines with the default field mapping: deep nesting, bad escapes,
//! invalid UTF-8.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sitewarden_logwatch::LogFormat;
use sitewarden_logwatch::format::JsonFields;

fuzz_target!(|data: &[u8]| {
    let mut parser = LogFormat::Json {
        fields: JsonFields::default(),
    }
    .compile()
    .expect("json compiles");
    for line in data.split(|b| *b == b'\n') {
        let _ = parser.parse(line);
    }
});
