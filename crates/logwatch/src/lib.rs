//! sitewarden's access-log watch: read every access log fast, find the
//! attack and the flood, and trace how a page was defaced.
//!
//! - **Parsers** (`format`): nginx/Apache combined and common, nginx
//!   `log_format` strings compiled once, IIS W3C with `#Fields:` that may
//!   change mid-file, JSON lines with a field mapping; on bytes, never
//!   `String`; gzip-rotated files read directly (`reader`). A bad line is
//!   counted and sampled, never fatal.
//! - **Detection** (`detect`, `scenario`, `shell`, `flood`): attack rules
//!   after the OWASP CRS classes behind an Aho–Corasick prefilter;
//!   leaky-bucket scenarios; new scripts after uploads (web shells);
//!   floods against a robust, time-of-day baseline; blocking `decision`s
//!   with expiry, the allowlist respected, each one explained.
//! - **Batch** (`analyze`): all cores, chunks split at line ends,
//!   per-thread tallies merged; a [`Report`] as JSON or HTML (`html`).
//! - **Live** (`tail`, `live`): a [`Tailer`] per file through rotation
//!   (rename and copytruncate) and truncation, resuming from offsets in a
//!   pluggable [`OffsetStore`]; a [`LiveDetector`] raising [`Event`]s.
//! - **Forensics** (`timeline`): every request of the suspects around an
//!   incident, first-seen times, the upload → shell → page change story.
//! - **Fixtures** (`fixture`): a seeded generator of realistic logs with
//!   known attacks, a flood and a defacement, for tests and benchmarks.
//!
//! What this crate does not do: open sockets, write to a firewall or a
//! store, read the system clock in its analysis (time is an argument;
//! only the tailer's `follow` loop reads a clock it is given).

mod analyze;
mod config;
pub mod decision;
pub mod detect;
mod error;
pub mod fixture;
pub mod flood;
pub mod format;
mod html;
pub mod ip;
mod live;
pub mod reader;
mod record;
mod report;
pub mod scenario;
pub mod shell;
pub mod tail;
pub mod time;
mod timeline;

pub use analyze::{analyze, analyze_bytes, analyze_bytes_resolved};
pub use config::{Config, DetectConfig, ReportConfig, Resolved};
pub use decision::{Decision, DecisionAction, DecisionConfig};
pub use detect::{Attack, AttackClass, Detector, RuleSet};
pub use error::{LogwatchError, Result};
pub use flood::{Baseline, Flood, FloodConfig, FloodEvent, FloodKind};
pub use format::{LogFormat, Parsed, Parser};
pub use html::render_html;
pub use ip::{Cidr, IpKey};
pub use live::{Event, LiveDetector, LiveMemory};
pub use reader::Progress;
pub use record::{OwnedRecord, Record};
pub use report::{
    BadLine, ClassSummary, ClockReport, FileSummary, MinuteCount, Report, SiteBaseline, StatusMix,
    TopIp,
};
pub use tail::{FileOffsetStore, MemoryOffsetStore, Offset, OffsetStore, StartAt, Tailer};
pub use timeline::{Suspect, Timeline, TimelineEvent, TimelineMark, records_between, timeline};
