//! Reading `sitewarden.toml`: TOML text in, a [`Plan`] or every problem out.
//!
//! The text is parsed once into toml's spanned document tree (a syntax
//! error is one error with its `line:column`). Each top-level section, and
//! each element of the array sections (`sites[i]`, `sites[i].pages[j]`,
//! `units[i]`, `roster[i]`, …), is then deserialized on its own, so a type
//! error in one site does not hide the errors in another. Within one
//! element, serde stops at the first error, so the element is repaired and
//! tried again: a key of the wrong type is reported and taken out, a missing
//! required key is reported and given a placeholder, until the element
//! deserializes. Two wrong keys in one page are thus both reported, and the
//! semantic rules of `validate` still run over the repaired element (but
//! not over the keys that were repaired). A plan is only returned when
//! nothing at all was reported, so a repaired element never escapes.
//!
//! Unknown keys are found with `serde_ignored` rather than
//! `#[serde(deny_unknown_fields)]`: deny stops deserialization at the first
//! unknown key, which would report one misspelling per run and hide every
//! error after it; `serde_ignored` lets deserialization finish and hands
//! back the path of every key it skipped, which we report all together.
//!
//! Every error's position is looked up in an index of the document's spans
//! built from the same tree, and ` (line N)` is added to its message.
//!
//! This module does not read files ([`crate::Plan::load`] does) and makes
//! no judgement of its own about values: that is `validate`'s job.

use crate::error::{PlanError, PlanErrors};
use crate::model::{
    Deadlines, GuardSettings, LevelDef, LexiconDef, Organisation, Page, Person, Plan,
    ProbeSettings, Site, Unit, default_levels,
};
use crate::path;
use crate::response::{
    Channel, Correlation, Duty, Escalation, ExternalContact, LevelRule, Notifications, Playbook,
    Regulatory, Routing, default_playbooks,
};
use crate::validate::{self, Items, Parts, ResponseParts, SiteParts};
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

/// Parses and validates a plan, collecting every problem.
pub(crate) fn parse_plan(text: &str) -> Result<Plan, PlanErrors> {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(error) => return Err(PlanErrors(vec![syntax_error(text, &error)])),
    };
    let mut loader = Loader {
        index: SpanIndex::build(root.get_ref()),
        found: Vec::new(),
        removed: Vec::new(),
    };
    let loaded = loader.sections(root.get_ref());
    // Level ids named by shipped defaults (not written in the file) that
    // the file's own [[levels]] lack: one error at `levels`, not one per
    // default that names them.
    let mut default_level_ids: Vec<String> = Vec::new();
    for error in validate::validate(&loaded.parts()) {
        if let Some(id) = validate::unknown_level_id(&error.message)
            && loader.index.get(&error.path).is_none()
        {
            if !default_level_ids.iter().any(|known| known == id) {
                default_level_ids.push(id.to_owned());
            }
            continue;
        }
        // A repaired key holds a default or a placeholder now; what the
        // rules think of that is noise next to the error already reported.
        if !loader
            .removed
            .iter()
            .any(|removed| path::is_within(&error.path, removed))
        {
            loader.report(error.path, error.message);
        }
    }
    if !default_level_ids.is_empty() {
        let ids: Vec<String> = default_level_ids
            .iter()
            .map(|id| path::quoted(id))
            .collect();
        loader.report(
            "levels".into(),
            format!(
                "the shipped defaults name {} {} that [[levels]] does not define: define {}, \
                 or set deadlines.serious_levels, regulatory.report_from_level, \
                 [[regulatory.indicators]] and the escalation steps' min_level to your own ids",
                if ids.len() == 1 { "level" } else { "levels" },
                ids.join(", "),
                if ids.len() == 1 { "it" } else { "them" },
            ),
        );
    }
    if loader.found.is_empty() {
        if let Some(plan) = loaded.into_plan() {
            return Ok(plan);
        }
        // Unreachable: with no error reported, every section loaded. Said
        // as an error rather than a panic all the same.
        loader.report(
            String::new(),
            "internal error: the plan loaded incompletely".into(),
        );
    }
    Err(loader.finish(text))
}

/// `problems` found on the plan loaded from `text`, in the order of the
/// file, each with its line where the file has its path.
pub(crate) fn with_lines(text: &str, problems: Vec<PlanError>) -> Vec<PlanError> {
    let Ok(root) = DeTable::parse(text) else {
        return problems;
    };
    let mut loader = Loader {
        index: SpanIndex::build(root.get_ref()),
        found: Vec::new(),
        removed: Vec::new(),
    };
    for problem in problems {
        loader.report(problem.path, problem.message);
    }
    loader.finish(text).0
}

/// A parse error as one `line:column` error on one line.
fn syntax_error(text: &str, error: &toml::de::Error) -> PlanError {
    let message = format!("TOML syntax error: {}", one_line(error.message()));
    match error.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            PlanError::new(format!("{line}:{column}"), message)
        }
        None => PlanError::new("TOML", message),
    }
}

/// Line and column (both from 1; the column counts characters, not bytes)
/// of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn one_line(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

/// Where every key and array element of the document is, by path.
struct SpanIndex {
    entries: Vec<IndexEntry>,
    by_path: HashMap<String, usize>,
}

struct IndexEntry {
    path: String,
    /// The key's span; `None` for an array element.
    key: Option<Range<usize>>,
    value: Range<usize>,
}

impl SpanIndex {
    fn build(root: &DeTable<'_>) -> Self {
        let mut index = SpanIndex {
            entries: Vec::new(),
            by_path: HashMap::new(),
        };
        index.table("", root);
        index
    }

    fn table(&mut self, at: &str, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let path = path::key(at, key.get_ref());
            self.add(path.clone(), Some(key.span()), value.span());
            self.value(&path, value.get_ref());
        }
    }

    fn value(&mut self, at: &str, value: &DeValue<'_>) {
        match value {
            DeValue::Table(table) => self.table(at, table),
            DeValue::Array(array) => {
                for (position, element) in array.iter().enumerate() {
                    let path = path::index(at, position);
                    self.add(path.clone(), None, element.span());
                    self.value(&path, element.get_ref());
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, path: String, key: Option<Range<usize>>, value: Range<usize>) {
        self.by_path.insert(path.clone(), self.entries.len());
        self.entries.push(IndexEntry { path, key, value });
    }

    fn get(&self, path: &str) -> Option<&IndexEntry> {
        self.by_path
            .get(path)
            .map(|&position| &self.entries[position])
    }

    /// Where `path` is in the text: its key, or its element; for a path not
    /// in the file (a missing key), where its nearest ancestor is.
    fn offset_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(entry) = self.get(path) {
                return Some(entry.key.as_ref().unwrap_or(&entry.value).start);
            }
            path = path::parent(path).filter(|parent| !parent.is_empty())?;
        }
    }

    /// The deepest path under `base` whose value contains `span`: the key a
    /// deserialization error is about. `base` itself when none does.
    fn innermost(&self, base: &str, span: Option<Range<usize>>) -> String {
        let Some(span) = span else {
            return base.to_owned();
        };
        self.entries
            .iter()
            .filter(|entry| {
                path::is_within(&entry.path, base)
                    && entry.value.start <= span.start
                    && span.end <= entry.value.end
            })
            .min_by_key(|entry| (entry.value.len(), usize::MAX - entry.path.len()))
            .map_or_else(|| base.to_owned(), |entry| entry.path.clone())
    }

    /// The span of the key nearest `path` (itself or an ancestor) that lies
    /// strictly under `base`: what to take out of the element to get past
    /// an error at `path`.
    fn removable_key<'p>(&self, base: &str, path: &'p str) -> Option<(&'p str, Range<usize>)> {
        let mut path = path;
        while path != base && path::is_within(path, base) {
            if let Some(key) = self.get(path).and_then(|entry| entry.key.clone()) {
                return Some((path, key));
            }
            path = path::parent(path)?;
        }
        None
    }
}

/// Removes the table entry whose key has `key_span`, wherever it is in
/// `value`. Returns whether one was removed.
fn remove_key(value: &mut DeValue<'_>, key_span: &Range<usize>) -> bool {
    match value {
        DeValue::Table(table) => {
            let found = table
                .iter()
                .find(|(key, _)| key.span() == *key_span)
                .map(|(key, _)| key.get_ref().clone());
            if let Some(name) = found {
                return table.remove(name.as_ref()).is_some();
            }
            table
                .iter_mut()
                .any(|(_, child)| remove_key(child.get_mut(), key_span))
        }
        DeValue::Array(array) => array
            .iter_mut()
            .any(|element| remove_key(element.get_mut(), key_span)),
        _ => false,
    }
}

/// An error found, with where it is in the text when known.
struct Found {
    offset: Option<usize>,
    error: PlanError,
}

struct Loader {
    index: SpanIndex,
    found: Vec<Found>,
    /// Paths of keys repaired in elements (taken out after a type error,
    /// or given a placeholder when missing); the rules skip them.
    removed: Vec<String>,
}

/// What loaded, section by section. `None` marks what failed to
/// deserialize (its errors are reported); absent sections hold defaults.
struct Loaded {
    organisation: Option<Organisation>,
    deadlines: Option<Deadlines>,
    levels: Section<LevelDef>,
    probe: Option<ProbeSettings>,
    guard: Option<GuardSettings>,
    lexicons: Section<LexiconDef>,
    trusted_domains: Option<Vec<String>>,
    units: Section<Unit>,
    unit_ids: Vec<String>,
    sites: Vec<LoadedSite>,
    sites_unreadable: bool,
    roster: Section<Person>,
    response: LoadedResponse,
    /// `[gateway]`: absent is `Some(None)`; failed to load is `None`.
    gateway: Option<Option<crate::gateway::GatewaySettings>>,
    logwatch: Option<crate::logwatch::LogwatchSettings>,
}

/// What loaded of the response sections (`response.rs`).
struct LoadedResponse {
    regulatory: Option<Regulatory>,
    level_rules: Section<LevelRule>,
    escalation: Option<Escalation>,
    external_contacts: Section<ExternalContact>,
    duty: Option<Duty>,
    playbooks: Section<Playbook>,
    notifications: Option<Notifications>,
    correlation: Option<Correlation>,
    channels: Section<Channel>,
    /// Every channel id in the file, including those of channels that
    /// failed to load, so that their references are not reported too.
    channel_ids: Vec<String>,
    /// Every external contact id in the file, likewise.
    contact_ids: Vec<String>,
    routing: Option<Routing>,
}

impl LoadedResponse {
    fn defaults() -> Self {
        LoadedResponse {
            regulatory: Some(Regulatory::default()),
            level_rules: Section::of(Vec::new()),
            escalation: Some(Escalation::default()),
            external_contacts: Section::of(Vec::new()),
            duty: Some(Duty::default()),
            playbooks: Section::of(default_playbooks()),
            notifications: Some(Notifications::default()),
            correlation: Some(Correlation::default()),
            channels: Section::of(Vec::new()),
            channel_ids: Vec::new(),
            contact_ids: Vec::new(),
            routing: Some(Routing::new()),
        }
    }

    fn parts(&self) -> ResponseParts<'_> {
        ResponseParts {
            regulatory: self.regulatory.as_ref(),
            level_rules: self.level_rules.items(),
            escalation: self.escalation.as_ref(),
            external_contacts: self.external_contacts.items(),
            contact_ids: self.contact_ids.iter().map(String::as_str).collect(),
            duty: self.duty.as_ref(),
            playbooks: self.playbooks.items(),
            channels: self.channels.items(),
            channel_ids: self.channel_ids.iter().map(String::as_str).collect(),
            routing: self.routing.as_ref(),
            correlation: self.correlation.as_ref(),
        }
    }
}

/// An array section: each element, or `None` where it failed.
struct Section<T> {
    elements: Vec<Option<T>>,
    /// The section is not an array at all (reported); its count is unknown.
    unreadable: bool,
}

impl<T> Section<T> {
    fn of(elements: Vec<T>) -> Self {
        Section {
            elements: elements.into_iter().map(Some).collect(),
            unreadable: false,
        }
    }

    fn unreadable() -> Self {
        Section {
            elements: Vec::new(),
            unreadable: true,
        }
    }

    fn items(&self) -> Items<'_, T> {
        Items {
            loaded: self
                .elements
                .iter()
                .enumerate()
                .filter_map(|(position, element)| {
                    element.as_ref().map(|element| (position, element))
                })
                .collect(),
            // An unreadable section counts as non-empty: "at least one" would
            // only repeat its error.
            total: if self.unreadable {
                1
            } else {
                self.elements.len()
            },
        }
    }

    fn into_complete(self) -> Option<Vec<T>> {
        if self.unreadable {
            return None;
        }
        self.elements.into_iter().collect()
    }
}

struct LoadedSite {
    /// The site's own fields, with no pages.
    site: Option<Site>,
    pages: Section<Page>,
}

impl Loaded {
    fn parts(&self) -> Parts<'_> {
        Parts {
            organisation: self.organisation.as_ref(),
            deadlines: self.deadlines.as_ref(),
            levels: self.levels.items(),
            probe: self.probe.as_ref(),
            guard: self.guard.as_ref(),
            gateway: self.gateway.as_ref(),
            logwatch: self.logwatch.as_ref(),
            lexicons: self.lexicons.items(),
            trusted_domains: self.trusted_domains.as_deref(),
            units: self.units.items(),
            unit_ids: self.unit_ids.iter().map(String::as_str).collect(),
            sites: self
                .sites
                .iter()
                .enumerate()
                .map(|(index, loaded)| SiteParts {
                    index,
                    site: loaded.site.as_ref(),
                    pages: loaded.pages.items(),
                })
                .collect(),
            sites_unreadable: self.sites_unreadable,
            roster: self.roster.items(),
            response: self.response.parts(),
        }
    }

    /// The plan, when every part of it loaded.
    fn into_plan(self) -> Option<Plan> {
        let mut sites = Vec::with_capacity(self.sites.len());
        for loaded in self.sites {
            let mut site = loaded.site?;
            site.pages = loaded.pages.into_complete()?;
            sites.push(site);
        }
        if self.sites_unreadable {
            return None;
        }
        Some(Plan {
            organisation: self.organisation?,
            deadlines: self.deadlines?,
            levels: self.levels.into_complete()?,
            probe: self.probe?,
            guard: self.guard?,
            lexicons: self.lexicons.into_complete()?,
            trusted_domains: self.trusted_domains?,
            units: self.units.into_complete()?,
            sites,
            roster: self.roster.into_complete()?,
            regulatory: self.response.regulatory?,
            level_rules: self.response.level_rules.into_complete()?,
            escalation: self.response.escalation?,
            external_contacts: self.response.external_contacts.into_complete()?,
            duty: self.response.duty?,
            playbooks: self.response.playbooks.into_complete()?,
            notifications: self.response.notifications?,
            correlation: self.response.correlation?,
            channels: self.response.channels.into_complete()?,
            routing: self.response.routing?,
            gateway: self.gateway?,
            logwatch: self.logwatch?,
        })
    }
}

impl Loader {
    fn report(&mut self, path: String, message: String) {
        let offset = self.index.offset_of(&path);
        self.found.push(Found {
            offset,
            error: PlanError { path, message },
        });
    }

    /// Every error, in the order of the file (errors with no position
    /// last), each with its line.
    fn finish(mut self, text: &str) -> PlanErrors {
        self.found
            .sort_by_key(|found| found.offset.unwrap_or(usize::MAX));
        PlanErrors(
            self.found
                .into_iter()
                .map(|found| match found.offset {
                    Some(offset) => {
                        let (line, _) = line_column(text, offset);
                        PlanError {
                            message: format!("{} (line {line})", found.error.message),
                            ..found.error
                        }
                    }
                    None => found.error,
                })
                .collect(),
        )
    }

    fn sections(&mut self, root: &DeTable<'_>) -> Loaded {
        let mut loaded = Loaded {
            organisation: None,
            deadlines: Some(Deadlines::default()),
            levels: Section::of(default_levels()),
            probe: Some(ProbeSettings::default()),
            guard: Some(GuardSettings::default()),
            lexicons: Section::of(Vec::new()),
            trusted_domains: Some(Vec::new()),
            units: Section::of(Vec::new()),
            unit_ids: Vec::new(),
            sites: Vec::new(),
            sites_unreadable: false,
            roster: Section::of(Vec::new()),
            response: LoadedResponse::defaults(),
            gateway: Some(None),
            logwatch: Some(crate::logwatch::LogwatchSettings::default()),
        };
        let mut has_organisation = false;
        for (key, value) in root.iter() {
            let name: &str = key.get_ref();
            match name {
                "organisation" => {
                    has_organisation = true;
                    loaded.organisation = self.element("organisation", value);
                }
                "deadlines" => loaded.deadlines = self.element("deadlines", value),
                "levels" => loaded.levels = self.array("levels", value),
                "probe" => loaded.probe = self.element("probe", value),
                "guard" => loaded.guard = self.element("guard", value),
                "gateway" => loaded.gateway = self.element("gateway", value).map(Some),
                "logwatch" => loaded.logwatch = self.element("logwatch", value),
                "lexicons" => loaded.lexicons = self.array("lexicons", value),
                "trusted_domains" => {
                    loaded.trusted_domains = self.element("trusted_domains", value);
                }
                "units" => {
                    loaded.units = self.array("units", value);
                    loaded.unit_ids = raw_unit_ids(value.get_ref());
                }
                "sites" => match value.get_ref() {
                    DeValue::Array(sites) => {
                        loaded.sites = sites
                            .iter()
                            .enumerate()
                            .map(|(position, site)| self.site(position, site))
                            .collect();
                    }
                    _ => {
                        loaded.sites_unreadable = true;
                        self.not_an_array("sites", "[[sites]]");
                    }
                },
                "roster" => loaded.roster = self.array("roster", value),
                "regulatory" => loaded.response.regulatory = self.element("regulatory", value),
                "level_rules" => loaded.response.level_rules = self.array("level_rules", value),
                "escalation" => loaded.response.escalation = self.element("escalation", value),
                "external_contacts" => {
                    loaded.response.external_contacts = self.array("external_contacts", value);
                    loaded.response.contact_ids = raw_ids(value.get_ref());
                }
                "duty" => loaded.response.duty = self.element("duty", value),
                "playbooks" => loaded.response.playbooks = self.array("playbooks", value),
                "notifications" => {
                    loaded.response.notifications = self.element("notifications", value);
                }
                "correlation" => {
                    loaded.response.correlation = self.element("correlation", value);
                }
                "channels" => {
                    loaded.response.channels = self.array("channels", value);
                    loaded.response.channel_ids = raw_ids(value.get_ref());
                }
                "routing" => loaded.response.routing = self.element("routing", value),
                _ => self.report(path::key("", name), "unknown key".into()),
            }
        }
        if !has_organisation {
            self.report(
                "organisation".into(),
                "missing: the plan needs an [organisation] table with at least name = \"…\"".into(),
            );
        }
        loaded
    }

    fn not_an_array(&mut self, at: &str, header: &str) {
        self.report(
            at.to_owned(),
            format!("expected an array of tables, written {header}"),
        );
    }

    /// Each element of an array section on its own.
    fn array<T: DeserializeOwned>(&mut self, at: &str, value: &Spanned<DeValue<'_>>) -> Section<T> {
        match value.get_ref() {
            DeValue::Array(elements) => Section {
                elements: elements
                    .iter()
                    .enumerate()
                    .map(|(position, element)| self.element(&path::index(at, position), element))
                    .collect(),
                unreadable: false,
            },
            _ => {
                self.not_an_array(at, &format!("[[{at}]]"));
                Section::unreadable()
            }
        }
    }

    /// One site: its own fields, and each of its pages on its own.
    fn site(&mut self, position: usize, value: &Spanned<DeValue<'_>>) -> LoadedSite {
        let at = path::index("sites", position);
        let DeValue::Table(table) = value.get_ref() else {
            // Not a table: the element's type error says so.
            return LoadedSite {
                site: self.element(&at, value),
                pages: Section::unreadable(),
            };
        };
        let mut fields = table.clone();
        let pages_value = fields.remove("pages");
        let site = self.element(&at, &Spanned::new(value.span(), DeValue::Table(fields)));
        let pages_at = path::key(&at, "pages");
        let pages = match pages_value {
            None => Section::of(Vec::new()),
            Some(pages) => match pages.get_ref() {
                DeValue::Array(_) => self.array(&pages_at, &pages),
                _ => {
                    self.not_an_array(&pages_at, "[[sites.pages]]");
                    Section::unreadable()
                }
            },
        };
        LoadedSite { site, pages }
    }

    /// Deserializes one section or array element at `base`, reporting every
    /// unknown key, every key of the wrong type and every missing key in it.
    ///
    /// serde stops at the first error, so the element is repaired and tried
    /// again until it deserializes: a key of the wrong type is taken out
    /// (its default then applies), and a missing required key gets a
    /// placeholder value. Either way the key's path is remembered in
    /// `self.removed`, so the semantic rules do not then complain about the
    /// default or the placeholder, and a required key taken out is not
    /// reported again as missing. The repaired element is returned so the
    /// rules still check the rest of it.
    fn element<T: DeserializeOwned>(
        &mut self,
        base: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<T> {
        let mut value = value.clone();
        let mut removed: Vec<String> = Vec::new();
        let mut placeholders: Vec<Placeholder> = Vec::new();
        let mut unknown: BTreeSet<String> = BTreeSet::new();
        // Each round takes out a key, adds a placeholder or changes a
        // placeholder's shape, so the rounds are bounded; the budget is a
        // guard against a repair that does not change anything.
        let mut rounds_left = 4 * (self.index.entries.len() + 8);
        let result = loop {
            rounds_left = rounds_left.saturating_sub(1);
            if rounds_left == 0 {
                break None;
            }
            let deserializer = ValueDeserializer::from(value.clone());
            let attempt: Result<T, toml::de::Error> =
                serde_ignored::deserialize(deserializer, |ignored| {
                    unknown.insert(render_ignored(base, &ignored));
                });
            let error = match attempt {
                Ok(element) => break Some(element),
                Err(error) => error,
            };
            let span = error.span();
            if let Some(placeholder) = placeholders
                .iter_mut()
                .find(|placeholder| span.as_ref() == Some(&placeholder.span))
            {
                // The placeholder has the wrong shape for its field: try the next.
                placeholder.shape += 1;
                let Some(shape) = placeholder_value(placeholder.shape) else {
                    break None;
                };
                if !replace_value(&mut value, &placeholder.span, shape) {
                    break None;
                }
                continue;
            }
            let at = self.index.innermost(base, span);
            let message = one_line(error.message());
            if let Some(field) = missing_field(&message) {
                let field_path = path::key(&at, field);
                if !removed.contains(&field_path) {
                    self.report(field_path.clone(), "missing required key".into());
                }
                let table_span = if at == base {
                    value.span()
                } else {
                    match self.index.get(&at) {
                        Some(entry) => entry.value.clone(),
                        None => break None,
                    }
                };
                let span = usize::MAX - 1 - placeholders.len();
                let span = span..span;
                let Some(shape) = placeholder_value(0) else {
                    break None;
                };
                if !insert_placeholder(&mut value, &table_span, field, &span, shape) {
                    break None;
                }
                placeholders.push(Placeholder { span, shape: 0 });
                removed.push(field_path);
                continue;
            }
            self.report(at.clone(), message);
            let Some((key_path, key_span)) = self.index.removable_key(base, &at) else {
                break None;
            };
            if !remove_key(value.get_mut(), &key_span) {
                break None;
            }
            removed.push(key_path.to_owned());
        };
        self.removed.extend(removed);
        for path in unknown {
            self.report(path, "unknown key".into());
        }
        result
    }
}

/// A value put in for a missing required key, so the rest of the element
/// can be checked. Its span is made up (near `usize::MAX`, so no real key
/// contains it) and identifies it in errors.
struct Placeholder {
    span: Range<usize>,
    /// Which of [`placeholder_value`]'s shapes it has now.
    shape: usize,
}

/// The shapes a placeholder tries in turn: every required field of the plan
/// is a string or an array.
fn placeholder_value<'i>(shape: usize) -> Option<DeValue<'i>> {
    match shape {
        0 => Some(DeValue::String(Cow::Borrowed(""))),
        1 => Some(DeValue::Array(DeArray::new())),
        2 => Some(DeValue::Table(DeTable::new())),
        _ => None,
    }
}

/// Adds `field = placeholder` to the table whose span is `table_span`
/// (`root` itself or a table inside it).
fn insert_placeholder<'i>(
    root: &mut Spanned<DeValue<'i>>,
    table_span: &Range<usize>,
    field: &str,
    span: &Range<usize>,
    placeholder: DeValue<'i>,
) -> bool {
    let Some(DeValue::Table(table)) = find_value(root, table_span).map(Spanned::get_mut) else {
        return false;
    };
    table.insert(
        Spanned::new(span.clone(), Cow::Owned(field.to_owned())),
        Spanned::new(span.clone(), placeholder),
    );
    true
}

/// Puts `replacement` in place of the value whose span is `span`.
fn replace_value<'i>(
    root: &mut Spanned<DeValue<'i>>,
    span: &Range<usize>,
    replacement: DeValue<'i>,
) -> bool {
    match find_value(root, span) {
        Some(value) => {
            *value.get_mut() = replacement;
            true
        }
        None => false,
    }
}

/// The value with `span`: `root` or one inside it.
fn find_value<'v, 'i>(
    root: &'v mut Spanned<DeValue<'i>>,
    span: &Range<usize>,
) -> Option<&'v mut Spanned<DeValue<'i>>> {
    if root.span() == *span {
        return Some(root);
    }
    match root.get_mut() {
        DeValue::Table(table) => table
            .iter_mut()
            .find_map(|(_, child)| find_value(child, span)),
        DeValue::Array(array) => array.iter_mut().find_map(|child| find_value(child, span)),
        _ => None,
    }
}

/// The field named in serde's "missing field `name`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(field, _)| field)
}

/// A `serde_ignored` path, under `base`, in our spelling.
fn render_ignored(base: &str, ignored: &serde_ignored::Path<'_>) -> String {
    match ignored {
        serde_ignored::Path::Root => base.to_owned(),
        serde_ignored::Path::Seq { parent, index } => {
            path::index(&render_ignored(base, parent), *index)
        }
        serde_ignored::Path::Map { parent, key } => path::key(&render_ignored(base, parent), key),
        serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => render_ignored(base, parent),
    }
}

/// The `id` of every unit in the file, whether or not the unit loaded.
fn raw_unit_ids(units: &DeValue<'_>) -> Vec<String> {
    raw_ids(units)
}

/// The `id` of every element of an array of tables, whether or not the
/// element loaded.
fn raw_ids(elements: &DeValue<'_>) -> Vec<String> {
    let DeValue::Array(units) = elements else {
        return Vec::new();
    };
    units
        .iter()
        .filter_map(|unit| match unit.get_ref() {
            DeValue::Table(table) => table.get("id").and_then(|id| id.get_ref().as_str()),
            _ => None,
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_line_column(text: &str, offset: usize, expected: (usize, usize)) {
        assert_eq!(
            line_column(text, offset),
            expected,
            "line_column({text:?}, {offset})"
        );
    }

    #[test]
    fn line_and_column_count_lines_and_characters() {
        check_line_column("", 0, (1, 1));
        check_line_column("abc", 2, (1, 3));
        check_line_column("a\nbc", 2, (2, 1));
        check_line_column("a\nbc", 4, (2, 3));
        // Columns count characters, not bytes: 门户 is six bytes.
        check_line_column("门户 = 1", 7, (1, 4));
        // An offset inside a character or past the end does not panic.
        check_line_column("门户", 1, (1, 1));
        check_line_column("ab", 99, (1, 3));
    }

    fn check_missing_field(message: &str, expected: Option<&str>) {
        assert_eq!(
            missing_field(message),
            expected,
            "missing_field({message:?})"
        );
    }

    #[test]
    fn missing_field_reads_serdes_message() {
        check_missing_field("missing field `url`", Some("url"));
        check_missing_field("missing field `name_zh`", Some("name_zh"));
        check_missing_field("invalid type: string \"x\", expected u32", None);
        check_missing_field("missing field `unterminated", None);
    }
}
