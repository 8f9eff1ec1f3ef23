//! Civil-calendar arithmetic for the dates the sample pages show.
//!
//! Only what the fixtures need: parse `YYYY-MM-DD`, add a day, name the
//! weekday, and turn a Unix time into a date. It deliberately knows nothing
//! of time zones beyond the fixed UTC+8 offset the sample sites show.

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
fn parse_day(day: &str) -> Option<i64> {
    let mut parts = day.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day_of_month: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day_of_month) {
        return None;
    }
    let days = days_from_civil(year, month, day_of_month);
    // Reject 2026-02-31 and the like: the round trip must agree.
    (civil_from_days(days) == (year, month, day_of_month)).then_some(days)
}

/// The day after `day` (`YYYY-MM-DD`), or `None` when `day` is not a date.
pub fn next_day(day: &str) -> Option<String> {
    let (year, month, day_of_month) = civil_from_days(parse_day(day)? + 1);
    Some(format!("{year:04}-{month:02}-{day_of_month:02}"))
}

/// `2026-11-26` as shown on a Chinese government portal:
/// "2026年11月26日 星期四". Anything that is not a `YYYY-MM-DD` date is
/// returned as given.
pub fn format_chinese_date(day: &str) -> String {
    const WEEKDAYS: [&str; 7] = ["日", "一", "二", "三", "四", "五", "六"];
    let Some(days) = parse_day(day) else {
        return day.to_string();
    };
    let (year, month, day_of_month) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    format!("{year}年{month}月{day_of_month}日 星期{weekday}")
}

/// The `YYYY-MM-DD` date in China (UTC+8) at a Unix time.
pub(crate) fn china_date_from_unix_seconds(seconds: i64) -> String {
    let (year, month, day) = civil_from_days((seconds + 8 * 3600).div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(day: &str, expected_next: Option<&str>, expected_shown: &str) {
        assert_eq!(next_day(day).as_deref(), expected_next, "{day}");
        assert_eq!(format_chinese_date(day), expected_shown, "{day}");
    }

    #[test]
    fn dates() {
        check("2026-11-26", Some("2026-11-27"), "2026年11月26日 星期四");
        check("2026-12-31", Some("2027-01-01"), "2026年12月31日 星期四");
        check("2028-02-28", Some("2028-02-29"), "2028年2月28日 星期一");
        check("2027-02-28", Some("2027-03-01"), "2027年2月28日 星期日");
        check("1970-01-01", Some("1970-01-02"), "1970年1月1日 星期四");
        check("2026-02-31", None, "2026-02-31");
        check("明天", None, "明天");
        check("", None, "");
    }

    #[test]
    fn unix_time_in_china() {
        assert_eq!(china_date_from_unix_seconds(0), "1970-01-01");
        // 2026-11-26T16:00:00Z is already the 27th in Beijing.
        assert_eq!(china_date_from_unix_seconds(1_795_708_800), "2026-11-27");
        assert_eq!(china_date_from_unix_seconds(1_795_708_799), "2026-11-26");
    }
}
