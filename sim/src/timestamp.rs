//! Reading ISO-8601 timestamps such as `callbackScheduledTime`. The sim
//! writes them with `util::iso`; this is its inverse, widened to what clients
//! send: JavaScript's `toISOString()` (`…Z`), offsets (`+02:00`, `+0200`,
//! Python's `isoformat()`), and no offset at all (read as UTC).
//! No dependency: the grammar is small and the civil-date maths already lives
//! next door.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `yyyy-MM-ddTHH:mm:ss[.fff][Z|±HH:mm|±HHmm]`. `None` for anything else,
/// including impossible dates (Feb 30) and years outside 1970–9999.
pub fn parse_iso(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: u64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        // Nanosecond precision is plenty; extra digits are read and dropped.
        for (i, c) in frac.bytes().take(digits).enumerate() {
            if i < 9 {
                nanos += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
            }
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let tz = &rest[1..];
            let (h, m) = match tz.len() {
                5 if tz.as_bytes()[2] == b':' => (&tz[0..2], &tz[3..5]),
                4 => (&tz[0..2], &tz[2..4]),
                2 => (tz, "00"),
                _ => return None,
            };
            let all_digits = |x: &str| x.bytes().all(|c| c.is_ascii_digit());
            if !all_digits(h) || !all_digits(m) {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    // A local time just after the epoch with a positive offset lands before it.
    let secs = u64::try_from(secs).unwrap_or(0);
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (H. Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::iso;

    #[test]
    fn round_trips_what_the_sim_writes() {
        for ms in [
            0u64,
            951_782_400_000,
            1_795_398_333_123,
            253_402_300_799_999,
        ] {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            assert_eq!(parse_iso(&iso(t)), Some(t), "{}", iso(t));
        }
    }

    #[test]
    fn reads_offsets_and_their_absence() {
        let want = parse_iso("2026-11-23T10:00:00Z").unwrap();
        for s in [
            "2026-11-23T10:00:00.000Z",
            "2026-11-23T12:00:00+02:00",
            "2026-11-23T12:00:00+0200",
            "2026-11-23T12:00:00+02",
            "2026-11-23T05:00:00-05:00",
            "2026-11-23T10:00:00",
            "2026-11-23 10:00:00z",
        ] {
            assert_eq!(parse_iso(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_iso("2026-11-23T10:00:00.5Z"),
            Some(want + Duration::from_millis(500))
        );
        assert_eq!(
            parse_iso("2026-11-23T10:00:00.123456789123Z"),
            Some(want + Duration::from_nanos(123_456_789))
        );
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for s in [
            "",
            "tomorrow",
            "2026-11-23",
            "2026-02-30T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00.Z",
            "2026-11-23T10:00:00+2:00",
            "2026-11-23T10:00:00+02:00:00",
            "2026-11-23T10:00:00 UTC",
            "1969-12-31T23:59:59Z",
            "+12026-11-23T10:00:00Z",
            "2026-11-23T1٠:00:00Z",
            "２026-11-23T10:00:00Z",
        ] {
            assert_eq!(parse_iso(s), None, "{s}");
        }
        assert!(parse_iso("2024-02-29T00:00:00Z").is_some());
        assert!(parse_iso("2023-02-29T00:00:00Z").is_none());
    }
}
