//! Decisions: which addresses go to the gateway's blocklist, until when,
//! and why — in words a duty officer can check. Detection never blocks
//! anything itself: decisions are data for the gateway (and the lead's
//! wiring), and an address on the allowlist is never decided, only
//! reported as spared.
//!
//! The same judgement serves the batch report ([`decide`], over a whole
//! log's tallies) and live watching ([`LiveDecisions`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::detect::{Attack, AttackClass};
use crate::flood::Flood;
use crate::ip::{Cidr, IpKey};
use crate::time::{format_rfc3339, rfc3339};

/// When to block.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DecisionConfig {
    /// Make decisions at all.
    pub enabled: bool,
    /// Addresses and blocks never blocked (monitoring, the organisation's
    /// own networks, partners).
    pub allowlist: Vec<Cidr>,
    /// How long a block lasts after the last evidence.
    pub ban_minutes: u32,
    /// One attack at least this confident is enough.
    pub confident_attack: f32,
    /// Attacks below this confidence are not counted.
    pub min_confidence: f32,
    /// This many counted attacks are enough.
    pub attacks_before_ban: u32,
    /// A flood source with at least this share of the flood's requests
    /// (values below 0.005 act as 0.005)…
    pub flood_source_min_share: f64,
    /// …and at least this many requests in it is blocked.
    pub flood_source_min_requests: u64,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            enabled: true,
            allowlist: Vec::new(),
            ban_minutes: 60,
            confident_attack: 0.85,
            min_confidence: 0.5,
            attacks_before_ban: 3,
            flood_source_min_share: 0.02,
            flood_source_min_requests: 100,
        }
    }
}

impl DecisionConfig {
    /// The allowlist entry covering `ip`, if any.
    pub fn allowlisted(&self, ip: IpKey) -> Option<Cidr> {
        self.allowlist.iter().copied().find(|c| c.contains(ip))
    }
}

/// What a decision does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// Put the address on the gateway's blocklist until `until`.
    Block,
    /// Nothing: the allowlist covers it. Reported so nobody wonders.
    Spared,
}

/// One decision about one address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The address.
    pub ip: IpKey,
    /// Block, or spared by the allowlist.
    pub action: DecisionAction,
    /// First evidence.
    #[serde(rename = "since", serialize_with = "rfc3339::serialize")]
    pub since_ms: i64,
    /// When the block expires.
    #[serde(rename = "until", serialize_with = "rfc3339::serialize")]
    pub until_ms: i64,
    /// Short reasons (`attack:sqli`, `scenario:http-probing`, `flood`).
    pub reasons: Vec<String>,
    /// The whole explanation in words.
    pub explanation: String,
}

/// What one address did, as far as decisions care.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttackTally {
    /// Counted attacks per class (index of [`AttackClass::ALL`]).
    pub by_class: [u32; 9],
    /// Attacks at or above `min_confidence`.
    pub counted: u32,
    /// The most confident attack.
    pub strongest: Option<Attack>,
    /// First and last counted attack.
    pub first_ms: i64,
    /// Last counted attack.
    pub last_ms: i64,
    /// Scenario overflows, by name.
    pub scenarios: Vec<String>,
}

fn class_index(class: AttackClass) -> usize {
    AttackClass::ALL
        .iter()
        .position(|c| *c == class)
        .unwrap_or(0)
}

impl AttackTally {
    /// Counts one attack (ignored below `min_confidence`).
    pub fn add(&mut self, attack: &Attack, min_confidence: f32) {
        if attack.confidence < min_confidence {
            return;
        }
        if self.counted == 0 {
            self.first_ms = attack.time_ms;
            self.last_ms = attack.time_ms;
        }
        self.counted += 1;
        self.by_class[class_index(attack.class)] += 1;
        self.first_ms = self.first_ms.min(attack.time_ms);
        self.last_ms = self.last_ms.max(attack.time_ms);
        if let Some(scenario) = attack.rule.strip_prefix("scenario:")
            && !self.scenarios.iter().any(|s| s == scenario)
        {
            self.scenarios.push(scenario.to_string());
        }
        if self
            .strongest
            .as_ref()
            .is_none_or(|s| attack.confidence > s.confidence)
        {
            self.strongest = Some(attack.clone());
        }
    }

    /// Merges another thread's tally of the same address.
    pub fn merge(&mut self, other: AttackTally) {
        if other.counted == 0 {
            return;
        }
        if self.counted == 0 {
            *self = other;
            return;
        }
        self.counted += other.counted;
        for (mine, theirs) in self.by_class.iter_mut().zip(other.by_class) {
            *mine += theirs;
        }
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
        for s in other.scenarios {
            if !self.scenarios.contains(&s) {
                self.scenarios.push(s);
            }
        }
        if let Some(theirs) = other.strongest
            && self
                .strongest
                .as_ref()
                .is_none_or(|s| theirs.confidence > s.confidence)
        {
            self.strongest = Some(theirs);
        }
    }

    fn class_summary(&self) -> String {
        AttackClass::ALL
            .iter()
            .zip(self.by_class)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{} ×{n}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Judges one address's attacks: a decision when they are enough.
pub fn judge_attacks(ip: IpKey, tally: &AttackTally, config: &DecisionConfig) -> Option<Decision> {
    let strongest = tally.strongest.as_ref()?;
    let confident = strongest.confidence >= config.confident_attack;
    if !confident && tally.counted < config.attacks_before_ban {
        return None;
    }
    let until_ms = tally.last_ms + i64::from(config.ban_minutes) * 60_000;
    let mut reasons: Vec<String> = AttackClass::ALL
        .iter()
        .zip(tally.by_class)
        .filter(|(_, n)| *n > 0)
        .map(|(c, _)| format!("attack:{}", c.as_str()))
        .collect();
    reasons.extend(tally.scenarios.iter().map(|s| format!("scenario:{s}")));
    let why = if confident {
        format!(
            "one attack at confidence {:.2} ≥ {:.2} is enough",
            strongest.confidence, config.confident_attack
        )
    } else {
        format!(
            "{} attacks ≥ {} needed",
            tally.counted, config.attacks_before_ban
        )
    };
    let explanation = format!(
        "{ip}: {} attack request(s) from {} to {} ({}); strongest: rule {} ({:.2}) on \"{}\" answered {}; {why}; blocked for {} min, until {}",
        tally.counted,
        format_rfc3339(tally.first_ms),
        format_rfc3339(tally.last_ms),
        tally.class_summary(),
        strongest.rule,
        strongest.confidence,
        truncate(&strongest.request, 160),
        strongest.status,
        config.ban_minutes,
        format_rfc3339(until_ms),
    );
    Some(Decision {
        ip,
        action: DecisionAction::Block,
        since_ms: tally.first_ms,
        until_ms,
        reasons,
        explanation,
    })
}

/// Judges the sources of a flood: each big enough source is blocked.
pub fn judge_flood(flood: &Flood, config: &DecisionConfig) -> Vec<Decision> {
    let unit = if flood.kind == crate::flood::FloodKind::NewSources {
        "min"
    } else {
        "s"
    };
    let until_ms = flood.end_ms + i64::from(config.ban_minutes) * 60_000;
    flood
        .heavy_sources
        .iter()
        .filter(|s| s.share >= config.flood_source_min_share && s.requests >= config.flood_source_min_requests)
        .map(|s| Decision {
            ip: s.ip,
            action: DecisionAction::Block,
            since_ms: flood.start_ms,
            until_ms,
            reasons: vec!["flood".into()],
            explanation: format!(
                "{}: {} requests ({:.1}% of the flood{}) during the {} from {} to {} (peak {}/{unit} against a usual {:.1}/{unit}); blocked for {} min, until {}",
                s.ip,
                s.requests,
                s.share * 100.0,
                flood.path.as_deref().map(|p| format!(" on {p}")).unwrap_or_default(),
                if flood.kind == crate::flood::FloodKind::NewSources { "surge of new sources" } else { "flood" },
                format_rfc3339(flood.start_ms),
                format_rfc3339(flood.end_ms),
                flood.peak_rps,
                flood.baseline_rps,
                config.ban_minutes,
                format_rfc3339(until_ms),
            ),
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Folds a new decision about an address into an existing one: the later
/// expiry, every reason, both explanations.
fn fold(existing: &mut Decision, new: Decision) {
    existing.since_ms = existing.since_ms.min(new.since_ms);
    existing.until_ms = existing.until_ms.max(new.until_ms);
    for reason in new.reasons {
        if !existing.reasons.contains(&reason) {
            existing.reasons.push(reason);
        }
    }
    existing.explanation = format!("{}\n{}", existing.explanation, new.explanation);
}

/// Splits decisions by the allowlist: blocks, and spared (with the entry
/// that spared them in the explanation). Sorted by address.
fn apply_allowlist(
    decisions: HashMap<IpKey, Decision>,
    config: &DecisionConfig,
) -> (Vec<Decision>, Vec<Decision>) {
    let (mut blocks, mut spared) = (Vec::new(), Vec::new());
    for (ip, mut decision) in decisions {
        match config.allowlisted(ip) {
            Some(cidr) => {
                decision.action = DecisionAction::Spared;
                decision.explanation = format!(
                    "not blocked: {cidr} is on the allowlist. {}",
                    decision.explanation
                );
                spared.push(decision);
            }
            None => blocks.push(decision),
        }
    }
    blocks.sort_by_key(|d| d.ip);
    spared.sort_by_key(|d| d.ip);
    (blocks, spared)
}

/// Batch decisions over a whole log: (blocks, spared by the allowlist).
pub fn decide<'a>(
    tallies: impl IntoIterator<Item = (&'a IpKey, &'a AttackTally)>,
    floods: &[Flood],
    config: &DecisionConfig,
) -> (Vec<Decision>, Vec<Decision>) {
    if !config.enabled {
        return (Vec::new(), Vec::new());
    }
    let mut decisions: HashMap<IpKey, Decision> = HashMap::new();
    for (ip, tally) in tallies {
        if let Some(decision) = judge_attacks(*ip, tally, config) {
            decisions.insert(*ip, decision);
        }
    }
    for flood in floods {
        for decision in judge_flood(flood, config) {
            match decisions.get_mut(&decision.ip) {
                Some(existing) => fold(existing, decision),
                None => {
                    decisions.insert(decision.ip, decision);
                }
            }
        }
    }
    apply_allowlist(decisions, config)
}

/// Live decisions: attacks and floods in, a decision out when an address
/// is first blocked, and again when new evidence comes after its block
/// expired.
#[derive(Debug, Clone, Default)]
pub struct LiveDecisions {
    tallies: HashMap<IpKey, AttackTally>,
    blocked_until: HashMap<IpKey, i64>,
}

impl LiveDecisions {
    /// No history.
    pub fn new() -> Self {
        Self::default()
    }

    fn emit(
        &mut self,
        decision: Decision,
        now_ms: i64,
        config: &DecisionConfig,
    ) -> Option<Decision> {
        if let Some(cidr) = config.allowlisted(decision.ip) {
            // Spared decisions are reported once per expiry period as well.
            if self
                .blocked_until
                .get(&decision.ip)
                .is_some_and(|u| *u > now_ms)
            {
                return None;
            }
            self.blocked_until.insert(decision.ip, decision.until_ms);
            return Some(Decision {
                action: DecisionAction::Spared,
                explanation: format!(
                    "not blocked: {cidr} is on the allowlist. {}",
                    decision.explanation
                ),
                ..decision
            });
        }
        if self
            .blocked_until
            .get(&decision.ip)
            .is_some_and(|u| *u > now_ms)
        {
            return None;
        }
        self.blocked_until.insert(decision.ip, decision.until_ms);
        Some(decision)
    }

    /// Counts an attack; returns a decision if it tips the address over.
    pub fn observe_attack(
        &mut self,
        attack: &Attack,
        now_ms: i64,
        config: &DecisionConfig,
    ) -> Option<Decision> {
        if !config.enabled {
            return None;
        }
        let tally = self.tallies.entry(attack.ip).or_default();
        // A tally older than a ban period starts afresh.
        if tally.counted > 0
            && attack.time_ms - tally.last_ms > i64::from(config.ban_minutes) * 60_000
        {
            *tally = AttackTally::default();
        }
        tally.add(attack, config.min_confidence);
        let decision = judge_attacks(attack.ip, tally, config)?;
        self.emit(decision, now_ms, config)
    }

    /// Decisions about a flood's sources (those not already blocked).
    pub fn observe_flood(
        &mut self,
        flood: &Flood,
        now_ms: i64,
        config: &DecisionConfig,
    ) -> Vec<Decision> {
        if !config.enabled {
            return Vec::new();
        }
        judge_flood(flood, config)
            .into_iter()
            .filter_map(|d| self.emit(d, now_ms, config))
            .collect()
    }

    /// Forgets addresses whose blocks and tallies have expired.
    pub fn expire(&mut self, now_ms: i64, config: &DecisionConfig) {
        let keep_ms = i64::from(config.ban_minutes) * 60_000;
        self.blocked_until.retain(|_, until| *until > now_ms);
        self.tallies.retain(|_, t| now_ms - t.last_ms <= keep_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attack(ip: &str, class: AttackClass, confidence: f32, seconds: i64) -> Attack {
        Attack {
            ip: IpKey::parse(ip.as_bytes()).unwrap(),
            class,
            time_ms: 1_760_000_000_000 + seconds * 1000,
            request: "GET /a?id=1 union select 1,2 HTTP/1.1".into(),
            rule: "sqli-union-select".into(),
            confidence,
            status: 200,
            evidence: "union select 1,".into(),
        }
    }

    #[test]
    fn confident_attack_blocks_with_an_explanation() {
        let config = DecisionConfig::default();
        let mut tallies = HashMap::new();
        let a = attack("203.0.113.66", AttackClass::Sqli, 0.9, 0);
        tallies
            .entry(a.ip)
            .or_insert_with(AttackTally::default)
            .add(&a, config.min_confidence);
        let (blocks, spared) = decide(&tallies, &[], &config);
        assert!(spared.is_empty());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].action, DecisionAction::Block);
        assert_eq!(blocks[0].until_ms - blocks[0].since_ms, 3_600_000);
        assert_eq!(blocks[0].reasons, vec!["attack:sqli".to_string()]);
        assert!(
            blocks[0].explanation.contains("sqli-union-select"),
            "{}",
            blocks[0].explanation
        );
        assert!(
            blocks[0].explanation.contains("until 2025-10-09T09:53:20Z"),
            "{}",
            blocks[0].explanation
        );
    }

    #[test]
    fn weak_attacks_need_several_and_the_allowlist_is_respected() {
        let mut config = DecisionConfig::default();
        config.allowlist.push(Cidr::parse("10.0.0.0/8").unwrap());
        let mut tallies: HashMap<IpKey, AttackTally> = HashMap::new();
        for (ip, n) in [("198.51.100.1", 2), ("198.51.100.2", 3), ("10.1.2.3", 5)] {
            for i in 0..n {
                let a = attack(ip, AttackClass::Probe, 0.6, i);
                tallies
                    .entry(a.ip)
                    .or_default()
                    .add(&a, config.min_confidence);
            }
        }
        // Below min_confidence: never counted.
        let weak = attack("198.51.100.9", AttackClass::WebShell, 0.3, 0);
        for _ in 0..10 {
            tallies
                .entry(weak.ip)
                .or_default()
                .add(&weak, config.min_confidence);
        }
        let (blocks, spared) = decide(&tallies, &[], &config);
        assert_eq!(
            blocks.iter().map(|d| d.ip.to_string()).collect::<Vec<_>>(),
            vec!["198.51.100.2"]
        );
        assert_eq!(spared.len(), 1);
        assert_eq!(spared[0].action, DecisionAction::Spared);
        assert!(
            spared[0]
                .explanation
                .starts_with("not blocked: 10.0.0.0/8 is on the allowlist")
        );
    }

    #[test]
    fn live_decisions_fire_once_per_block() {
        let config = DecisionConfig::default();
        let mut live = LiveDecisions::new();
        let first = live.observe_attack(
            &attack("203.0.113.7", AttackClass::Sqli, 0.9, 0),
            0,
            &config,
        );
        assert!(first.is_some());
        assert!(
            live.observe_attack(
                &attack("203.0.113.7", AttackClass::Sqli, 0.9, 10),
                10_000,
                &config
            )
            .is_none()
        );
        // After the block expired, new evidence blocks again.
        let later = 1_760_000_000_000 + 7200 * 1000;
        assert!(
            live.observe_attack(
                &attack("203.0.113.7", AttackClass::Sqli, 0.9, 7200),
                later,
                &config
            )
            .is_some()
        );
    }
}
