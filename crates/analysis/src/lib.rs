//! Pure page analysis for sitewarden: decode a response body, fingerprint
//! the page, compare it with the approved baseline and give a verdict with
//! reasons a duty officer can act on.
//!
//! Everything here is a pure function of its inputs: no I/O, no clock, no
//! network. The probe fetches, the monitor decides what to do with a
//! verdict, the store keeps baselines.
//!
//! ```text
//! bytes ─ decode_body ─► DecodedBody ─ fingerprint ─► Fingerprint ─┐
//!                                     two fetches ─ learn_baseline ─► Baseline
//!                  compare(baseline, current) / compare_crawler_view ─► Assessment
//! ```

pub mod baseline;
pub mod compare;
pub mod decode;
pub mod fingerprint;
pub mod lexicon;

pub use baseline::{Baseline, VOLATILE_INLINE_SCRIPTS, learn_baseline};
pub use compare::{
    Assessment, CompareContext, ParseVerdictError, Reason, STRONG_WEIGHT, Verdict, combine,
    compare, compare_crawler_view, normalize_volatile_tokens,
};
pub use decode::{BINARY_ENCODING, DecodedBody, decode_body};
pub use fingerprint::{
    Fingerprint, Frame, Link, Redirect, RedirectKind, Script, SelectorError, TextBlock,
    check_selector, collapse_whitespace, fingerprint,
};
pub use lexicon::{Lexicon, LexiconHit};
