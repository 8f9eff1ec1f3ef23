//! Semantic rules over the response sections (`response.rs`): every level,
//! role, channel, contact and person they name must exist, every time
//! must be a time and every date a day of the calendar, duty calendar
//! entries must not contradict each other, every channel must have what
//! its type needs and nothing its type does not use.

use super::{Checker, ResponseParts, UNKNOWN_LEVEL, is_email, is_http_url, parse_hh_mm, repeat_of};
use crate::model::{Deadlines, Role};
use crate::path;
use crate::response::{
    CalendarDate, CalendarEntry, Channel, ChannelKind, DEFAULT_ROUTE, Duty, Escalation,
    EscalationStep, ExternalContact, IncidentKind, LevelRule, MAX_CORRELATION_MINUTES, Regulatory,
    Routing, StepMode,
};
use crate::validate::{Items, Parts};
use std::collections::HashMap;

/// The longest pace a channel may set: a notification held back more than
/// an hour by its own channel is no longer a notification.
const MAX_CHANNEL_INTERVAL_MS: u64 = 60 * 60 * 1000;

/// The names other sections may refer to.
pub(super) struct Context<'a> {
    /// Level ids, in the plan's order.
    levels: Vec<&'a str>,
    /// Roster names with their roles.
    people: Vec<(&'a str, &'a [Role])>,
    channel_ids: Vec<&'a str>,
    contact_ids: Vec<&'a str>,
    /// Whether the levels section loaded; when it did not, level references
    /// are not judged (its error is already reported).
    levels_known: bool,
}

impl<'a> Context<'a> {
    pub(super) fn of(parts: &Parts<'a>) -> Self {
        Context {
            levels: parts
                .levels
                .loaded
                .iter()
                .map(|(_, level)| level.id.as_str())
                .collect(),
            levels_known: parts.levels.total > 0 && parts.levels.loaded.len() == parts.levels.total,
            people: parts
                .roster
                .loaded
                .iter()
                .map(|(_, person)| (person.name.as_str(), person.roles.as_slice()))
                .collect(),
            channel_ids: parts.response.channel_ids.clone(),
            contact_ids: parts.response.contact_ids.clone(),
        }
    }
}

/// "a, b, c" without repeats, or `none` when empty.
fn known_list(names: &[&str], none: &str) -> String {
    let mut known: Vec<&str> = Vec::with_capacity(names.len());
    for name in names {
        if !known.contains(name) {
            known.push(name);
        }
    }
    if known.is_empty() {
        none.to_owned()
    } else {
        known.join(", ")
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a portable environment variable name.
fn is_env_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// `[a-z0-9][a-z0-9_-]*`: an id other sections refer to.
fn is_reference_id(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

impl Checker {
    fn level_reference(&mut self, at: String, id: &str, context: &Context<'_>) {
        if context.levels_known && !context.levels.contains(&id) {
            self.report(
                at,
                format!(
                    "{UNKNOWN_LEVEL}{}; levels: {}",
                    path::quoted(id),
                    known_list(&context.levels, "none are defined ([[levels]])")
                ),
            );
        }
    }

    fn channel_reference(&mut self, at: String, id: &str, context: &Context<'_>) {
        if !context.channel_ids.contains(&id) {
            self.report(
                at,
                format!(
                    "unknown channel {}; channels: {}",
                    path::quoted(id),
                    known_list(&context.channel_ids, "none are defined ([[channels]])")
                ),
            );
        }
    }

    fn channel_references(&mut self, at: &str, ids: &[String], context: &Context<'_>) {
        for (index, id) in ids.iter().enumerate() {
            self.channel_reference(path::index(at, index), id, context);
        }
    }

    fn at_least_one_minute(&mut self, at: String, minutes: u32) {
        if minutes == 0 {
            self.report(at, "must be at least 1 minute");
        }
    }

    pub(super) fn deadline_levels(&mut self, deadlines: &Deadlines, context: &Context<'_>) {
        self.at_least_one_minute(
            "deadlines.progress_report_minutes".into(),
            deadlines.progress_report_minutes,
        );
        for (index, level) in deadlines.serious_levels.iter().enumerate() {
            self.level_reference(
                path::index("deadlines.serious_levels", index),
                level,
                context,
            );
        }
    }

    pub(super) fn response(&mut self, parts: &ResponseParts<'_>, context: &Context<'_>) {
        if let Some(regulatory) = parts.regulatory {
            self.regulatory(regulatory, context);
        }
        self.level_rules(&parts.level_rules, context);
        self.external_contacts(&parts.external_contacts, context);
        if let Some(escalation) = parts.escalation {
            self.escalation(escalation, context);
        }
        if let Some(duty) = parts.duty {
            self.duty(duty, context);
        }
        self.playbooks(&parts.playbooks);
        self.channels(&parts.channels);
        if let Some(routing) = parts.routing {
            self.routing(routing, context);
        }
        if let Some(correlation) = parts.correlation
            && correlation.window_minutes > MAX_CORRELATION_MINUTES
        {
            self.report(
                "correlation.window_minutes",
                format!(
                    "{} is more than a day ({MAX_CORRELATION_MINUTES}): attacks that far apart \
                     are separate incidents; 0 turns correlation off",
                    correlation.window_minutes
                ),
            );
        }
    }

    fn regulatory(&mut self, regulatory: &Regulatory, context: &Context<'_>) {
        self.level_reference(
            "regulatory.report_from_level".into(),
            &regulatory.report_from_level,
            context,
        );
        let windows = &regulatory.reporting_windows;
        for (key, minutes) in [
            (
                "critical_infrastructure_minutes",
                windows.critical_infrastructure_minutes,
            ),
            (
                "central_state_organ_minutes",
                windows.central_state_organ_minutes,
            ),
            ("other_minutes", windows.other_minutes),
        ] {
            self.at_least_one_minute(path::key("regulatory.reporting_windows", key), minutes);
        }
        for (index, indicator) in regulatory.indicators.iter().enumerate() {
            let at = path::index("regulatory.indicators", index);
            self.level_reference(path::key(&at, "level"), &indicator.level, context);
            self.at_least_one_minute(path::key(&at, "minutes"), indicator.minutes);
            if indicator.tiers.is_empty() {
                self.report(
                    path::key(&at, "tiers"),
                    "at least one site tier is required (provincial_government_portal, \
                     city_government_portal, central_news_site, news_site, company_portal, other)",
                );
            }
            self.not_blank(path::key(&at, "source"), &indicator.source);
        }
    }

    fn level_rules(&mut self, rules: &Items<'_, LevelRule>, context: &Context<'_>) {
        for &(index, rule) in &rules.loaded {
            let at = path::index("level_rules", index);
            self.level_reference(path::key(&at, "level"), &rule.level, context);
            if rule.min_sites == Some(0) {
                self.report(path::key(&at, "min_sites"), "must be at least 1");
            }
        }
    }

    fn external_contacts(&mut self, contacts: &Items<'_, ExternalContact>, context: &Context<'_>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for &(index, contact) in &contacts.loaded {
            let at = path::index("external_contacts", index);
            self.reference_id(&path::key(&at, "id"), &contact.id);
            if let Some(first) = repeat_of(&mut seen, contact.id.as_str(), index) {
                self.report(
                    path::key(&at, "id"),
                    format!(
                        "duplicate contact id {} (also external_contacts[{first}])",
                        path::quoted(&contact.id)
                    ),
                );
            }
            self.not_blank(path::key(&at, "name"), &contact.name);
            let blank =
                |value: &Option<String>| value.as_deref().is_none_or(|v| v.trim().is_empty());
            if blank(&contact.phone) && blank(&contact.fax) {
                self.report(
                    at.clone(),
                    "a phone or a fax number is required: the contact becomes a call/fax task",
                );
            }
            if let Some(level) = &contact.min_level {
                self.level_reference(path::key(&at, "min_level"), level, context);
            }
        }
    }

    fn reference_id(&mut self, at: &str, id: &str) {
        if !is_reference_id(id) {
            self.report(
                at.to_owned(),
                format!(
                    "{} is not a valid id: use lower-case letters, digits, \"-\" and \"_\", \
                     starting with a letter or digit",
                    path::quoted(id)
                ),
            );
        }
    }

    fn escalation(&mut self, escalation: &Escalation, context: &Context<'_>) {
        if escalation.chains.is_empty() {
            self.report(
                "escalation.chains",
                "at least one chain is required ([[escalation.chains]])",
            );
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut kinds: HashMap<IncidentKind, usize> = HashMap::new();
        let mut catch_all: Option<usize> = None;
        for (index, chain) in escalation.chains.iter().enumerate() {
            let at = path::index("escalation.chains", index);
            self.not_blank(path::key(&at, "name"), &chain.name);
            if let Some(first) = repeat_of(&mut names, chain.name.as_str(), index) {
                self.report(
                    path::key(&at, "name"),
                    format!(
                        "duplicate chain name {} (also escalation.chains[{first}])",
                        path::quoted(&chain.name)
                    ),
                );
            }
            if chain.kinds.is_empty() {
                match catch_all {
                    Some(first) => self.report(
                        path::key(&at, "kinds"),
                        format!(
                            "escalation.chains[{first}] already takes every kind; \
                             this chain is never used: give it kinds = [\"…\"]"
                        ),
                    ),
                    None => catch_all = Some(index),
                }
            }
            for (kind_index, kind) in chain.kinds.iter().enumerate() {
                if let Some(&first) = kinds.get(kind) {
                    self.report(
                        path::index(&path::key(&at, "kinds"), kind_index),
                        format!(
                            "kind {} already goes to escalation.chains[{first}]",
                            path::quoted(kind.as_str())
                        ),
                    );
                } else {
                    kinds.insert(*kind, index);
                }
            }
            if chain.steps.is_empty() {
                self.report(
                    path::key(&at, "steps"),
                    "at least one step is required ([[escalation.chains.steps]])",
                );
            }
            for (step_index, step) in chain.steps.iter().enumerate() {
                let step_at = path::index(&path::key(&at, "steps"), step_index);
                self.escalation_step(&step_at, step, context);
            }
        }
    }

    fn escalation_step(&mut self, at: &str, step: &EscalationStep, context: &Context<'_>) {
        if step.roles.is_empty() && step.contacts.is_empty() {
            self.report(
                at.to_owned(),
                "a step needs roles = [\"…\"] to tell or contacts = [\"…\"] to call",
            );
        }
        for (index, contact) in step.contacts.iter().enumerate() {
            if !context.contact_ids.contains(&contact.as_str()) {
                self.report(
                    path::index(&path::key(at, "contacts"), index),
                    format!(
                        "unknown contact {}; contacts: {}",
                        path::quoted(contact),
                        known_list(
                            &context.contact_ids,
                            "none are defined ([[external_contacts]])"
                        )
                    ),
                );
            }
        }
        if step.repeat > 0 && step.repeat_every_minutes == 0 {
            self.report(
                path::key(at, "repeat_every_minutes"),
                "must be at least 1 minute when repeat is set",
            );
        }
        if let Some(level) = &step.min_level {
            self.level_reference(path::key(at, "min_level"), level, context);
        }
        self.channel_references(&path::key(at, "channels"), &step.channels, context);
    }

    fn duty(&mut self, duty: &Duty, context: &Context<'_>) {
        for (index, shift) in duty.shifts.iter().enumerate() {
            let at = path::index("duty.shifts", index);
            self.not_blank(path::key(&at, "name"), &shift.name);
            let start = parse_hh_mm(&shift.start);
            let end = parse_hh_mm(&shift.end);
            for (key, text, parsed) in [("start", &shift.start, start), ("end", &shift.end, end)] {
                if parsed.is_none() {
                    self.report(
                        path::key(&at, key),
                        format!(
                            "{} is not a 24-hour time \"HH:MM\" such as \"08:30\"",
                            path::quoted(text)
                        ),
                    );
                }
            }
            if start.is_some() && start == end {
                self.report(
                    path::key(&at, "end"),
                    "a shift must not end when it starts (for a 24-hour shift, end one minute \
                     earlier or split it)",
                );
            }
            self.duty_people(&path::key(&at, "people"), &shift.people, context);
        }
        self.duty_calendar(&duty.calendar, context);
    }

    /// The people of a shift or a calendar day: at least one, each on the
    /// roster with the `duty_officer` role.
    fn duty_people(&mut self, at: &str, people: &[String], context: &Context<'_>) {
        if people.is_empty() {
            self.report(at.to_owned(), "at least one person is required");
        }
        for (person_index, name) in people.iter().enumerate() {
            let person_at = path::index(at, person_index);
            match context.people.iter().find(|(known, _)| known == name) {
                None => {
                    let names: Vec<&str> = context.people.iter().map(|(name, _)| *name).collect();
                    self.report(
                        person_at,
                        format!(
                            "unknown person {}; roster: {}",
                            path::quoted(name),
                            known_list(&names, "no one is on it ([[roster]])")
                        ),
                    );
                }
                Some((_, roles)) if !roles.contains(&Role::DutyOfficer) => self.report(
                    person_at,
                    format!(
                        "{} does not hold the duty_officer role in the roster",
                        path::quoted(name)
                    ),
                ),
                Some(_) => {}
            }
        }
    }

    /// `[[duty.calendar]]`: each entry's days and what it does with them,
    /// then entries that contradict each other on a day they share.
    fn duty_calendar(&mut self, calendar: &[CalendarEntry], context: &Context<'_>) {
        // Entries whose days are readable, for the overlap checks.
        let mut readable: Vec<(usize, &CalendarEntry, CalendarDate, CalendarDate)> = Vec::new();
        for (index, entry) in calendar.iter().enumerate() {
            let at = path::index("duty.calendar", index);
            self.calendar_days(&at, entry);
            match (&entry.like, &entry.people) {
                (None, None) => self.report(
                    path::key(&at, "like"),
                    "missing: give like = \"sun\" (the day is staffed as that weekday) or \
                     people = [\"…\"] (these people are on duty all day)",
                ),
                (Some(_), Some(_)) => self.report(
                    path::key(&at, "people"),
                    "give like or people, not both: people replace every shift that starts on \
                     the day, so like would change nothing",
                ),
                _ => {}
            }
            if let Some(people) = &entry.people {
                self.duty_people(&path::key(&at, "people"), people, context);
            }
            if let Some(note) = &entry.note {
                self.not_blank(path::key(&at, "note"), note);
            }
            if let Some((first, last)) = entry.days() {
                readable.push((index, entry, first, last));
            }
        }
        for (position, &(index, entry, first, last)) in readable.iter().enumerate() {
            let at = path::index("duty.calendar", index);
            let earlier = &readable[..position];
            let shared = |other_first: CalendarDate, other_last: CalendarDate| {
                (other_first <= last && first <= other_last).then(|| first.max(other_first))
            };
            if let Some(like) = entry.like {
                let contradiction = earlier.iter().find_map(|&(other, other_entry, a, b)| {
                    let other_like = other_entry.like.filter(|other_like| *other_like != like)?;
                    Some((other, other_like, shared(a, b)?))
                });
                if let Some((other, other_like, day)) = contradiction {
                    self.report(
                        path::key(&at, "like"),
                        format!(
                            "{day} is staffed like {} here but like {} in duty.calendar[{other}]: \
                             a day can follow one weekday only",
                            path::quoted(like.as_str()),
                            path::quoted(other_like.as_str()),
                        ),
                    );
                }
            }
            if entry.people.is_some() {
                let contradiction = earlier.iter().find_map(|&(other, other_entry, a, b)| {
                    other_entry.people.as_ref()?;
                    Some((other, shared(a, b)?))
                });
                if let Some((other, day)) = contradiction {
                    self.report(
                        path::key(&at, "people"),
                        format!(
                            "{day} already has its people in duty.calendar[{other}]: name the \
                             people of a day in one entry"
                        ),
                    );
                }
            }
        }
    }

    /// An entry's `date`, or `from` and `to`: real dates, in order, one way.
    fn calendar_days(&mut self, at: &str, entry: &CalendarEntry) {
        for (key, text) in [
            ("date", &entry.date),
            ("from", &entry.from),
            ("to", &entry.to),
        ] {
            if let Some(text) = text
                && CalendarDate::parse(text).is_none()
            {
                self.report(
                    path::key(at, key),
                    format!(
                        "{} is not a date \"YYYY-MM-DD\" such as \"2026-10-01\"",
                        path::quoted(text)
                    ),
                );
            }
        }
        match (&entry.date, &entry.from, &entry.to) {
            (None, None, None) => self.report(
                path::key(at, "date"),
                "missing: give date = \"YYYY-MM-DD\" for one day, or from = \"…\" and \
                 to = \"…\" for several (both inclusive)",
            ),
            (Some(_), Some(_), _) | (Some(_), None, Some(_)) => self.report(
                path::key(at, "date"),
                "give date for one day, or from and to for several, not both",
            ),
            (None, Some(_), None) => self.report(
                path::key(at, "to"),
                "missing: from needs to = \"YYYY-MM-DD\", the last day (inclusive)",
            ),
            (None, None, Some(_)) => self.report(
                path::key(at, "from"),
                "missing: to needs from = \"YYYY-MM-DD\", the first day",
            ),
            (None, Some(from), Some(to)) => {
                if let (Some(first), Some(last)) =
                    (CalendarDate::parse(from), CalendarDate::parse(to))
                    && last < first
                {
                    self.report(
                        path::key(at, "to"),
                        format!(
                            "{} is before from = {}: the run would have no days",
                            path::quoted(to),
                            path::quoted(from)
                        ),
                    );
                }
            }
            (Some(_), None, None) => {}
        }
    }

    fn playbooks(&mut self, playbooks: &Items<'_, crate::response::Playbook>) {
        let mut kinds: HashMap<IncidentKind, usize> = HashMap::new();
        for &(index, playbook) in &playbooks.loaded {
            let at = path::index("playbooks", index);
            if let Some(&first) = kinds.get(&playbook.kind) {
                self.report(
                    path::key(&at, "kind"),
                    format!(
                        "duplicate playbook for {} (also playbooks[{first}])",
                        path::quoted(playbook.kind.as_str())
                    ),
                );
            } else {
                kinds.insert(playbook.kind, index);
            }
            for (step_index, step) in playbook.steps.iter().enumerate() {
                if step.mode == StepMode::Approval
                    && step.approvers.is_empty()
                    && playbook.approvers.is_empty()
                {
                    self.report(
                        path::index(&path::key(&at, "steps"), step_index),
                        format!(
                            "step {} waits for approval but no one may approve it: \
                             set approvers = [\"leader\", …] on the step or the playbook",
                            path::quoted(step.action.as_str())
                        ),
                    );
                }
            }
        }
    }

    fn channels(&mut self, channels: &Items<'_, Channel>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for &(index, channel) in &channels.loaded {
            let at = path::index("channels", index);
            self.reference_id(&path::key(&at, "id"), &channel.id);
            if let Some(first) = repeat_of(&mut seen, channel.id.as_str(), index) {
                self.report(
                    path::key(&at, "id"),
                    format!(
                        "duplicate channel id {} (also channels[{first}])",
                        path::quoted(&channel.id)
                    ),
                );
            }
            self.channel(&at, channel);
        }
    }

    /// The keys each channel type needs and may have.
    fn channel(&mut self, at: &str, channel: &Channel) {
        let kind = channel.kind;
        let present: [(&str, bool); 14] = [
            ("url", channel.url.is_some()),
            ("smtp_host", channel.smtp_host.is_some()),
            ("smtp_port", channel.smtp_port.is_some()),
            ("security", channel.security.is_some()),
            ("username", channel.username.is_some()),
            ("password", channel.password.is_some()),
            ("password_env", channel.password_env.is_some()),
            ("from", channel.from.is_some()),
            ("secret", channel.secret.is_some()),
            ("secret_env", channel.secret_env.is_some()),
            ("token", channel.token.is_some()),
            ("token_env", channel.token_env.is_some()),
            ("phone_field", channel.phone_field.is_some()),
            ("text_field", channel.text_field.is_some()),
        ];
        let (required, optional): (&[&str], &[&str]) = match kind {
            ChannelKind::Email => (
                &["smtp_host", "from"],
                &[
                    "smtp_port",
                    "security",
                    "username",
                    "password",
                    "password_env",
                ],
            ),
            ChannelKind::Webhook | ChannelKind::Dingtalk | ChannelKind::Feishu => {
                (&["url"], &["secret", "secret_env"])
            }
            ChannelKind::Wecom => (&["url"], &[]),
            ChannelKind::Sms => (
                &["url"],
                &["token", "token_env", "phone_field", "text_field"],
            ),
        };
        for (key, is_present) in present {
            if required.contains(&key) {
                if !is_present {
                    self.report(
                        path::key(at, key),
                        format!(
                            "missing: a channel of type {} needs it",
                            path::quoted(kind.as_str())
                        ),
                    );
                }
            } else if is_present && !optional.contains(&key) {
                self.report(
                    path::key(at, key),
                    format!(
                        "not used by a channel of type {}",
                        path::quoted(kind.as_str())
                    ),
                );
            }
        }
        if let Some(url) = &channel.url
            && !is_http_url(url)
        {
            self.report(
                path::key(at, "url"),
                format!("not an absolute http(s) URL: {}", path::quoted(url)),
            );
        }
        if let Some(host) = &channel.smtp_host {
            self.not_blank(path::key(at, "smtp_host"), host);
        }
        if let Some(interval) = channel.min_interval_ms
            && interval > MAX_CHANNEL_INTERVAL_MS
        {
            self.report(
                path::key(at, "min_interval_ms"),
                format!(
                    "{interval} ms is more than an hour between two messages: at most {MAX_CHANNEL_INTERVAL_MS}"
                ),
            );
        }
        if channel.smtp_port == Some(0) {
            self.report(path::key(at, "smtp_port"), "must be a port from 1 to 65535");
        }
        if let Some(from) = &channel.from
            && !is_email(from)
        {
            self.report(
                path::key(at, "from"),
                format!("{} is not an e-mail address", path::quoted(from)),
            );
        }
        for (inline, env, inline_value, env_value) in [
            (
                "password",
                "password_env",
                &channel.password,
                &channel.password_env,
            ),
            ("secret", "secret_env", &channel.secret, &channel.secret_env),
            ("token", "token_env", &channel.token, &channel.token_env),
        ] {
            if inline_value.is_some() && env_value.is_some() {
                self.report(
                    path::key(at, inline),
                    format!("give {inline} or {env}, not both"),
                );
            }
            if let Some(name) = env_value
                && !is_env_name(name)
            {
                self.report(
                    path::key(at, env),
                    format!(
                        "{} is not an environment variable name such as \"SITEWARDEN_SECRET\"",
                        path::quoted(name)
                    ),
                );
            }
        }
        if channel.username.is_some()
            && channel.password.is_none()
            && channel.password_env.is_none()
        {
            self.report(
                path::key(at, "username"),
                "a login needs password_env = \"…\" (or password)",
            );
        }
        for (key, field) in [
            ("phone_field", &channel.phone_field),
            ("text_field", &channel.text_field),
        ] {
            if let Some(field) = field {
                self.not_blank(path::key(at, key), field);
            }
        }
    }

    fn routing(&mut self, routing: &Routing, context: &Context<'_>) {
        for (role, channels) in routing {
            let at = path::key("routing", role);
            if role != DEFAULT_ROUTE && !Role::ALL.iter().any(|known| known.as_str() == role) {
                let roles: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
                self.report(
                    at.clone(),
                    format!(
                        "unknown role {}; roles: {}, or default",
                        path::quoted(role),
                        roles.join(", ")
                    ),
                );
            }
            if channels.is_empty() {
                self.report(at.clone(), "at least one channel id is required");
            }
            self.channel_references(&at, channels, context);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(predicate: fn(&str) -> bool, name: &str, cases: &[(&str, bool)]) {
        for &(input, expected) in cases {
            assert_eq!(predicate(input), expected, "{name}({input:?})");
        }
    }

    #[test]
    fn id_and_environment_variable_shapes() {
        check(
            is_env_name,
            "is_env_name",
            &[
                ("SITEWARDEN_SMTP_PASSWORD", true),
                ("_x1", true),
                ("1X", false),
                ("A-B", false),
                ("", false),
                ("$HOME", false),
            ],
        );
        check(
            is_reference_id,
            "is_reference_id",
            &[
                ("dingtalk-duty", true),
                ("mail_1", true),
                ("Mail", false),
                ("-x", false),
                ("", false),
                ("钉钉", false),
            ],
        );
    }

    #[test]
    fn known_lists_drop_repeats() {
        assert_eq!(known_list(&["a", "b", "a"], "none"), "a, b");
        assert_eq!(known_list(&[], "none"), "none");
    }
}
