//! The organisation's emergency plan (PLAN.md) as a validated TOML file,
//! `sitewarden.toml`: the sites and pages to watch, the units responsible
//! for them, the roster, the incident levels, the reporting deadlines and
//! the probe's settings, and the response: the national rules beside the
//! plan, level rules, escalation chains, the duty schedule, playbooks and
//! notification channels.
//!
//! [`Plan::from_toml_str`] and [`Plan::load`] return a plan only when the
//! file is entirely valid; otherwise they return every problem at once,
//! each with its path in the file (`sites[1].pages[0].url: not an absolute
//! http(s) URL: "…" (line 12)`). [`sample_plan`] is the commented starting
//! file that `sitewarden init` writes.
//!
//! This crate does no I/O beyond reading the plan file in [`Plan::load`],
//! and knows nothing of probing, storing or notifying: other crates take a
//! `Plan` and act on it.

#![warn(missing_docs)]

mod advice;
mod error;
mod gateway;
mod load;
mod logwatch;
mod model;
mod path;
mod response;
mod sample;
mod validate;

pub use error::{LoadError, PlanError, PlanErrors};
pub use gateway::{
    CommandContainment, Containment, ContainmentBackend, GatewayEngine, GatewayLimits,
    GatewaySettings, GatewayTls, NginxContainment,
};
pub use logwatch::{LogFile, LogwatchSettings};
pub use model::{
    BAIDUSPIDER_USER_AGENT, CrawlerAgent, DEFAULT_BROWSER_USER_AGENT, Deadlines,
    GOOGLEBOT_USER_AGENT, GuardSettings, INDEX_FILES, ImHandles, Importance, LevelDef, LexiconDef,
    Organisation, Page, Person, Plan, ProbeSettings, ResponsibleUnits, Role, Site, Unit, UnitKind,
    WebRoot, default_levels,
};
pub use response::{
    CalendarDate, CalendarEntry, Channel, ChannelKind, ContactKind, Correlation, DEFAULT_ROUTE,
    Duty, Escalation, EscalationChain, EscalationStep, ExternalContact,
    GRADING_GUIDE_2023_DRAFT_SOURCE, GRADING_GUIDE_2025_SOURCE, IncidentKind, Indicator, LevelRule,
    MAX_CORRELATION_MINUTES, Measure, MessageLanguage, Notifications, OperatorType, Playbook,
    PlaybookAction, PlaybookStep, REPORTING_MEASURES_SOURCE, Regulatory, ReportingWindows, Routing,
    Shift, SiteTier, SmtpSecurity, StepMode, Weekday, default_indicators, default_playbooks,
    shipped_playbook,
};
pub use sample::{
    SAMPLE_PORTAL_HOST, SAMPLE_ZFCG_HOST, SampleGateway, SampleOptions, sample_plan,
    sample_plan_with,
};
pub use validate::{MAX_BODY_BYTES, MAX_INTERVAL_SECONDS, MIN_BODY_BYTES};

use std::path::Path;

impl Plan {
    /// Parses `text` as a plan file and validates it, returning every
    /// problem found (syntax, unknown keys, wrong types, semantic rules).
    pub fn from_toml_str(text: &str) -> Result<Plan, PlanErrors> {
        load::parse_plan(text)
    }

    /// Reads the plan file at `path` (UTF-8) and validates it.
    pub fn load(path: &Path) -> Result<Plan, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Plan::from_toml_str(&text).map_err(|errors| LoadError::Invalid {
            path: path.to_path_buf(),
            errors,
        })
    }

    /// Reads the plan file at `path` like [`Plan::load`], and with a valid
    /// plan also its warnings: what is valid but would fail people in an
    /// incident (a role nobody holds, a person a channel cannot reach),
    /// each with its line, in the order of the file.
    pub fn load_with_warnings(path: &Path) -> Result<(Plan, Vec<PlanError>), LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let plan = Plan::from_toml_str(&text).map_err(|errors| LoadError::Invalid {
            path: path.to_path_buf(),
            errors,
        })?;
        let warnings = load::with_lines(&text, plan.warnings());
        Ok((plan, warnings))
    }

    /// What is valid in this plan but would fail people in an incident,
    /// by path (no lines).
    pub fn warnings(&self) -> Vec<PlanError> {
        advice::warnings(self)
    }

    /// Checks the semantic rules on a plan built or changed in code (a plan
    /// from [`Plan::from_toml_str`] has passed them already). Problems have
    /// paths but no line numbers.
    pub fn validate(&self) -> Result<(), PlanErrors> {
        let errors = validate::validate(&validate::Parts::of(self));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PlanErrors(errors))
        }
    }
}
