//! `Channel.expires` is an ISO-8601 UTC date-time ("2020-08-12T12:41:54.707Z");
//! this reads it as Unix milliseconds without a date crate.

/// Milliseconds since the Unix epoch, or `None` for anything that is not
/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|+00:00)`.
pub fn iso_to_unix_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-')
        && sep(7, b'-')
        && (sep(10, b'T') || sep(10, b't'))
        && sep(13, b':')
        && sep(16, b':'))
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Fraction: any number of digits, read to milliseconds.
    let mut i = 19;
    let mut millis = 0;
    if sep(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    match &b[i..] {
        b"Z" | b"z" | b"+00:00" => {}
        _ => return None,
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1_000 + millis)
}

/// Days from 1970-01-01 to the given date (Howard Hinnant's algorithm), for years ≥ 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_genesys_expires() {
        assert_eq!(iso_to_unix_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            iso_to_unix_ms("2020-08-12T12:41:54.707Z"),
            Some(1_597_236_114_707)
        );
        assert_eq!(
            iso_to_unix_ms("2024-02-29T23:59:59.5+00:00"),
            Some(1_709_251_199_500)
        );
        assert_eq!(
            iso_to_unix_ms("2026-11-24T10:00:00.123456Z"),
            Some(1_795_514_400_123)
        );
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "2020-08-12",
            "2020-08-12T12:41:54",
            "2020-08-12T12:41:54+02:00",
            "2020-13-12T12:41:54Z",
            "2020-08-12T24:00:00Z",
            "2020-08-12T12:41:54.Z",
            "1969-12-31T23:59:59Z",
            "２020-08-12T12:41:54Z",
            "2020-08-12T12:41:54ZZ",
        ] {
            assert_eq!(iso_to_unix_ms(bad), None, "{bad}");
        }
    }
}
