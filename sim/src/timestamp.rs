//! Reading ISO-8601 timestamps such as `callbackScheduledTime`: the inverse
//! of `util::iso`, widened to what clients send — JavaScript's
//! `toISOString()` (`…Z`), offsets (`+02:00`, `+0200`, `+02`, Python's
//! `isoformat()`), and no offset at all (read as UTC). jiff's Temporal
//! (RFC 3339 / ISO 8601) parser reads them.

use std::time::SystemTime;

use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;
use jiff::Timestamp;

/// Parses `yyyy-MM-ddTHH:mm:ss[.fff][Z|±HH:mm|±HHmm|±HH]` (and the other
/// ISO 8601 spellings jiff reads). `None` for anything else, including
/// impossible dates (Feb 30), years outside 1970–9999, offsets with seconds
/// and a date without a time.
pub fn parse_iso(s: &str) -> Option<SystemTime> {
    let pieces = Pieces::parse(s).ok()?;
    let written = pieces.date().to_datetime(pieces.time()?);
    let offset = pieces.to_numeric_offset().unwrap_or(Offset::UTC);
    if !(1970..=9999).contains(&written.year()) || offset.seconds() % 60 != 0 {
        return None;
    }
    let t = offset.to_timestamp(written).ok()?;
    // A local time just after the epoch with a positive offset lands before it.
    SystemTime::try_from(t.max(Timestamp::UNIX_EPOCH)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::iso;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn round_trips_what_the_sim_writes() {
        for ms in [
            0u64,
            951_782_400_000,
            1_795_398_333_123,
            // jiff's last instant that every offset keeps inside year 9999.
            253_402_207_200_999,
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
            // ISO 8601 / RFC 9557 spellings jiff also reads.
            "2026-11-23T12:00:00+02:00:00",
            "20261123T100000Z",
            "2026-11-23T10Z",
        ] {
            assert_eq!(parse_iso(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_iso("2026-11-23T10:00:00.5Z"),
            Some(want + Duration::from_millis(500))
        );
        assert_eq!(
            parse_iso("2026-11-23T10:00:00.123456789Z"),
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
            "2026-11-23T10:00:00+02:00:01",
            "2026-11-23T10:00:00.1234567891Z",
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
