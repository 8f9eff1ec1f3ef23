//! Timestamps of log lines, parsed by hand on bytes into Unix milliseconds
//! (the project's time unit), and formatted back as RFC 3339 in UTC.
//!
//! Three shapes cover the formats: the common log format's
//! `10/Oct/2026:13:55:36 +0800`, ISO 8601 (`2026-10-10T13:55:36.120+08:00`,
//! nginx `$time_iso8601`, IIS `date` + `time` in UTC, JSON logs) and epoch
//! seconds (`$msec`). This module reads no clock.

/// Days from 1970-01-01 to the civil date (proleptic Gregorian), after
/// Howard Hinnant's `days_from_civil`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    let mut value = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

fn month_number(name: &[u8]) -> Option<u32> {
    let lower = [
        name.first()?.to_ascii_lowercase(),
        name.get(1)?.to_ascii_lowercase(),
        name.get(2)?.to_ascii_lowercase(),
    ];
    Some(match &lower {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

fn checked_civil(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<i64> {
    // Leap seconds (60) are accepted and folded into the next second.
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(((days * 24 + i64::from(hour)) * 60 + i64::from(minute)) * 60 + i64::from(second))
}

/// Parses a zone offset `+0800`, `+08:00`, `-07`, `Z` into seconds east of UTC.
fn offset_seconds(bytes: &[u8]) -> Option<i64> {
    match bytes {
        [] | [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

/// Parses the common log format's time, `10/Oct/2026:13:55:36 +0800`
/// (brackets already removed), into Unix milliseconds.
pub fn parse_clf(bytes: &[u8]) -> Option<i64> {
    // dd/Mon/yyyy:HH:MM:SS zone
    if bytes.len() < 20 || bytes[2] != b'/' || bytes[6] != b'/' || bytes[11] != b':' {
        return None;
    }
    let day = digits(&bytes[0..2])?;
    let month = month_number(&bytes[3..6])?;
    let year = digits(&bytes[7..11])?;
    if bytes[14] != b':' || bytes[17] != b':' {
        return None;
    }
    let hour = digits(&bytes[12..14])?;
    let minute = digits(&bytes[15..17])?;
    let second = digits(&bytes[18..20])?;
    let mut rest = &bytes[20..];
    let mut millis = 0i64;
    if let [b'.', tail @ ..] = rest {
        let end = tail
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(tail.len());
        millis = fraction_millis(&tail[..end]);
        rest = &tail[end..];
    }
    let zone = rest.strip_prefix(b" ").unwrap_or(rest);
    let offset = offset_seconds(zone)?;
    let local = checked_civil(year, month, day, hour, minute, second)?;
    Some((local - offset) * 1000 + millis)
}

fn fraction_millis(fraction: &[u8]) -> i64 {
    let mut millis = 0i64;
    for i in 0..3 {
        millis = millis * 10 + fraction.get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    millis
}

/// Parses ISO 8601 / RFC 3339 (`2026-10-10T13:55:36`, an optional
/// fraction, an optional zone; `T` or a space between date and time). A
/// time without a zone is taken as UTC, as IIS and most JSON loggers write.
pub fn parse_iso8601(bytes: &[u8]) -> Option<i64> {
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    let hour = digits(&bytes[11..13])?;
    let minute = digits(&bytes[14..16])?;
    let second = digits(&bytes[17..19])?;
    let mut rest = &bytes[19..];
    let mut millis = 0i64;
    if let [b'.' | b',', tail @ ..] = rest {
        let end = tail
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(tail.len());
        if end == 0 {
            return None;
        }
        millis = fraction_millis(&tail[..end]);
        rest = &tail[end..];
    }
    let offset = offset_seconds(rest)?;
    let local = checked_civil(year, month, day, hour, minute, second)?;
    Some((local - offset) * 1000 + millis)
}

/// Parses IIS's separate `date` (`2026-10-10`) and `time` (`13:55:36`,
/// maybe with a fraction) fields, which are in UTC.
pub fn parse_date_time(date: &[u8], time: &[u8]) -> Option<i64> {
    if date.len() != 10 || time.len() < 8 {
        return None;
    }
    let mut joined = [0u8; 40];
    let total = date.len() + 1 + time.len();
    if total > joined.len() {
        return None;
    }
    joined[..10].copy_from_slice(date);
    joined[10] = b'T';
    joined[11..total].copy_from_slice(time);
    parse_iso8601(&joined[..total])
}

/// Parses epoch time: seconds with an optional fraction (`1760000000.123`,
/// nginx `$msec`), or milliseconds when the integer part has 13 digits.
pub fn parse_epoch(bytes: &[u8]) -> Option<i64> {
    let (whole, fraction) = match memchr::memchr(b'.', bytes) {
        Some(dot) => (&bytes[..dot], &bytes[dot + 1..]),
        None => (bytes, &b""[..]),
    };
    if whole.is_empty() || whole.len() > 13 || !whole.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &b in whole {
        value = value * 10 + i64::from(b - b'0');
    }
    if whole.len() >= 13 {
        Some(value)
    } else {
        Some(value * 1000 + fraction_millis(fraction))
    }
}

/// Formats Unix milliseconds as RFC 3339 in UTC (`2026-10-10T05:55:36Z`,
/// with `.123` only when there are milliseconds).
pub fn format_rfc3339(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    if millis == 0 {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    }
}

/// Serde helpers: Unix milliseconds as RFC 3339 text in reports.
pub mod rfc3339 {
    use serde::Serializer;

    /// Serializes Unix milliseconds as RFC 3339 text.
    pub fn serialize<S: Serializer>(ms: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_rfc3339(*ms))
    }

    /// Optional Unix milliseconds as RFC 3339 text or null.
    pub mod option {
        use serde::Serializer;

        /// Serializes optional Unix milliseconds as RFC 3339 text or null.
        pub fn serialize<S: Serializer>(
            ms: &Option<i64>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => serializer.serialize_str(&super::super::format_rfc3339(*ms)),
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_times() {
        // 2026-10-10 13:55:36 +0800 is 05:55:36 UTC.
        let ms = parse_clf(b"10/Oct/2026:13:55:36 +0800").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-10-10T05:55:36Z");
        assert_eq!(
            parse_clf(b"10/Oct/2026:13:55:36 -0700").unwrap() - ms,
            15 * 3600 * 1000
        );
        assert_eq!(
            format_rfc3339(parse_clf(b"01/Jan/2026:00:00:00.250 +0000").unwrap()),
            "2026-01-01T00:00:00.250Z"
        );
        assert!(parse_clf(b"10/Foo/2026:13:55:36 +0800").is_none());
        assert!(parse_clf(b"32/Oct/2026:13:55:36 +0800").is_none());
        assert!(parse_clf(b"10/Oct/2026:25:55:36 +0800").is_none());
        assert!(parse_clf(b"10/Oct/2026:13:55").is_none());
        assert!(parse_clf(b"").is_none());
    }

    #[test]
    fn iso_times() {
        let check = |text: &str, expected: &str| {
            let ms = parse_iso8601(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(format_rfc3339(ms), expected, "{text}");
        };
        check("2026-10-10T13:55:36+08:00", "2026-10-10T05:55:36Z");
        check("2026-10-10T05:55:36Z", "2026-10-10T05:55:36Z");
        check("2026-10-10 05:55:36", "2026-10-10T05:55:36Z");
        check("2026-10-10T05:55:36.123456Z", "2026-10-10T05:55:36.123Z");
        check("2026-02-28T23:59:59-0100", "2026-03-01T00:59:59Z");
        assert!(parse_iso8601(b"2026-10-10T05:55").is_none());
        assert!(parse_iso8601(b"2026-13-10T05:55:36").is_none());
        assert!(parse_iso8601(b"2026-10-10T05:55:36+99:00").is_none());
        assert_eq!(
            parse_date_time(b"2026-10-10", b"05:55:36"),
            parse_iso8601(b"2026-10-10T05:55:36Z")
        );
    }

    #[test]
    fn epoch_times() {
        assert_eq!(parse_epoch(b"1760000000.123"), Some(1_760_000_000_123));
        assert_eq!(parse_epoch(b"1760000000"), Some(1_760_000_000_000));
        assert_eq!(parse_epoch(b"1760000000123"), Some(1_760_000_000_123));
        assert_eq!(parse_epoch(b"17x"), None);
        assert_eq!(parse_epoch(b""), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1000i64, 0, 59, 60, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
