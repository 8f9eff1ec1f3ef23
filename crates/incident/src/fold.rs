//! Folding: signals on the same site join the site's open incident rather
//! than opening one incident per check; and a signal on another site of
//! the same kind, soon after, joins it too — one attack on several sites
//! is one incident (PLAN §2 grades by how many sites an incident
//! paralyses; the plan's `level_rules.min_sites` counts them). The
//! plan's `[correlation] window_minutes` says how soon.

use crate::classification::{Classification, classify};
use crate::model::{OpenIncident, Signal, SignalKind};

/// What to do with a new signal.
#[derive(Debug, Clone, PartialEq)]
pub enum FoldDecision {
    /// Open a new incident, discovered at the signal's time.
    Open {
        /// The incident's kind (the signal's).
        kind: SignalKind,
        /// Its classification.
        classification: Classification,
        /// A one-line title for lists.
        title: String,
    },
    /// Attach the signal to an incident that is already open.
    Attach {
        /// The open incident's id.
        incident_id: i64,
        /// Set when the new signal is more serious than anything the
        /// incident had (a down site that turns out defaced): the incident
        /// takes the new kind and classification.
        reclassify: Option<(SignalKind, Classification)>,
    },
}

/// Decides where a signal goes, given the open incident that covers the
/// signal's site or, when none does, the latest open incident of another
/// site (the candidate for correlation), and the correlation window in
/// milliseconds (0: sites never share an incident).
///
/// A drill signal never joins a real incident and a real signal never joins
/// a drill: mixing them would either hide an attack inside an exercise or
/// report an exercise upward as an attack.
pub fn fold(open: Option<&OpenIncident>, signal: &Signal, window_ms: i64) -> FoldDecision {
    if let Some(incident) = open.filter(|incident| {
        incident.state.takes_new_signals()
            && incident.drill == signal.drill
            && (incident.sites.contains(&signal.site) || correlates(incident, signal, window_ms))
    }) {
        let reclassify = (signal.kind.severity() > incident.kind.severity())
            .then(|| (signal.kind, classify(signal.kind, false)));
        return FoldDecision::Attach {
            incident_id: incident.id,
            reclassify,
        };
    }
    FoldDecision::Open {
        kind: signal.kind,
        classification: classify(signal.kind, false),
        title: title_for(signal),
    }
}

/// Whether a signal on a site the incident does not cover yet is the same
/// attack: a related kind, observed within the window after the
/// incident's discovery.
pub fn correlates(incident: &OpenIncident, signal: &Signal, window_ms: i64) -> bool {
    let after = signal.observed_at_ms - incident.discovered_at_ms;
    window_ms > 0
        && !incident.sites.contains(&signal.site)
        && signal.kind.correlates_with(incident.kind)
        && (0..=window_ms).contains(&after)
}

fn title_for(signal: &Signal) -> String {
    let what = match signal.kind {
        SignalKind::Defacement => "网页篡改 defacement",
        SignalKind::Unavailable => "网站不可访问 unavailable",
        SignalKind::WebShell => "网页后门 web shell",
        SignalKind::HiddenLinks => "网页暗链 hidden links",
        SignalKind::Ddos => "拒绝服务攻击 DDoS",
        SignalKind::Other => "其他事件 other",
    };
    let drill = if signal.drill { "[演练 drill] " } else { "" };
    match &signal.page {
        Some(page) => format!("{drill}{what}: {}/{page}", signal.site),
        None => format!("{drill}{what}: {}", signal.site),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IncidentState, SignalSource};

    fn signal(site: &str, kind: SignalKind, drill: bool) -> Signal {
        Signal {
            site: site.to_string(),
            page: Some("home".to_string()),
            kind,
            source: SignalSource::Probe,
            score: 80,
            reasons: vec!["title changed".to_string()],
            observed_at_ms: 1_000,
            drill,
        }
    }

    fn open(site: &str, kind: SignalKind, state: IncidentState, drill: bool) -> OpenIncident {
        OpenIncident {
            id: 7,
            site: site.to_string(),
            sites: vec![site.to_string()],
            discovered_at_ms: 0,
            kind,
            state,
            drill,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Expected {
        Open,
        Attach,
        AttachReclassified,
    }

    fn check(open: Option<OpenIncident>, signal: Signal, expected: Expected) {
        let actual = match fold(open.as_ref(), &signal, 0) {
            FoldDecision::Open { .. } => Expected::Open,
            FoldDecision::Attach {
                reclassify: None, ..
            } => Expected::Attach,
            FoldDecision::Attach {
                reclassify: Some(_),
                ..
            } => Expected::AttachReclassified,
        };
        assert_eq!(actual, expected, "open={open:?} signal={signal:?}");
    }

    #[test]
    fn folding_rules() {
        use IncidentState::*;
        use SignalKind::*;
        check(None, signal("portal", Defacement, false), Expected::Open);
        check(
            Some(open("portal", Defacement, Detected, false)),
            signal("portal", Defacement, false),
            Expected::Attach,
        );
        check(
            Some(open("portal", Unavailable, Contained, false)),
            signal("portal", Defacement, false),
            Expected::AttachReclassified,
        );
        check(
            Some(open("portal", Defacement, Detected, false)),
            signal("portal", Unavailable, false),
            Expected::Attach,
        );
        // After recovery a new defacement is a new incident.
        check(
            Some(open("portal", Defacement, Recovered, false)),
            signal("portal", Defacement, false),
            Expected::Open,
        );
        // Drills and real incidents never mix.
        check(
            Some(open("portal", Defacement, Detected, true)),
            signal("portal", Defacement, false),
            Expected::Open,
        );
        // Another site's incident is not this site's.
        check(
            Some(open("zfcg", Defacement, Detected, false)),
            signal("portal", Defacement, false),
            Expected::Open,
        );
    }

    #[test]
    fn another_sites_signal_of_a_related_kind_within_the_window_joins() {
        use IncidentState::*;
        use SignalKind::*;
        const HOUR: i64 = 3_600_000;
        // The signal is observed at 1 s; the open incident on zfcg was
        // discovered at 0.
        let zfcg = |kind, state, drill| open("zfcg", kind, state, drill);
        let joins = |open: OpenIncident, signal: Signal, window: i64| {
            matches!(
                fold(Some(&open), &signal, window),
                FoldDecision::Attach { incident_id: 7, .. }
            )
        };
        assert!(joins(
            zfcg(Defacement, Contained, false),
            signal("portal", Defacement, false),
            HOUR
        ));
        // Hidden links and defacement are both tampering: one campaign.
        assert!(joins(
            zfcg(Defacement, Detected, false),
            signal("portal", HiddenLinks, false),
            HOUR
        ));
        // Not with correlation off, another kind, a drill, a recovered
        // incident, or after the window.
        assert!(!joins(
            zfcg(Defacement, Detected, false),
            signal("portal", Defacement, false),
            0
        ));
        assert!(!joins(
            zfcg(Unavailable, Detected, false),
            signal("portal", Defacement, false),
            HOUR
        ));
        assert!(!joins(
            zfcg(Defacement, Detected, true),
            signal("portal", Defacement, false),
            HOUR
        ));
        assert!(!joins(
            zfcg(Defacement, Recovered, false),
            signal("portal", Defacement, false),
            HOUR
        ));
        let mut late = signal("portal", Defacement, false);
        late.observed_at_ms = HOUR + 1;
        assert!(!joins(zfcg(Defacement, Detected, false), late, HOUR));
        // A site already covered joins whatever the window.
        let mut covered = zfcg(Unavailable, Detected, false);
        covered.sites.push("portal".into());
        assert!(joins(covered, signal("portal", Defacement, false), 0));
    }

    #[test]
    fn titles_mark_drills() {
        let FoldDecision::Open { title, .. } =
            fold(None, &signal("portal", SignalKind::Defacement, true), 0)
        else {
            panic!("expected a new incident");
        };
        assert_eq!(title, "[演练 drill] 网页篡改 defacement: portal/home");
    }
}
