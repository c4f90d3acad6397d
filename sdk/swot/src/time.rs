//! Calendar arithmetic of the proleptic Gregorian calendar in UTC, without a date
//! library (the plugins build for wasm32-wasip2 with as few dependencies as they can).

/// True for a leap year.
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in a month (1..=12) of a year.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month as usize - 1]
}

/// (year, month, day) of text starting with a YYYY-MM-DD calendar date.
pub fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let t = text.trim();
    if t.as_bytes().get(4) != Some(&b'-') || t.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    let y: i64 = t.get(0..4)?.parse().ok()?;
    let m: u32 = t.get(5..7)?.parse().ok()?;
    let d: u32 = t.get(8..10)?.parse().ok()?;
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then_some((y, m, d))
}

/// Day of the year (1..=366) of a date.
pub fn day_of_year(year: i64, month: u32, day: u32) -> u32 {
    (1..month).map(|m| days_in_month(year, m)).sum::<u32>() + day
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seconds since 1970-01-01T00:00:00Z of a YYYY-MM-DD date or an RFC 3339 date-time
/// (an offset other than Z is applied).
pub fn parse_time(text: &str) -> Option<f64> {
    let t = text.trim();
    let (y, m, d) = parse_date(t)?;
    let mut seconds = days_from_civil(y, m, d) as f64 * 86_400.0;
    if t.len() > 10 {
        let rest = &t[10..];
        if !rest.starts_with(['T', ' ']) {
            return None;
        }
        let hh: f64 = rest.get(1..3)?.parse().ok()?;
        let mm: f64 = rest.get(4..6)?.parse().ok()?;
        let tail = rest.get(6..).unwrap_or("");
        let (ss, zone) = match tail.strip_prefix(':') {
            Some(s) => {
                let end = s
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(s.len());
                (s[..end].parse::<f64>().ok()?, &s[end..])
            }
            None => (0.0, tail),
        };
        let offset = match zone {
            "" | "Z" | "z" => 0.0,
            z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
                let sign = if z.starts_with('-') { -1.0 } else { 1.0 };
                let oh: f64 = z.get(1..3)?.parse().ok()?;
                let om: f64 = z.get(4..6)?.parse().ok()?;
                sign * (oh * 3600.0 + om * 60.0)
            }
            _ => return None,
        };
        if hh > 23.0 || mm > 59.0 || ss >= 61.0 {
            return None;
        }
        seconds += hh * 3600.0 + mm * 60.0 + ss - offset;
    }
    Some(seconds)
}

/// RFC 3339 text (whole seconds, Z) of seconds since 1970.
pub fn format_time(seconds: f64) -> String {
    let s = seconds.floor() as i64;
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let r = s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(day_of_year(2024, 3, 1), 61);
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1950-02-00"), None);
        assert_eq!(
            parse_time("2024-02-29T12:00:00Z"),
            Some(days_from_civil(2024, 2, 29) as f64 * 86_400.0 + 43_200.0)
        );
        assert_eq!(
            parse_time("2024-02-29T14:00:00+02:00"),
            parse_time("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            format_time(86_400.0 * 11_017.0 + 3_661.0),
            "2000-03-01T01:01:01Z"
        );
    }
}
