//! The suggested level (PLAN §2, REGULATIONS.md): the national grading
//! guide's website indicators and the organisation's own level rules,
//! applied to the incident's sites and exposure, with reasons that cite
//! the exposure against the indicator ("home page of portal showed defaced
//! content for 4 min 12 s: below the 30 min indicator for level III").
//!
//! The suggestion is the most serious level any indicator or rule meets;
//! with none met, the plan's least serious level. A person decides the
//! level (`Command::DecideLevel`); until then the suggestion is the
//! effective level that the clocks and escalation use.

use crate::exposure::{ExposureKind, PageExposure};
use crate::incident::Incident;
use crate::rules::Rules;
use crate::time::{human_minutes, human_minutes_zh, plus_minutes};
use jiff::Timestamp;
use serde::Serialize;
use sitewarden_plan::{Indicator, LevelRule, Measure};

/// One reason for (or against) a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelReason {
    /// The level the reason points to, when it meets one.
    pub level: Option<String>,
    /// Whether the indicator or rule is met.
    pub met: bool,
    /// The reason in English.
    pub text_en: String,
    /// The reason in Chinese.
    pub text_zh: String,
    /// Where the number or rule comes from.
    pub source: String,
    /// False when it rests on a number not checked against the official
    /// text.
    pub verified: bool,
}

/// The suggested level with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The level id.
    pub level: String,
    /// Why, the reasons that set the level first.
    pub reasons: Vec<LevelReason>,
    /// When an exposure still going on will reach the next more serious
    /// indicator, if one will.
    pub rises_at: Option<Timestamp>,
}

fn measure_of(exposure: &PageExposure) -> Measure {
    match (exposure.kind, exposure.home) {
        (ExposureKind::Unreachable, _) => Measure::Unreachable,
        (ExposureKind::Defaced, true) => Measure::DefacedHomePage,
        (ExposureKind::Defaced, false) => Measure::DefacedOtherPage,
    }
}

/// The suggested level of `incident` at `now`.
pub fn suggest_level(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> Suggestion {
    let mut met: Vec<LevelReason> = Vec::new();
    let mut unmet: Vec<LevelReason> = Vec::new();
    let mut rises_at: Option<Timestamp> = None;
    let indicators: Vec<&Indicator> = rules
        .plan
        .regulatory
        .indicators
        .iter()
        .filter(|indicator| rules.plan.level_rank(&indicator.level).is_some())
        .collect();

    // The longest exposure per site and measure: the one the guide counts.
    let mut longest: Vec<&PageExposure> = Vec::new();
    for exposure in &incident.exposures {
        match longest
            .iter_mut()
            .find(|known| known.site == exposure.site && measure_of(known) == measure_of(exposure))
        {
            Some(known) if exposure.seconds(now) > known.seconds(now) => *known = exposure,
            Some(_) => {}
            None => longest.push(exposure),
        }
    }

    for exposure in longest {
        let measure = measure_of(exposure);
        let (_, tier) = rules.site_facts(&exposure.site);
        let seconds = exposure.seconds(now);
        let (said_en, said_zh) = exposure.describe(now);
        let applicable: Vec<&&Indicator> = indicators
            .iter()
            .filter(|indicator| indicator.measure == measure && indicator.tiers.contains(&tier))
            .collect();
        if applicable.is_empty() {
            unmet.push(LevelReason {
                level: None,
                met: false,
                text_en: format!(
                    "{said_en}: the grading guide's indicators for this measure do not name a site of tier {} ({})",
                    tier.as_str(),
                    tier.name_zh()
                ),
                text_zh: format!("{said_zh}：分级指南的网站指标不适用于{}", tier.name_zh()),
                source: rules.plan.regulatory.source.clone(),
                verified: true,
            });
            continue;
        }
        let reached = |indicator: &Indicator| seconds >= i64::from(indicator.minutes) * 60;
        // The most serious indicator reached, else the least serious one
        // not reached (the nearest threshold).
        let best_met = applicable
            .iter()
            .filter(|indicator| reached(indicator))
            .min_by_key(|indicator| rules.rank(&indicator.level));
        match best_met {
            Some(indicator) => met.push(LevelReason {
                level: Some(indicator.level.clone()),
                met: true,
                text_en: format!(
                    "{said_en}: at or above the {} indicator for level {}",
                    human_minutes(indicator.minutes),
                    indicator.level
                ),
                text_zh: format!(
                    "{said_zh}：达到{}级指标（{}以上）",
                    indicator.level,
                    human_minutes_zh(indicator.minutes)
                ),
                source: indicator.source.clone(),
                verified: indicator.verified,
            }),
            None => {
                if let Some(indicator) = applicable.iter().min_by_key(|indicator| indicator.minutes)
                {
                    unmet.push(LevelReason {
                        level: None,
                        met: false,
                        text_en: format!(
                            "{said_en}: below the {} indicator for level {}",
                            human_minutes(indicator.minutes),
                            indicator.level
                        ),
                        text_zh: format!(
                            "{said_zh}：未达到{}级指标（{}）",
                            indicator.level,
                            human_minutes_zh(indicator.minutes)
                        ),
                        source: indicator.source.clone(),
                        verified: indicator.verified,
                    });
                }
            }
        }
        if exposure.is_open() {
            let current = best_met.map_or(usize::MAX, |indicator| rules.rank(&indicator.level));
            for indicator in applicable
                .iter()
                .filter(|indicator| !reached(indicator) && rules.rank(&indicator.level) < current)
            {
                let at = plus_minutes(exposure.start.at, i64::from(indicator.minutes));
                rises_at = Some(rises_at.map_or(at, |known| known.min(at)));
            }
        }
    }

    for (index, rule) in rules.plan.level_rules.iter().enumerate() {
        if rules.plan.level_rank(&rule.level).is_none() {
            continue;
        }
        if let Some(description) = rule_matches(rules, rule, incident, now) {
            let why = rule.reason.clone().unwrap_or(description);
            met.push(LevelReason {
                level: Some(rule.level.clone()),
                met: true,
                text_en: format!("plan rule: {why}: level {}", rule.level),
                text_zh: format!("本单位定级规则：{why}：{}级", rule.level),
                source: format!("level_rules[{index}]"),
                verified: true,
            });
        }
    }

    met.sort_by_key(|reason| {
        reason
            .level
            .as_deref()
            .map_or(usize::MAX, |level| rules.rank(level))
    });
    let level = met
        .first()
        .and_then(|reason| reason.level.clone())
        .unwrap_or_else(|| rules.least_serious_level().to_owned());
    if met.is_empty() {
        met.push(LevelReason {
            level: Some(level.clone()),
            met: false,
            text_en: format!("no indicator or plan rule is met: the least serious level, {level}"),
            text_zh: format!("未达到任何分级指标或本单位定级规则：{level}级"),
            source: "levels".to_owned(),
            verified: true,
        });
    }
    met.extend(unmet);
    Suggestion {
        level,
        reasons: met,
        rises_at,
    }
}

/// A description of the rule's conditions when they all hold for the
/// incident, else `None`.
fn rule_matches(
    rules: &Rules<'_>,
    rule: &LevelRule,
    incident: &Incident,
    now: Timestamp,
) -> Option<String> {
    let mut said: Vec<String> = Vec::new();
    if !rule.kinds.is_empty() {
        let kind = incident.kind.plan_kind();
        if !rule.kinds.contains(&kind) {
            return None;
        }
        said.push(format!("kind {kind}"));
    }
    let facts: Vec<_> = incident
        .sites
        .iter()
        .map(|site| (site, rules.site_facts(site)))
        .collect();
    if !rule.importance.is_empty() {
        let site = facts
            .iter()
            .find(|(_, (importance, _))| rule.importance.contains(importance))?;
        said.push(format!("site {} is {}", site.0, site.1.0.name_zh()));
    }
    if !rule.tiers.is_empty() {
        let site = facts
            .iter()
            .find(|(_, (_, tier))| rule.tiers.contains(tier))?;
        said.push(format!("site {} is a {}", site.0, site.1.1.as_str()));
    }
    if let Some(min_sites) = rule.min_sites {
        if incident.sites.len() < min_sites as usize {
            return None;
        }
        said.push(format!("{} sites affected", incident.sites.len()));
    }
    if let Some(minutes) = rule.min_exposure_minutes {
        let longest = incident
            .exposures
            .iter()
            .map(|exposure| exposure.seconds(now))
            .max()
            .unwrap_or(0);
        if longest < i64::from(minutes) * 60 {
            return None;
        }
        said.push(format!("exposure of {} or more", human_minutes(minutes)));
    }
    if let Some(home) = rule.home_page {
        let any_home = incident
            .exposures
            .iter()
            .any(|exposure| exposure.home && exposure.page.is_some());
        if any_home != home {
            return None;
        }
        said.push(if home {
            "a home page affected".to_owned()
        } else {
            "no home page affected".to_owned()
        });
    }
    if said.is_empty() {
        said.push("every incident".to_owned());
    }
    Some(said.join(", "))
}

/// The level the clocks and escalation use: the decided level, else the
/// suggestion.
pub fn effective_level(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> String {
    match incident.decided_level() {
        Some(decision) => decision.level.clone(),
        None => suggest_level(rules, incident, now).level,
    }
}
