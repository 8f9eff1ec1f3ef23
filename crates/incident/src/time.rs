//! Time as the engine takes it: instants are `jiff::Timestamp` (Unix
//! milliseconds convert in and out), local times come from the IANA
//! database bundled into the binary, and durations are written for people
//! ("4 min 12 s").
//!
//! Nothing here reads a clock or a file: the bundled time zone database is
//! compiled in, so the engine stays pure and works on a machine without
//! `/usr/share/zoneinfo`.

use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};
use std::sync::OnceLock;

/// A time zone name the bundled database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {name:?}: not in the bundled IANA database")]
pub struct UnknownTimeZone {
    /// The name asked for.
    pub name: String,
}

/// The IANA time zone `name` from the database compiled into the binary.
pub fn time_zone(name: &str) -> Result<TimeZone, UnknownTimeZone> {
    static BUNDLED: OnceLock<TimeZoneDatabase> = OnceLock::new();
    BUNDLED
        .get_or_init(TimeZoneDatabase::bundled)
        .get(name)
        .map_err(|_| UnknownTimeZone {
            name: name.to_owned(),
        })
}

/// Unix milliseconds as an instant; out-of-range values clamp to jiff's
/// limits rather than panic (bad input never panics).
pub fn timestamp_from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `at` plus `minutes`, saturating at jiff's limits.
pub fn plus_minutes(at: Timestamp, minutes: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_mins(minutes))
        .unwrap_or(if minutes < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

/// Whole seconds from `from` to `to` (negative when `to` is earlier).
pub fn seconds_between(from: Timestamp, to: Timestamp) -> i64 {
    to.as_second() - from.as_second()
}

/// Whole minutes from `from` to `to`, rounded up: a deadline missed by 10
/// seconds is missed by 1 min, not 0.
pub fn minutes_late(due: Timestamp, at: Timestamp) -> i64 {
    let seconds = seconds_between(due, at);
    if seconds <= 0 { 0 } else { (seconds + 59) / 60 }
}

/// A duration for people, in English: "4 min 12 s", "2 h 5 min", "45 s",
/// "1 d 3 h". Negative durations are written as zero.
pub fn human_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
        seconds % 60,
    );
    let parts: Vec<String> = if days > 0 {
        vec![format!("{days} d"), format!("{hours} h")]
    } else if hours > 0 {
        vec![format!("{hours} h"), format!("{minutes} min")]
    } else if minutes > 0 {
        vec![format!("{minutes} min"), format!("{secs} s")]
    } else {
        vec![format!("{secs} s")]
    };
    parts
        .into_iter()
        .enumerate()
        .filter(|(index, part)| *index == 0 || !part.starts_with("0 "))
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The same duration in Chinese: "4分12秒", "2小时5分", "1天3小时".
pub fn human_duration_zh(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
        seconds % 60,
    );
    let (first, second) = if days > 0 {
        ((days, "天"), (hours, "小时"))
    } else if hours > 0 {
        ((hours, "小时"), (minutes, "分"))
    } else if minutes > 0 {
        ((minutes, "分"), (secs, "秒"))
    } else {
        return format!("{secs}秒");
    };
    if second.0 == 0 {
        format!("{}{}", first.0, first.1)
    } else {
        format!("{}{}{}{}", first.0, first.1, second.0, second.1)
    }
}

/// A threshold in minutes for people: "30 min", "2 h", "24 h", "90 min".
pub fn human_minutes(minutes: u32) -> String {
    if minutes >= 60 && minutes.is_multiple_of(60) {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// The same threshold in Chinese: "30分钟", "2小时".
pub fn human_minutes_zh(minutes: u32) -> String {
    if minutes >= 60 && minutes.is_multiple_of(60) {
        format!("{}小时", minutes / 60)
    } else {
        format!("{minutes}分钟")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(seconds: i64, expected: (&str, &str)) {
        assert_eq!(
            (
                human_duration(seconds).as_str(),
                human_duration_zh(seconds).as_str()
            ),
            expected,
            "{seconds} s"
        );
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        check(0, ("0 s", "0秒"));
        check(45, ("45 s", "45秒"));
        check(252, ("4 min 12 s", "4分12秒"));
        check(300, ("5 min", "5分"));
        check(7_500, ("2 h 5 min", "2小时5分"));
        check(7_200, ("2 h", "2小时"));
        check(97_200, ("1 d 3 h", "1天3小时"));
        check(-5, ("0 s", "0秒"));
    }

    #[test]
    fn thresholds_and_lateness() {
        assert_eq!(human_minutes(30), "30 min");
        assert_eq!(human_minutes(120), "2 h");
        assert_eq!(human_minutes(90), "90 min");
        assert_eq!(human_minutes_zh(1_440), "24小时");
        let due = timestamp_from_ms(1_000_000);
        assert_eq!(minutes_late(due, timestamp_from_ms(1_000_000)), 0);
        assert_eq!(minutes_late(due, timestamp_from_ms(1_010_000)), 1);
        assert_eq!(
            minutes_late(due, timestamp_from_ms(1_000_000 + 600_000)),
            10
        );
        assert_eq!(minutes_late(due, timestamp_from_ms(0)), 0);
    }

    #[test]
    fn the_bundled_database_knows_shanghai_and_refuses_nonsense() {
        let shanghai = time_zone("Asia/Shanghai").expect("bundled");
        let noon_utc: Timestamp = "2025-03-03T04:00:00Z".parse().unwrap();
        assert_eq!(noon_utc.to_zoned_datetime(shanghai).hour(), 12);
        assert!(time_zone("Mars/Olympus_Mons").is_err());
        // Out-of-range milliseconds clamp instead of panicking.
        assert_eq!(timestamp_from_ms(i64::MAX), Timestamp::MAX);
        assert_eq!(timestamp_from_ms(i64::MIN), Timestamp::MIN);
    }
}
