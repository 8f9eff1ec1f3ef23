//! Exposure time: how long tampered content could have been served, or a
//! site was down, per page (home pages marked). It is the measurement the
//! national grading guide's website indicators are written in, so it feeds
//! the suggested level and every report.
//!
//! An exposure starts at the first moment the bad state could have been
//! seen — the guard's event time when the guard saw the file change, else
//! the last clean check before the bad one (the content may have changed
//! right after it), else the bad check itself — and ends at containment or
//! restore. An exposure still open is measured up to `now`.
//!
//! While a site is cut off from external service ([`CutOff`]: switched to
//! maintenance through its containment backend) nothing it serves can be
//! seen, so no exposure runs then: a signal during a cut-off starts none,
//! and one after the site is reopened starts no earlier than the reopening.

use crate::time::{human_duration, human_duration_zh, seconds_between};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What was exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureKind {
    /// Tampered content could be served.
    Defaced,
    /// The site could not be reached.
    Unreachable,
}

/// What the start of an exposure rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartBasis {
    /// The guard saw the file change at this time.
    GuardEvent,
    /// The tampered file's inode changed at this time (its `ctime`, which
    /// user space cannot set back), before the guard found it: a change
    /// made while nothing watched, found by a full check or at start-up.
    FileChanged,
    /// The last check that found the page clean (or the site up).
    LastCleanCheck,
    /// The first check that found it bad (no earlier clean check known).
    FirstBadCheck,
    /// A person said when it began.
    Reported,
    /// The site was reopened (switched back to serving after a cut-off)
    /// with the page still bad: it could be seen again from then, not
    /// before.
    Reopened,
    /// The page's previous exposure of the same kind ended here (it was
    /// restored): whatever was seen before is counted in that one.
    PreviousEnd,
}

/// What ended an exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndBasis {
    /// The site was cut off from external service.
    Contained,
    /// The page was put back, or the site came back up.
    Restored,
}

/// When an exposure began and on what evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureStart {
    /// The moment.
    pub at: Timestamp,
    /// What it rests on.
    pub basis: StartBasis,
}

impl ExposureStart {
    /// The earliest moment the evidence allows: the guard's event time if
    /// known, else the last clean check, else the first bad check. Times
    /// after the bad check (clock skew) are ignored.
    pub fn from_evidence(
        guard_event: Option<Timestamp>,
        last_clean_check: Option<Timestamp>,
        first_bad_check: Timestamp,
    ) -> ExposureStart {
        let usable = |at: Option<Timestamp>| at.filter(|at| *at <= first_bad_check);
        if let Some(at) = usable(guard_event) {
            ExposureStart {
                at,
                basis: StartBasis::GuardEvent,
            }
        } else if let Some(at) = usable(last_clean_check) {
            ExposureStart {
                at,
                basis: StartBasis::LastCleanCheck,
            }
        } else {
            ExposureStart {
                at: first_bad_check,
                basis: StartBasis::FirstBadCheck,
            }
        }
    }
}

/// A time a site was cut off from external service: switched to
/// maintenance through its containment backend (the gateway, nginx, a
/// command) and back. Visitors get the maintenance page, so nothing the
/// site serves is exposed while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutOff {
    /// The plan's site name.
    pub site: String,
    /// When the switch to maintenance was in force.
    pub from: Timestamp,
    /// When the site was switched back to serving; `None` while it is
    /// still cut off.
    pub until: Option<Timestamp>,
}

impl CutOff {
    /// Whether the cut-off is still in force at `at`, or began after it
    /// and has not ended by then (a signal observed just before the switch
    /// and recorded after it).
    pub fn blocks_after(&self, at: Timestamp) -> bool {
        self.until.is_none_or(|until| until > at)
    }
}

/// One page's (or, for an outage, one site's) exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageExposure {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name; `None` for a whole site down.
    pub page: Option<String>,
    /// Whether the page is a home page.
    pub home: bool,
    /// What was exposed.
    pub kind: ExposureKind,
    /// When it began.
    pub start: ExposureStart,
    /// When it ended, if it has.
    pub ended_at: Option<Timestamp>,
    /// What ended it.
    pub ended_by: Option<EndBasis>,
}

impl PageExposure {
    /// Seconds exposed, up to `now` while still open.
    pub fn seconds(&self, now: Timestamp) -> i64 {
        seconds_between(self.start.at, self.ended_at.unwrap_or(now)).max(0)
    }

    /// Whether it is still going on.
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }

    /// "home page of portal", "page notices of portal", "site portal".
    pub fn subject_en(&self) -> String {
        match (&self.page, self.home) {
            (Some(_), true) => format!("home page of {}", self.site),
            (Some(page), false) => format!("page {page} of {}", self.site),
            (None, _) => format!("site {}", self.site),
        }
    }

    /// "portal 首页", "portal 页面 notices", "网站 portal".
    pub fn subject_zh(&self) -> String {
        match (&self.page, self.home) {
            (Some(_), true) => format!("{} 首页", self.site),
            (Some(page), false) => format!("{} 页面 {page}", self.site),
            (None, _) => format!("网站 {}", self.site),
        }
    }

    /// "home page of portal showed defaced content for 4 min 12 s" (with
    /// "so far" while open), in English and Chinese.
    pub fn describe(&self, now: Timestamp) -> (String, String) {
        let seconds = self.seconds(now);
        let (so_far_en, so_far_zh) = if self.is_open() {
            (" so far", "（仍在持续）")
        } else {
            ("", "")
        };
        match self.kind {
            ExposureKind::Defaced => (
                format!(
                    "{} showed defaced content for {}{so_far_en}",
                    self.subject_en(),
                    human_duration(seconds)
                ),
                format!(
                    "{}出现篡改内容{}{so_far_zh}",
                    self.subject_zh(),
                    human_duration_zh(seconds)
                ),
            ),
            ExposureKind::Unreachable => (
                format!(
                    "{} could not be reached for {}{so_far_en}",
                    self.subject_en(),
                    human_duration(seconds)
                ),
                format!(
                    "{}不能访问{}{so_far_zh}",
                    self.subject_zh(),
                    human_duration_zh(seconds)
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        format!("2025-03-03T{text}+08:00").parse().expect("a time")
    }

    fn check(
        guard: Option<&str>,
        last_clean: Option<&str>,
        first_bad: &str,
        expected: (&str, StartBasis),
    ) {
        let start = ExposureStart::from_evidence(guard.map(at), last_clean.map(at), at(first_bad));
        assert_eq!((start.at, start.basis), (at(expected.0), expected.1));
    }

    #[test]
    fn exposure_starts_at_the_first_moment_the_content_could_be_served() {
        use StartBasis::*;
        check(
            Some("08:59:30"),
            Some("08:59:00"),
            "09:00:00",
            ("08:59:30", GuardEvent),
        );
        check(
            None,
            Some("08:59:00"),
            "09:00:00",
            ("08:59:00", LastCleanCheck),
        );
        check(None, None, "09:00:00", ("09:00:00", FirstBadCheck));
        // A guard time after the bad check is clock skew: not believed.
        check(
            Some("09:05:00"),
            Some("08:59:00"),
            "09:00:00",
            ("08:59:00", LastCleanCheck),
        );
    }

    #[test]
    fn exposure_is_measured_to_the_end_or_to_now() {
        let mut exposure = PageExposure {
            site: "portal".into(),
            page: Some("home".into()),
            home: true,
            kind: ExposureKind::Defaced,
            start: ExposureStart {
                at: at("09:00:00"),
                basis: StartBasis::LastCleanCheck,
            },
            ended_at: None,
            ended_by: None,
        };
        assert_eq!(exposure.seconds(at("09:04:12")), 252);
        assert_eq!(
            exposure.describe(at("09:04:12")).0,
            "home page of portal showed defaced content for 4 min 12 s so far"
        );
        exposure.ended_at = Some(at("09:04:12"));
        exposure.ended_by = Some(EndBasis::Contained);
        assert_eq!(exposure.seconds(at("12:00:00")), 252);
        assert_eq!(
            exposure.describe(at("12:00:00")),
            (
                "home page of portal showed defaced content for 4 min 12 s".to_owned(),
                "portal 首页出现篡改内容4分12秒".to_owned()
            )
        );
    }
}
