//! Normalisation and the attack rules on arbitrary targets and agents.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sitewarden_logwatch::{Detector, Record, RuleSet};

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<Arc<RuleSet>> = OnceLock::new();
    let rules = RULES.get_or_init(|| Arc::new(RuleSet::builtin()));
    let mut detector = Detector::new(rules.clone());
    let split = data.iter().position(|b| *b == 0xff).unwrap_or(data.len());
    let (target, agent) = data.split_at(split);
    let record = Record {
        target,
        user_agent: agent,
        method: b"GET",
        status: 200,
        ..Record::default()
    };
    let mut hits = Vec::new();
    detector.detect(&record, &mut hits);
    for hit in &hits {
        assert!(hit.confidence > 0.0 && hit.confidence <= 1.0);
        let _ = detector.attack(&record, hit);
    }
});
