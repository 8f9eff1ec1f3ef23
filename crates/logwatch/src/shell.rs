//! Web shells that no rule names: a script file (`.php`, `.jsp`, `.aspx`…)
//! that nobody requested while the log was being learned, then is
//! answered successfully for a handful of clients — most strongly when the
//! same client POSTed to an upload form shortly before. That is the
//! defacement story in a log: upload, then the shell, then the page.
//!
//! [`ScriptSeen`] is what is known about one script path; it merges
//! (batch: one per thread, merged) and updates (live). [`judge`] decides.

use serde::{Deserialize, Serialize};

use crate::detect::{AttackClass, SCRIPT_EXTENSIONS};
use crate::ip::IpKey;
use crate::record::Record;

/// How new scripts are judged.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct WebShellConfig {
    /// Scripts seen within this many minutes of the start of the log (or
    /// of live watching) are the site's own.
    pub learning_minutes: u32,
    /// A new script requested by more distinct clients than this is a
    /// new page, not a shell.
    pub max_clients: u32,
    /// An upload POST by the same client this many minutes before the
    /// script's first request raises the confidence.
    pub upload_window_minutes: u32,
}

impl Default for WebShellConfig {
    fn default() -> Self {
        WebShellConfig {
            learning_minutes: 60,
            max_clients: 3,
            upload_window_minutes: 60,
        }
    }
}

/// Distinct clients kept per script (enough to exceed `max_clients`).
const MAX_TRACKED_CLIENTS: usize = 16;

/// What is known about one script path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSeen {
    /// First request of any kind.
    pub first_ms: i64,
    /// First request answered 2xx: when, by whom, what.
    pub first_success: Option<(i64, IpKey, String)>,
    /// Distinct clients (at most 16 kept: enough to exceed `max_clients`).
    pub clients: Vec<IpKey>,
    /// Requests.
    pub requests: u64,
}

impl ScriptSeen {
    /// A script first seen in this record.
    pub fn new(record: &Record<'_>, time_ms: i64) -> Self {
        let mut seen = ScriptSeen {
            first_ms: time_ms,
            first_success: None,
            clients: Vec::new(),
            requests: 0,
        };
        seen.update(record, time_ms);
        seen
    }

    /// Counts one more request.
    pub fn update(&mut self, record: &Record<'_>, time_ms: i64) {
        self.requests += 1;
        self.first_ms = self.first_ms.min(time_ms);
        if (200..300).contains(&record.status)
            && self
                .first_success
                .as_ref()
                .is_none_or(|(t, _, _)| time_ms < *t)
        {
            self.first_success = Some((time_ms, record.ip, record.request_line()));
        }
        if self.clients.len() < MAX_TRACKED_CLIENTS && !self.clients.contains(&record.ip) {
            self.clients.push(record.ip);
        }
    }

    /// Merges what another thread saw of the same path.
    pub fn merge(&mut self, other: ScriptSeen) {
        self.requests += other.requests;
        self.first_ms = self.first_ms.min(other.first_ms);
        if let Some(theirs) = other.first_success
            && self
                .first_success
                .as_ref()
                .is_none_or(|mine| theirs.0 < mine.0)
        {
            self.first_success = Some(theirs);
        }
        for ip in other.clients {
            if self.clients.len() < MAX_TRACKED_CLIENTS && !self.clients.contains(&ip) {
                self.clients.push(ip);
            }
        }
    }
}

/// A POST to an upload-like endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// When.
    pub time_ms: i64,
    /// Who.
    pub ip: IpKey,
    /// The request line.
    pub request: String,
}

/// True when the path has a script extension.
pub fn is_script_path(path: &[u8]) -> bool {
    let Some(dot) = memchr::memrchr(b'.', path) else {
        return false;
    };
    let extension = &path[dot + 1..];
    if extension.len() > 5 || memchr::memchr(b'/', extension).is_some() {
        return false;
    }
    SCRIPT_EXTENSIONS
        .iter()
        .any(|e| extension.eq_ignore_ascii_case(e.as_bytes()))
}

/// True for a POST (or PUT) to something that takes uploads.
pub fn is_upload(record: &Record<'_>) -> bool {
    if record.method.eq_ignore_ascii_case(b"PUT") {
        return true;
    }
    if !record.method.eq_ignore_ascii_case(b"POST") {
        return false;
    }
    const NEEDLES: &[&[u8]] = &[
        b"upload",
        b"upfile",
        b"attach",
        b"avatar",
        b"editor",
        b"filemanager",
        b"file_manager",
        b"ckfinder",
        b"kcfinder",
        b"elfinder",
        b"import",
        b"media",
    ];
    let lower = record.path().to_ascii_lowercase();
    NEEDLES
        .iter()
        .any(|n| memchr::memmem::find(&lower, n).is_some())
}

/// The verdict on a new script.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScript {
    /// `webshell-new-script` or `webshell-new-script-after-upload`.
    pub rule: &'static str,
    /// Always [`AttackClass::WebShell`].
    pub class: AttackClass,
    /// Confidence.
    pub confidence: f32,
    /// When it was first answered successfully.
    pub time_ms: i64,
    /// Who got that answer.
    pub ip: IpKey,
    /// That request.
    pub request: String,
    /// Why, in words.
    pub evidence: String,
}

/// Judges one script path: `learned_until_ms` is the end of the learning
/// period; `uploads` are upload POSTs (any order).
pub fn judge(
    path: &str,
    seen: &ScriptSeen,
    learned_until_ms: i64,
    uploads: &[Upload],
    config: &WebShellConfig,
) -> Option<NewScript> {
    if seen.first_ms < learned_until_ms {
        return None;
    }
    let (time_ms, ip, request) = seen.first_success.clone()?;
    if seen.clients.len() > config.max_clients as usize {
        return None;
    }
    let window_ms = i64::from(config.upload_window_minutes) * 60_000;
    let upload = uploads
        .iter()
        .filter(|u| {
            u.ip == ip && u.time_ms <= seen.first_ms && seen.first_ms - u.time_ms <= window_ms
        })
        .max_by_key(|u| u.time_ms);
    Some(match upload {
        Some(upload) => NewScript {
            rule: "webshell-new-script-after-upload",
            class: AttackClass::WebShell,
            confidence: 0.9,
            time_ms,
            ip,
            request,
            evidence: format!(
                "{path} first requested {} s after this client's upload ({}), answered 2xx, {} client(s) in all",
                (seen.first_ms - upload.time_ms) / 1000,
                upload.request,
                seen.clients.len()
            ),
        },
        None => NewScript {
            rule: "webshell-new-script",
            class: AttackClass::WebShell,
            confidence: 0.6,
            time_ms,
            ip,
            request,
            evidence: format!(
                "{path} never requested during learning, answered 2xx, {} client(s) in all",
                seen.clients.len()
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(ip: &str, method: &'a [u8], target: &'a [u8], status: u16) -> Record<'a> {
        Record {
            ip: IpKey::parse(ip.as_bytes()).unwrap(),
            method,
            target,
            status,
            ..Record::default()
        }
    }

    #[test]
    fn script_paths_and_uploads() {
        assert!(is_script_path(b"/uploads/x.PHP"));
        assert!(is_script_path(b"/a/b.aspx"));
        assert!(!is_script_path(b"/a.php/b.html"));
        assert!(!is_script_path(b"/index.html"));
        assert!(!is_script_path(b"/.php.d/x"));
        assert!(is_upload(&rec(
            "10.0.0.1",
            b"POST",
            b"/member/upload.php",
            200
        )));
        assert!(is_upload(&rec("10.0.0.1", b"PUT", b"/x", 201)));
        assert!(!is_upload(&rec(
            "10.0.0.1",
            b"GET",
            b"/member/upload.php",
            200
        )));
        assert!(!is_upload(&rec("10.0.0.1", b"POST", b"/comment", 200)));
    }

    #[test]
    fn new_script_after_upload_is_a_shell() {
        let config = WebShellConfig::default();
        let attacker = "203.0.113.66";
        let uploads = vec![Upload {
            time_ms: 100_000,
            ip: IpKey::parse(attacker.as_bytes()).unwrap(),
            request: "POST /member/upload.php HTTP/1.1".into(),
        }];
        let get = rec(attacker, b"GET", b"/uploads/x.php", 200);
        let seen = ScriptSeen::new(&get, 160_000);
        let verdict = judge("/uploads/x.php", &seen, 50_000, &uploads, &config).unwrap();
        assert_eq!(verdict.rule, "webshell-new-script-after-upload");
        assert!(
            verdict.evidence.contains("60 s after"),
            "{}",
            verdict.evidence
        );
        // Without the upload: a weaker verdict.
        assert_eq!(
            judge("/uploads/x.php", &seen, 50_000, &[], &config)
                .unwrap()
                .rule,
            "webshell-new-script"
        );
        // Seen during learning: the site's own script.
        assert!(judge("/uploads/x.php", &seen, 200_000, &uploads, &config).is_none());
        // A new page that many clients use is not a shell.
        let mut popular = seen.clone();
        for i in 0..10 {
            popular.update(
                &rec(&format!("198.51.100.{i}"), b"GET", b"/uploads/x.php", 200),
                170_000,
            );
        }
        assert!(judge("/uploads/x.php", &popular, 50_000, &uploads, &config).is_none());
        // Never answered 2xx: not an access.
        let missing = ScriptSeen::new(&rec(attacker, b"GET", b"/uploads/y.php", 404), 160_000);
        assert!(judge("/uploads/y.php", &missing, 50_000, &uploads, &config).is_none());
    }
}
