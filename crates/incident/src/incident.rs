//! The incident as the engine sees it: sites and pages affected, exposure
//! per page, classification, the decided level with who and why, state and
//! flags, reports, acknowledgements, approval requests, the actions the
//! runner has carried out, and the append-only timeline.
//!
//! Every change goes through [`Incident::apply`], a pure function of the
//! incident, the plan's rules, a [`Command`], the actor and the time: it
//! checks the command, changes the incident and appends what happened to
//! the timeline, or refuses with a [`CommandError`] and changes nothing.
//! Derived views (the suggested level, the clocks, the actions due) are
//! computed from it by `level`, `clocks` and `actions`.

use crate::clocks::{Clock, settle};
use crate::exposure::{CutOff, EndBasis, ExposureKind, ExposureStart, PageExposure, StartBasis};
use crate::model::{IncidentState, Signal, SignalKind, SignalSource};
use crate::playbook::{ApprovalAnswer, ApprovalError, ApprovalRequest};
use crate::rules::Rules;
use crate::standards::{Classifications, classify_both};
use crate::state::{Flags, TransitionError, transition};
use crate::time::timestamp_from_ms;
use crate::timeline::{EventKind, Timeline, TimelineEvent};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sitewarden_plan::Role;
use std::collections::BTreeSet;

/// A level decided by a person (PLAN §4: 判定事件等级).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelDecision {
    /// The level id.
    pub level: String,
    /// Who decided.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// The reports the plan and the national rules ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// The initial report to the group (30 minutes, PLAN §4).
    Initial,
    /// The national report (REGULATIONS.md: 1/2/4 hours, level III+).
    National,
    /// A progress report on a change of situation (level I/II).
    Progress,
    /// The daily report (level I/II).
    Daily,
    /// The investigation and assessment report after the incident (PLAN §8).
    Final,
}

impl ReportKind {
    /// The kind as spelled in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Initial => "initial",
            ReportKind::National => "national",
            ReportKind::Progress => "progress",
            ReportKind::Daily => "daily",
            ReportKind::Final => "final",
        }
    }
}

/// A report that went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    /// Which report.
    pub kind: ReportKind,
    /// When it went out.
    pub at: Timestamp,
    /// Who sent it.
    pub by: String,
    /// What it said, in short.
    pub note: String,
}

/// Someone took the incident on; it stops the escalation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Who.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// An outside authority reached by a person, on the call/fax task the
/// escalation chain gave (PLAN §6: 电话报告，随后传真).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactReached {
    /// The plan's contact id.
    pub contact: String,
    /// Who made the call.
    pub by: String,
    /// When it was recorded.
    pub at: Timestamp,
    /// Whether the fax followed.
    pub fax_sent: bool,
    /// What was said or agreed, in short.
    pub note: String,
}

/// A change of situation that a progress report must follow (level I/II).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SituationChange {
    /// When.
    pub at: Timestamp,
    /// What changed.
    pub what: String,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The store's id.
    pub id: i64,
    /// A one-line title.
    pub title: String,
    /// Its kind (its most serious signal's).
    pub kind: SignalKind,
    /// For an outage: whether the logs confirmed an attack.
    pub attack_confirmed: bool,
    /// Where the information came from (信息来源).
    pub source: SignalSource,
    /// The person who reported it, for a reported incident.
    pub reporter: Option<String>,
    /// When it was discovered: every plan clock runs from here.
    pub discovered_at: Timestamp,
    /// The sites affected, in the order they joined.
    pub sites: Vec<String>,
    /// Per page (or site) exposure.
    pub exposures: Vec<PageExposure>,
    /// When its sites were cut off from external service and reopened
    /// (`Command::CutOff`, `Command::Reopen`), oldest first.
    #[serde(default)]
    pub cut_offs: Vec<CutOff>,
    /// How many signals joined it.
    pub signal_count: u32,
    /// Where it stands.
    pub state: IncidentState,
    /// A drill (演练).
    pub drill: bool,
    /// Marked a false alarm.
    pub false_alarm: bool,
    /// Every level decision, the current one last.
    pub level_decisions: Vec<LevelDecision>,
    /// When each state was entered.
    pub state_changes: Vec<(IncidentState, Timestamp)>,
    /// The reports sent.
    pub reports: Vec<ReportRecord>,
    /// Acknowledgements.
    pub acknowledgements: Vec<Acknowledgement>,
    /// Outside authorities reached on the chain's call/fax tasks; an
    /// incident saved before these were recorded reads as none.
    #[serde(default)]
    pub contacts_reached: Vec<ContactReached>,
    /// Changes of situation after discovery.
    pub situation_changes: Vec<SituationChange>,
    /// Approval requests for playbook steps.
    pub approvals: Vec<ApprovalRequest>,
    /// Keys of the actions the runner has carried out (see `actions`).
    pub actions_done: BTreeSet<String>,
    /// The clocks already met or missed, frozen as they were settled (see
    /// `clocks::settle`); an incident saved before there were settled
    /// clocks reads as none.
    #[serde(default)]
    pub settled_clocks: Vec<Clock>,
    /// Everything that happened.
    pub timeline: Timeline,
}

/// A change asked of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// A signal joins the incident. `exposure` says when the bad state
    /// could first have been seen; the signal's time when `None`.
    Signal {
        /// The signal.
        signal: Signal,
        /// The start of the exposure, from the guard's event time or the
        /// last clean check.
        exposure: Option<ExposureStart>,
    },
    /// The site was cut off (or the threat blocked): defaced content is
    /// no longer served.
    Contain {
        /// What was done.
        note: String,
    },
    /// A site of the incident was switched to maintenance through its
    /// containment backend, and the switch is in force: nothing it serves
    /// can be seen. Like `Contain` for that site (its defacement exposures
    /// end, the incident is contained), and until `Reopen` no signal of
    /// the site starts an exposure: what the probe sees then is the
    /// maintenance page, not an attack.
    CutOff {
        /// The plan's site name.
        site: String,
        /// Who did it, how and why, as it reads after "cut off" ("by 王小明
        /// via gateway: 首页被篡改").
        note: String,
    },
    /// A site that was cut off serves again: a page still bad from now on
    /// is exposed again, from this moment.
    Reopen {
        /// The plan's site name.
        site: String,
        /// Who did it, how and why, as it reads after "reopened" ("by 组长
        /// via gateway: 已恢复").
        note: String,
    },
    /// Pages were put back, or the site came back up. `site` and `page`
    /// narrow which exposures end; all when `None`.
    Restore {
        /// The site, or all.
        site: Option<String>,
        /// The page, or all of the site's.
        page: Option<String>,
    },
    /// A report went out.
    Report {
        /// Which one.
        kind: ReportKind,
        /// What it said, in short.
        note: String,
    },
    /// A person decided the level.
    DecideLevel {
        /// The level id.
        level: String,
        /// Why.
        reason: String,
    },
    /// A person took the incident on.
    Acknowledge,
    /// Move to a state.
    Transition {
        /// The state.
        to: IncidentState,
    },
    /// Mark a false alarm.
    FalseAlarm {
        /// Why.
        reason: String,
    },
    /// The logs show the outage is an attack.
    ConfirmAttack {
        /// The evidence, in short.
        note: String,
    },
    /// Ask approval for playbook step `step`.
    RequestApproval {
        /// The step's index in the kind's playbook.
        step: usize,
    },
    /// Answer approval request `request`.
    AnswerApproval {
        /// The request's index in `approvals`.
        request: usize,
        /// Yes or no.
        approved: bool,
        /// The roles the answering person holds in the roster.
        roles: Vec<Role>,
        /// Any instruction given with the answer.
        note: String,
    },
    /// A person reached an outside authority (`[[external_contacts]]`) on
    /// the chain's call/fax task: the task is done, and the chain gives
    /// no more for that contact.
    Contacted {
        /// The plan's contact id.
        contact: String,
        /// Whether the fax followed.
        fax_sent: bool,
        /// What was said or agreed, in short.
        note: String,
    },
    /// The runner carried out an action.
    ActionDone {
        /// The action's key.
        key: String,
        /// What was done.
        detail: String,
    },
    /// A note.
    Note {
        /// The text.
        text: String,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The state cannot move that way.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The level is not one of the plan's.
    #[error("unknown level {level:?}; levels: {known}")]
    UnknownLevel {
        /// The level asked for.
        level: String,
        /// The plan's level ids.
        known: String,
    },
    /// A closed incident takes nothing but notes.
    #[error("the incident is closed")]
    Closed,
    /// A signal for another site's drill or real incident.
    #[error("a {} signal cannot join a {} incident", if *signal_drill { "drill" } else { "real" }, if *signal_drill { "real" } else { "drill" })]
    DrillMismatch {
        /// Whether the signal was a drill's.
        signal_drill: bool,
    },
    /// Only an outage can be confirmed as an attack.
    #[error("only an unavailable incident can be confirmed as an attack (this one is {0})")]
    NotAnOutage(SignalKind),
    /// An approval problem.
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// A required text is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// `assess` before any level was decided: the risk assessment is the
    /// level decision (PLAN §4).
    #[error(
        "no level is decided yet: decide it with `sitewarden incident level ID --to LEVEL --reason …`, which records the risk assessment"
    )]
    LevelNotDecided,
    /// Closing an incident whose national report (level III and above)
    /// was never sent: closing must not hide a duty the law sets.
    #[error(
        "the national report (due {due}) was never recorded: send it and record it with `sitewarden incident report ID --kind national` before closing"
    )]
    NationalReportOwed {
        /// When it was due.
        due: Timestamp,
    },
    /// The contact is not one of the plan's `[[external_contacts]]`.
    #[error("no outside contact {contact:?} in the plan; contacts: {known}")]
    UnknownContact {
        /// The id given.
        contact: String,
        /// The plan's contact ids.
        known: String,
    },
}

impl Incident {
    /// A new incident from its first signal (a fold `Open` decision).
    pub fn open(
        id: i64,
        title: String,
        signal: &Signal,
        exposure: Option<ExposureStart>,
        rules: &Rules<'_>,
    ) -> Incident {
        let discovered_at = timestamp_from_ms(signal.observed_at_ms);
        let mut incident = Incident {
            id,
            title,
            kind: signal.kind,
            attack_confirmed: false,
            source: signal.source,
            reporter: None,
            discovered_at,
            sites: Vec::new(),
            exposures: Vec::new(),
            cut_offs: Vec::new(),
            signal_count: 0,
            state: IncidentState::Detected,
            drill: signal.drill,
            false_alarm: false,
            level_decisions: Vec::new(),
            state_changes: vec![(IncidentState::Detected, discovered_at)],
            reports: Vec::new(),
            acknowledgements: Vec::new(),
            contacts_reached: Vec::new(),
            situation_changes: Vec::new(),
            approvals: Vec::new(),
            actions_done: BTreeSet::new(),
            settled_clocks: Vec::new(),
            timeline: Timeline::default(),
        };
        incident.record(
            discovered_at,
            signal.source.as_str(),
            EventKind::Opened,
            format!("{} ({})", incident.title, signal.kind),
        );
        incident.add_signal(signal, exposure, rules);
        incident
    }

    /// A new incident a person reported (PLAN §5: a member *observes* a
    /// defacement or a DDoS). It runs exactly like a detected one, with the
    /// reporter as the source of information.
    #[allow(clippy::too_many_arguments)]
    pub fn reported(
        id: i64,
        site: &str,
        page: Option<&str>,
        kind: SignalKind,
        summary: &str,
        reporter: &str,
        discovered_at: Timestamp,
        drill: bool,
        rules: &Rules<'_>,
    ) -> Incident {
        let signal = Signal {
            site: site.to_owned(),
            page: page.map(str::to_owned),
            kind,
            source: SignalSource::Manual,
            score: 100,
            reasons: vec![summary.to_owned()],
            observed_at_ms: discovered_at.as_millisecond(),
            drill,
        };
        let start = ExposureStart {
            at: discovered_at,
            basis: StartBasis::Reported,
        };
        let mut incident = Incident::open(id, summary.to_owned(), &signal, Some(start), rules);
        incident.reporter = Some(reporter.to_owned());
        incident
    }

    /// Since when `site` is cut off from external service, if it is now.
    pub fn cut_off_since(&self, site: &str) -> Option<Timestamp> {
        self.cut_offs
            .iter()
            .rev()
            .find(|cut_off| cut_off.site == site && cut_off.until.is_none())
            .map(|cut_off| cut_off.from)
    }

    /// The flags the state machine needs.
    pub fn flags(&self) -> Flags {
        Flags {
            drill: self.drill,
            false_alarm: self.false_alarm,
        }
    }

    /// The current level decision, if any.
    pub fn decided_level(&self) -> Option<&LevelDecision> {
        self.level_decisions.last()
    }

    /// Both national classifications.
    pub fn classifications(&self) -> Classifications {
        classify_both(self.kind, self.attack_confirmed)
    }

    /// When the incident entered `state`, if it has.
    pub fn entered(&self, state: IncidentState) -> Option<Timestamp> {
        self.state_changes
            .iter()
            .find(|(entered, _)| *entered == state)
            .map(|(_, at)| *at)
    }

    /// The first acknowledgement's time.
    pub fn acknowledged_at(&self) -> Option<Timestamp> {
        self.acknowledgements.iter().map(|ack| ack.at).min()
    }

    /// When the incident stopped needing anything: closed, or marked a
    /// false alarm.
    pub fn finished_at(&self) -> Option<Timestamp> {
        let false_alarm = self
            .timeline
            .events()
            .iter()
            .find(|event| event.kind == EventKind::FalseAlarm)
            .map(|event| event.at);
        match (self.entered(IncidentState::Closed), false_alarm) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn record(&mut self, at: Timestamp, actor: &str, kind: EventKind, detail: String) {
        self.timeline.append(TimelineEvent {
            at,
            actor: actor.to_owned(),
            kind,
            detail,
        });
    }

    fn add_signal(&mut self, signal: &Signal, exposure: Option<ExposureStart>, rules: &Rules<'_>) {
        let at = timestamp_from_ms(signal.observed_at_ms);
        self.signal_count += 1;
        if !self.sites.contains(&signal.site) {
            self.sites.push(signal.site.clone());
        }
        let where_ = match &signal.page {
            Some(page) => format!("{}/{page}", signal.site),
            None => signal.site.clone(),
        };
        self.record(
            at,
            signal.source.as_str(),
            EventKind::Signal,
            format!("{} on {where_}: {}", signal.kind, signal.reasons.join("; ")),
        );
        let (kind, page) = match signal.kind {
            SignalKind::Defacement | SignalKind::HiddenLinks => {
                (ExposureKind::Defaced, signal.page.clone())
            }
            SignalKind::Unavailable | SignalKind::Ddos => (ExposureKind::Unreachable, None),
            SignalKind::WebShell | SignalKind::Other => return,
        };
        // A page defaced again while its exposure is still open is the
        // same exposure.
        if self.exposures.iter().any(|known| {
            known.is_open() && known.site == signal.site && known.page == page && known.kind == kind
        }) {
            return;
        }
        let home = match &page {
            Some(page) => rules.is_home_page(&signal.site, page),
            None => true,
        };
        let start = exposure.unwrap_or(ExposureStart {
            at,
            basis: StartBasis::FirstBadCheck,
        });
        let (start, ended_at) = match self.servable_stretch(&signal.site, &page, kind, start, at) {
            Ok(stretch) => stretch,
            Err(why) => {
                let subject = match &page {
                    Some(page) => format!("{}/{page}", signal.site),
                    None => signal.site.clone(),
                };
                self.record(
                    at,
                    signal.source.as_str(),
                    EventKind::Note,
                    format!("no new exposure of {subject}: {why}"),
                );
                return;
            }
        };
        let exposure = PageExposure {
            site: signal.site.clone(),
            page,
            home,
            kind,
            start,
            ended_at,
            ended_by: ended_at.map(|_| EndBasis::Contained),
        };
        let detail = format!(
            "{} from {} ({:?})",
            exposure.subject_en(),
            start.at,
            start.basis
        );
        let ended = ended_at.map(|ended_at| (ended_at, exposure.describe(ended_at).0));
        self.exposures.push(exposure);
        self.record(
            at,
            signal.source.as_str(),
            EventKind::ExposureStarted,
            detail,
        );
        if let Some((ended_at, detail)) = ended {
            self.record(
                at,
                signal.source.as_str(),
                EventKind::ExposureEnded,
                format!("{detail} (until the site was cut off at {ended_at})"),
            );
        }
    }

    /// When the bad state a signal observed at `at` could be seen, given
    /// that it may have begun at `start`: from `start` (moved later past
    /// what earlier exposures and cut-offs already account for) to the
    /// next cut-off of the site, or still going (`None`). `Err` says why
    /// nothing could be seen at all:
    ///
    /// - a previous exposure of the page ended by containment, and the
    ///   site has not been reopened since: the containment stands, and
    ///   later signals (the probe seeing the maintenance page, the guard
    ///   repairing a file again) do not restart it;
    /// - the site is cut off from `start` on.
    ///
    /// Content seen before a previous exposure of the page ended (it was
    /// restored) is counted in that exposure, and content seen before the
    /// site was reopened could not be seen at all: a new exposure starts
    /// after both.
    fn servable_stretch(
        &self,
        site: &str,
        page: &Option<String>,
        kind: ExposureKind,
        mut start: ExposureStart,
        at: Timestamp,
    ) -> Result<(ExposureStart, Option<Timestamp>), String> {
        let cut_offs: Vec<&CutOff> = self
            .cut_offs
            .iter()
            .filter(|cut_off| cut_off.site == site)
            .collect();
        let reopened_after = |moment: Timestamp| {
            cut_offs
                .iter()
                .any(|cut_off| cut_off.until.is_some_and(|until| until > moment))
        };
        let previous = self
            .exposures
            .iter()
            .filter(|known| known.site == site && known.page == *page && known.kind == kind)
            .filter_map(|known| Some((known.ended_at?, known.ended_by?)))
            .max_by_key(|(ended_at, _)| *ended_at);
        if let Some((ended_at, ended_by)) = previous {
            if ended_by == EndBasis::Contained && !reopened_after(ended_at) {
                return Err(format!(
                    "its exposure ended when it was contained at {ended_at}, and {site} has not \
                     been reopened since"
                ));
            }
            if start.at < ended_at {
                start = ExposureStart {
                    at: ended_at,
                    basis: StartBasis::PreviousEnd,
                };
            }
        }
        if let Some(reopened) = cut_offs
            .iter()
            .filter_map(|cut_off| cut_off.until)
            .filter(|until| *until <= at)
            .max()
            && start.at < reopened
        {
            start = ExposureStart {
                at: reopened,
                basis: StartBasis::Reopened,
            };
        }
        let blocking = cut_offs.iter().filter(|cut_off| cut_off.blocks_after(at));
        if let Some(since) = blocking
            .clone()
            .map(|cut_off| cut_off.from)
            .filter(|from| *from <= start.at)
            .min()
        {
            return Err(format!(
                "{site} is cut off from external service since {since}: nothing it serves can be seen"
            ));
        }
        let ended_at = blocking
            .map(|cut_off| cut_off.from)
            .filter(|from| *from > start.at)
            .min();
        Ok((start, ended_at))
    }

    /// What a signal newly affects, as a change of situation: a site not
    /// affected before, or a page of an affected site whose content
    /// (defaced, hidden links) was not affected before.
    fn newly_affected(&self, signal: &Signal) -> Option<String> {
        if !self.sites.contains(&signal.site) {
            return Some(format!("site {} affected", signal.site));
        }
        let page = signal.page.as_ref()?;
        let shows_content = matches!(
            signal.kind,
            SignalKind::Defacement | SignalKind::HiddenLinks
        );
        let known = self
            .exposures
            .iter()
            .any(|exposure| exposure.site == signal.site && exposure.page.as_ref() == Some(page));
        (shows_content && !known).then(|| format!("page {}/{page} affected", signal.site))
    }

    fn end_exposures(
        &mut self,
        at: Timestamp,
        actor: &str,
        basis: EndBasis,
        matches: impl Fn(&PageExposure) -> bool,
    ) {
        let mut ended = Vec::new();
        for exposure in self
            .exposures
            .iter_mut()
            .filter(|exposure| exposure.is_open() && matches(exposure))
        {
            exposure.ended_at = Some(at.max(exposure.start.at));
            exposure.ended_by = Some(basis);
            ended.push(exposure.describe(at).0);
        }
        for detail in ended {
            self.record(at, actor, EventKind::ExposureEnded, detail);
        }
    }

    /// The request an answer goes to: `request` itself, or — for an
    /// approval of the latest request of a step that was refused — a new
    /// request for that step, asked now.
    fn reconsider(
        &mut self,
        rules: &Rules<'_>,
        request: usize,
        approved: bool,
        roles: &[sitewarden_plan::Role],
        actor: &str,
        at: Timestamp,
    ) -> Result<usize, CommandError> {
        let Some(refused) = self.approvals.get(request) else {
            return Ok(request);
        };
        let was_refused = refused
            .answer
            .as_ref()
            .is_some_and(|answer| !answer.approved);
        let latest = !self
            .approvals
            .iter()
            .skip(request + 1)
            .any(|later| later.step == refused.step);
        if !(approved && was_refused && latest) {
            return Ok(request);
        }
        let step = refused.step;
        let again = ApprovalRequest::for_step(rules, self, step, actor, at)?;
        // Checked before anything changes: a refused command changes nothing.
        if !roles.iter().any(|role| again.approvers.contains(role)) {
            return Err(ApprovalError::NotAnApprover {
                by: actor.to_owned(),
                action: again.action.as_str(),
                allowed: again
                    .approvers
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        self.record(
            at,
            actor,
            EventKind::ApprovalRequested,
            format!(
                "approval of step {step} ({}) asked again after its refusal",
                again.action.as_str()
            ),
        );
        self.approvals.push(again);
        Ok(self.approvals.len() - 1)
    }

    fn move_to(
        &mut self,
        to: IncidentState,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), TransitionError> {
        let from = self.state;
        self.state = transition(from, to, self.flags())?;
        self.state_changes.push((to, at));
        self.record(
            at,
            actor,
            EventKind::StateChanged,
            format!("{from} → {to} ({})", to.name_zh()),
        );
        if matches!(
            to,
            IncidentState::Contained | IncidentState::Recovering | IncidentState::Recovered
        ) {
            self.situation_changes.push(SituationChange {
                at,
                what: format!("state {to}"),
            });
        }
        Ok(())
    }

    /// Moves forward to `to` when the incident is before it; does nothing
    /// when it is already there or past it.
    fn advance_to(
        &mut self,
        to: IncidentState,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), TransitionError> {
        let position = |state| IncidentState::ALL.iter().position(|known| *known == state);
        if position(self.state) < position(to) {
            self.move_to(to, at, actor)?;
        }
        Ok(())
    }

    /// Applies `command`, done by `actor` at `at`. On error nothing changes.
    ///
    /// The clocks met or missed by `at` are settled before the command
    /// (a level or rule change must not rewrite them) and after it (a
    /// report meets one): see `clocks::settle`.
    pub fn apply(
        &mut self,
        rules: &Rules<'_>,
        command: Command,
        actor: &str,
        at: Timestamp,
    ) -> Result<(), CommandError> {
        let settled = settle(rules, self, at);
        self.apply_command(rules, command, actor, at)?;
        self.settled_clocks = settled;
        self.settled_clocks = settle(rules, self, at);
        Ok(())
    }

    fn apply_command(
        &mut self,
        rules: &Rules<'_>,
        command: Command,
        actor: &str,
        at: Timestamp,
    ) -> Result<(), CommandError> {
        let closed = self.state == IncidentState::Closed;
        if closed && !matches!(command, Command::Note { .. } | Command::ActionDone { .. }) {
            return Err(CommandError::Closed);
        }
        match command {
            Command::Signal { signal, exposure } => {
                if signal.drill != self.drill {
                    return Err(CommandError::DrillMismatch {
                        signal_drill: signal.drill,
                    });
                }
                let mut changed = Vec::new();
                if signal.kind.severity() > self.kind.severity() {
                    changed.push(format!("kind {} → {}", self.kind, signal.kind));
                    self.kind = signal.kind;
                }
                changed.extend(self.newly_affected(&signal));
                if !changed.is_empty() {
                    self.situation_changes.push(SituationChange {
                        at,
                        what: changed.join("; "),
                    });
                }
                self.add_signal(&signal, exposure, rules);
            }
            Command::Contain { note } => {
                self.advance_to(IncidentState::Contained, at, actor)?;
                self.end_exposures(at, actor, EndBasis::Contained, |exposure| {
                    exposure.kind == ExposureKind::Defaced
                });
                self.record(at, actor, EventKind::Note, format!("contained: {note}"));
            }
            Command::CutOff { site, note } => {
                self.advance_to(IncidentState::Contained, at, actor)?;
                if self.cut_off_since(&site).is_none() {
                    self.cut_offs.push(CutOff {
                        site: site.clone(),
                        from: at,
                        until: None,
                    });
                }
                self.end_exposures(at, actor, EndBasis::Contained, |exposure| {
                    exposure.kind == ExposureKind::Defaced && exposure.site == site
                });
                self.record(
                    at,
                    actor,
                    EventKind::Note,
                    format!("contained: site {site} cut off {note}"),
                );
            }
            Command::Reopen { site, note } => {
                if let Some(cut_off) = self
                    .cut_offs
                    .iter_mut()
                    .rev()
                    .find(|cut_off| cut_off.site == site && cut_off.until.is_none())
                {
                    cut_off.until = Some(at.max(cut_off.from));
                }
                self.situation_changes.push(SituationChange {
                    at,
                    what: format!("site {site} reopened"),
                });
                self.record(
                    at,
                    actor,
                    EventKind::Note,
                    format!("site {site} reopened {note}"),
                );
            }
            Command::Restore { site, page } => {
                self.end_exposures(at, actor, EndBasis::Restored, |exposure| {
                    site.as_ref().is_none_or(|site| *site == exposure.site)
                        && page
                            .as_ref()
                            .is_none_or(|page| exposure.page.as_ref() == Some(page))
                });
            }
            Command::Report { kind, note } => {
                if kind == ReportKind::Initial {
                    self.advance_to(IncidentState::Reported, at, actor)?;
                }
                if kind == ReportKind::Final {
                    self.advance_to(IncidentState::Reviewed, at, actor)?;
                }
                self.reports.push(ReportRecord {
                    kind,
                    at,
                    by: actor.to_owned(),
                    note: note.clone(),
                });
                self.record(
                    at,
                    actor,
                    EventKind::ReportSent,
                    format!("{} report: {note}", kind.as_str()),
                );
            }
            Command::DecideLevel { level, reason } => {
                if rules.plan.level(&level).is_none() {
                    return Err(CommandError::UnknownLevel {
                        level,
                        known: rules
                            .plan
                            .levels
                            .iter()
                            .map(|level| level.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                if reason.trim().is_empty() {
                    return Err(CommandError::Empty("the reason for a level"));
                }
                self.advance_to(IncidentState::Assessed, at, actor)?;
                let previous = self.decided_level().map(|decision| decision.level.clone());
                if previous.as_deref() != Some(level.as_str()) {
                    self.situation_changes.push(SituationChange {
                        at,
                        what: format!("level {}", level),
                    });
                }
                self.record(
                    at,
                    actor,
                    EventKind::LevelDecided,
                    match &previous {
                        Some(previous) => format!("level {previous} → {level}: {reason}"),
                        None => format!("level {level}: {reason}"),
                    },
                );
                self.level_decisions.push(LevelDecision {
                    level,
                    by: actor.to_owned(),
                    reason,
                    at,
                });
            }
            Command::Acknowledge => {
                self.acknowledgements.push(Acknowledgement {
                    by: actor.to_owned(),
                    at,
                });
                self.record(
                    at,
                    actor,
                    EventKind::Acknowledged,
                    "acknowledged: escalation stops".to_owned(),
                );
            }
            Command::Transition { to } => {
                if to == IncidentState::Assessed && self.decided_level().is_none() {
                    return Err(CommandError::LevelNotDecided);
                }
                // The procedure's own order first (review before close).
                crate::state::transition(self.state, to, self.flags())?;
                if to == IncidentState::Closed
                    && let Some(owed) =
                        crate::clocks::clocks(rules, self, at)
                            .into_iter()
                            .find(|clock| {
                                clock.name == crate::clocks::ClockName::NationalReport
                                    && clock.done_at.is_none()
                            })
                {
                    return Err(CommandError::NationalReportOwed { due: owed.due });
                }
                self.move_to(to, at, actor)?;
                if to == IncidentState::Recovered {
                    self.end_exposures(at, actor, EndBasis::Restored, |_| true);
                }
            }
            Command::FalseAlarm { reason } => {
                if reason.trim().is_empty() {
                    return Err(CommandError::Empty("the reason for a false alarm"));
                }
                self.false_alarm = true;
                self.end_exposures(at, actor, EndBasis::Restored, |_| true);
                self.record(at, actor, EventKind::FalseAlarm, reason);
            }
            Command::ConfirmAttack { note } => {
                if self.kind != SignalKind::Unavailable {
                    return Err(CommandError::NotAnOutage(self.kind));
                }
                self.attack_confirmed = true;
                self.record(at, actor, EventKind::AttackConfirmed, note);
            }
            Command::RequestApproval { step } => {
                let request = ApprovalRequest::for_step(rules, self, step, actor, at)?;
                let detail = format!(
                    "approval asked for step {step} ({}) from {}",
                    request.action.as_str(),
                    request
                        .approvers
                        .iter()
                        .map(|role| role.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.approvals.push(request);
                self.record(at, actor, EventKind::ApprovalRequested, detail);
            }
            Command::AnswerApproval {
                request,
                approved,
                roles,
                note,
            } => {
                let answer = ApprovalAnswer {
                    approved,
                    by: actor.to_owned(),
                    at,
                    note: note.clone(),
                };
                // A commander who said "not yet" can say yes later: the
                // refused request stays as it was, a new one for the same
                // step is asked and approved, both in the timeline. (A yes
                // is final: the step may already have run.)
                let request = self.reconsider(rules, request, approved, &roles, actor, at)?;
                let entry = self
                    .approvals
                    .get_mut(request)
                    .ok_or(ApprovalError::UnknownRequest { request })?;
                entry.answer_with(answer, &roles)?;
                let action = entry.action;
                self.record(
                    at,
                    actor,
                    EventKind::ApprovalAnswered,
                    format!(
                        "{} {}{}",
                        if approved { "approved" } else { "refused" },
                        action.as_str(),
                        if note.is_empty() {
                            String::new()
                        } else {
                            format!(": {note}")
                        }
                    ),
                );
            }
            Command::Contacted {
                contact,
                fax_sent,
                note,
            } => {
                let Some(known) = rules.plan.external_contact(&contact) else {
                    let ids: Vec<&str> = rules
                        .plan
                        .external_contacts
                        .iter()
                        .map(|contact| contact.id.as_str())
                        .collect();
                    return Err(CommandError::UnknownContact {
                        contact,
                        known: if ids.is_empty() {
                            "none".into()
                        } else {
                            ids.join(", ")
                        },
                    });
                };
                let detail = format!(
                    "{} ({contact}) reached by phone{}{}",
                    known.name,
                    if fax_sent { ", fax sent" } else { "" },
                    if note.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {note}")
                    }
                );
                self.contacts_reached.push(ContactReached {
                    contact,
                    by: actor.to_owned(),
                    at,
                    fax_sent,
                    note,
                });
                self.record(at, actor, EventKind::ContactReached, detail);
            }
            Command::ActionDone { key, detail } => {
                if self.actions_done.insert(key.clone()) {
                    self.record(at, actor, EventKind::ActionDone, format!("{key}: {detail}"));
                }
            }
            Command::Note { text } => {
                if text.trim().is_empty() {
                    return Err(CommandError::Empty("a note"));
                }
                self.record(at, actor, EventKind::Note, text);
            }
        }
        Ok(())
    }
}
