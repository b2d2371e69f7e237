//! Opening hours in the owner's time zone — `OPENING_HOURS` such as
//! `Mon-Fri 09:00-17:00, Sat 10:00-14:00 Europe/Dublin` — for the edge's
//! availability answer and its check of a visitor's callback time.
//!
//! Pure: every instant comes in as an argument (the edge passes `Date.now()`),
//! and the zone's rules, DST changes included, come from the IANA database
//! bundled with jiff. Hours are wall-clock times in the zone; a time that a DST
//! change skips or repeats resolves the way RFC 5545 and Temporal do
//! ("compatible"): a skipped time moves forward by the gap, a repeated one
//! takes its first occurrence.

use std::fmt;
use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::fmt::strtime;
use jiff::fmt::temporal::DateTimePrinter;
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::callback::CallbackTime;

const EXAMPLE: &str = "Mon-Fri 09:00-17:00 America/Indiana/Indianapolis";
const MAX_SPEC: usize = 1_000;
const MAX_RANGES: usize = 64;
/// Slots are looked for this many days ahead at most.
const SLOT_SEARCH_DAYS: u32 = 370;
const MAX_SLOTS: usize = 500;
/// A chosen time this far in the past is still "now" (the page took a moment).
const PAST_GRACE_MS: i64 = 2 * 60_000;
/// Why `OPENING_HOURS` could not be read; the edge answers 503 `misconfigured`
/// with it (the value is configuration, not a secret, so it may be quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursError(pub String);

impl fmt::Display for HoursError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HoursError {}

fn fail(parts: &[&str]) -> HoursError {
    HoursError(parts.concat())
}

/// At most 40 characters of what was written, for messages.
fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

/// One `days open-close` range; minutes from midnight, `close` up to 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    /// Monday first.
    days: [bool; 7],
    open: u16,
    close: u16,
}

/// Parsed `OPENING_HOURS`.
///
/// Grammar (case-insensitive days; entries separated by commas; the time zone last):
/// ```text
/// OPENING_HOURS = entry *("," entry) zone
/// entry         = days 1*(" " hours)         ; Mon-Fri 09:00-12:00 13:00-17:00
/// days          = day ["-" day] | "Daily"    ; Mon-Fri, Sat, Fri-Mon (wraps), Daily
/// day           = Mon | Tue | … | Sun        ; or the full name: Monday …
/// hours         = HH:MM "-" HH:MM            ; 00:00 to 24:00, closing after opening
/// zone          = an IANA time zone          ; America/Indiana/Indianapolis, Europe/Dublin, UTC
/// ```
/// Hours past midnight are written as two ranges: `Fri 22:00-24:00, Sat 00:00-02:00`.
#[derive(Debug, Clone)]
pub struct OpeningHours {
    zone: String,
    tz: TimeZone,
    ranges: Vec<Range>,
}

/// A callback time to offer a visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// UTC `yyyy-MM-ddTHH:mm:ss.SSSZ`: what `scheduleCallback`'s `at` and Genesys take.
    pub utc: String,
    /// The owner's wall-clock time with its offset (RFC 3339), e.g. `2026-03-09T09:00:00-04:00`.
    pub local: String,
    /// For display, in the owner's zone: `Mon 9 Mar 09:00 EDT`.
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// The time has passed.
    Past,
    /// Further ahead than the edge books.
    TooFarAhead,
    /// Outside opening hours.
    Closed,
}

/// A refused callback time, with a message a visitor can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub message: String,
}

/// `Mon` or `Monday`, any case (jiff's strptime), Monday = 0.
fn day_index(word: &str) -> Option<usize> {
    let day = strtime::parse("%A", word).or_else(|_| strtime::parse("%a", word));
    let weekday = day.ok()?.weekday()?;
    Some(usize::from(weekday.to_monday_zero_offset().unsigned_abs()))
}

fn parse_days(word: &str) -> Result<[bool; 7], HoursError> {
    let lower = word.to_ascii_lowercase();
    if lower == "daily" {
        return Ok([true; 7]);
    }
    let bad = || {
        fail(&[
            "'",
            &shown(word),
            "' is not a day or a range of days: use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range such as Mon-Fri, or Daily",
        ])
    };
    let (from, to) = match word.split_once('-') {
        Some((a, b)) => (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?),
        None => {
            let d = day_index(word).ok_or_else(bad)?;
            (d, d)
        }
    };
    let mut days = [false; 7];
    // Fri-Mon wraps over the weekend.
    let mut d = from;
    loop {
        days[d] = true;
        if d == to {
            return Ok(days);
        }
        d = (d + 1) % 7;
    }
}

/// `HH:MM` (or `H:MM`) in minutes; 24:00 allowed (as a closing time), which
/// no clock-time parser reads.
fn parse_time(s: &str) -> Option<u16> {
    if s == "24:00" {
        return Some(1440);
    }
    // jiff's `%M` would also read one digit (`09:5`), which nobody means.
    if s.split_once(':')?.1.len() != 2 {
        return None;
    }
    let t = Time::strptime("%H:%M", s).ok()?;
    Some(u16::from(t.hour().unsigned_abs()) * 60 + u16::from(t.minute().unsigned_abs()))
}

fn parse_hours(word: &str) -> Result<(u16, u16), HoursError> {
    let (open, close) = word
        .split_once('-')
        .and_then(|(a, b)| Some((parse_time(a)?, parse_time(b)?)))
        .ok_or_else(|| {
            fail(&[
                "'",
                &shown(word),
                "' is not an hours range: write HH:MM-HH:MM between 00:00 and 24:00, e.g. 09:00-17:00",
            ])
        })?;
    if close <= open {
        return Err(fail(&[
            "'",
            &shown(word),
            "' closes before it opens: write hours past midnight as two ranges, e.g. Fri 22:00-24:00, Sat 00:00-02:00",
        ]));
    }
    Ok((open, close))
}

/// `yyyy-MM-ddTHH:mm:ss±HH:MM` (RFC 3339): the wall-clock time at `offset`,
/// whole seconds.
fn iso_local(t: Timestamp, offset: Offset) -> String {
    let mut out = String::with_capacity(25);
    // Writing to a String cannot fail (and `…_to_string` would link jiff's
    // error `Debug`, as `CallbackTime::from_timestamp` explains).
    let _ = DateTimePrinter::new()
        .precision(Some(0))
        .print_timestamp_with_offset(&t, offset, &mut out);
    out
}

impl OpeningHours {
    pub fn parse(spec: &str) -> Result<OpeningHours, HoursError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(fail(&[
                "is empty: give days, hours and a time zone, e.g. ",
                EXAMPLE,
            ]));
        }
        if spec.len() > MAX_SPEC {
            return Err(fail(&["is longer than 1000 characters"]));
        }
        let missing_zone = || fail(&["must end with an IANA time zone, e.g. ", EXAMPLE]);
        let (body, zone) = spec
            .rsplit_once(char::is_whitespace)
            .ok_or_else(missing_zone)?;
        if zone.contains(':') || parse_days(zone).is_ok() {
            return Err(missing_zone());
        }
        let tz = TimeZone::get(zone).map_err(|_| {
            fail(&[
                "'",
                &shown(zone),
                "' is not a time zone jiff's IANA database knows: use a name such as America/Indiana/Indianapolis, Europe/Dublin or UTC",
            ])
        })?;
        let mut ranges = Vec::new();
        for entry in body.split(',') {
            let mut words = entry.split_whitespace();
            let days_word = words.next().ok_or_else(|| {
                fail(&["has an empty entry (two commas, or a comma before the time zone): write entries like Mon-Fri 09:00-17:00, Sat 10:00-14:00"])
            })?;
            let days = parse_days(days_word)?;
            let before = ranges.len();
            for w in words {
                let (open, close) = parse_hours(w)?;
                ranges.push(Range { days, open, close });
            }
            if ranges.len() == before {
                return Err(fail(&[
                    "'",
                    &shown(days_word),
                    "' has no hours: write them after the days, e.g. ",
                    &shown(days_word),
                    " 09:00-17:00",
                ]));
            }
            if ranges.len() > MAX_RANGES {
                return Err(fail(&["has more than 64 hours ranges"]));
            }
        }
        Ok(OpeningHours {
            zone: zone.to_string(),
            tz,
            ranges,
        })
    }

    /// The time zone's name, as configured.
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// `minute` (up to 1440 = the next midnight) on `date` in the zone, as an instant.
    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let (date, minute) = if minute >= 1440 {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, minute)
        };
        let wall = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        self.tz.to_ambiguous_timestamp(wall).compatible().ok()
    }

    /// The open intervals `[open, close)` that start on local `date`, sorted and
    /// merged where ranges overlap.
    fn intervals_on(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        let mut v: Vec<(Timestamp, Timestamp)> = self
            .ranges
            .iter()
            .filter(|r| r.days[weekday])
            .filter_map(|r| Some((self.instant(date, r.open)?, self.instant(date, r.close)?)))
            .filter(|(open, close)| open < close)
            .collect();
        v.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(v.len());
        for (open, close) in v {
            match merged.last_mut() {
                Some(last) if open <= last.1 => last.1 = last.1.max(close),
                _ => merged.push((open, close)),
            }
        }
        merged
    }

    fn local_date(&self, t: Timestamp) -> Date {
        self.tz.to_datetime(t).date()
    }

    /// Whether the owner is open at `t`.
    pub fn is_open(&self, t: Timestamp) -> bool {
        let today = self.local_date(t);
        // An interval belongs to the date it opens on; yesterday's cannot reach
        // past midnight, but a DST change at midnight is not ruled out.
        today
            .yesterday()
            .into_iter()
            .chain([today])
            .any(|d| self.intervals_on(d).iter().any(|(o, c)| *o <= t && t < *c))
    }

    /// `t` itself when open then, else the next opening after `t` (within two
    /// weeks, which always holds one: every range opens weekly).
    pub fn next_opening(&self, t: Timestamp) -> Option<Timestamp> {
        if self.is_open(t) {
            return Some(t);
        }
        let mut date = self.local_date(t).yesterday().ok()?;
        let mut best: Option<Timestamp> = None;
        for _ in 0..16 {
            for (open, _) in self.intervals_on(date) {
                if open > t && best.is_none_or(|b| open < b) {
                    best = Some(open);
                }
            }
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        best
    }

    /// The first `n` callback times at or after `now`: every `slot_minutes` of
    /// real time from each opening, while a whole slot fits before closing.
    /// Stepping in real time means an hour that DST skips offers no slots and
    /// an hour it repeats offers both (their labels and `local` offsets differ).
    pub fn next_open_slots(&self, now: Timestamp, n: usize, slot_minutes: u32) -> Vec<Slot> {
        let n = n.min(MAX_SLOTS);
        let mut out = Vec::new();
        if n == 0 || !(1..=1440).contains(&slot_minutes) {
            return out;
        }
        let step = i64::from(slot_minutes) * 60_000;
        let now_ms = now.as_millisecond();
        let Ok(mut date) = self.local_date(now).yesterday() else {
            return out;
        };
        for _ in 0..SLOT_SEARCH_DAYS {
            for (open, close) in self.intervals_on(date) {
                let (open, close) = (open.as_millisecond(), close.as_millisecond());
                let mut t = open;
                if t < now_ms {
                    // The first slot boundary at or after now.
                    t = open + (now_ms - open + step - 1) / step * step;
                }
                while t + step <= close && out.len() < n {
                    if let Ok(ts) = Timestamp::from_millisecond(t) {
                        out.push(self.slot(ts));
                    }
                    t += step;
                }
            }
            if out.len() >= n {
                break;
            }
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        out
    }

    fn slot(&self, t: Timestamp) -> Slot {
        let wall = self.tz.to_datetime(t);
        let label = [
            &wall.strftime("%a %-d %b %H:%M").to_string(),
            " ",
            &self.abbreviation(t),
        ]
        .concat();
        Slot {
            utc: CallbackTime::from_timestamp(t).as_str().to_string(),
            local: iso_local(t, self.tz.to_offset(t)),
            label,
        }
    }

    /// `EST`, `IST`…; zones whose abbreviation is numeric (`-03`) read `UTC-03`.
    fn abbreviation(&self, t: Timestamp) -> String {
        let info = self.tz.to_offset_info(t);
        let a = info.abbreviation();
        if a.starts_with(|c: char| c.is_ascii_alphabetic()) {
            a.to_string()
        } else {
            ["UTC", a].concat()
        }
    }

    /// Whether a visitor may book a callback at `at`: not in the past (beyond a
    /// two-minute grace), at most `max_ahead` from `now`, and inside opening
    /// hours. The refusal's message says what to do instead.
    pub fn allowed(
        &self,
        at: Timestamp,
        now: Timestamp,
        max_ahead: Duration,
    ) -> Result<(), Refusal> {
        let (at_ms, now_ms) = (at.as_millisecond(), now.as_millisecond());
        if at_ms < now_ms.saturating_sub(PAST_GRACE_MS) {
            return Err(Refusal {
                reason: RefusalReason::Past,
                message: "That time has already passed — please choose a time from now on.".into(),
            });
        }
        let ahead_ms = i64::try_from(max_ahead.as_millis()).unwrap_or(i64::MAX);
        if at_ms > now_ms.saturating_add(ahead_ms) {
            return Err(Refusal {
                reason: RefusalReason::TooFarAhead,
                message: [
                    "Callbacks can be booked at most ",
                    &span_words(max_ahead),
                    " ahead — please choose an earlier time.",
                ]
                .concat(),
            });
        }
        let t = at.max(now);
        if self.is_open(t) {
            return Ok(());
        }
        let when = if at_ms <= now_ms { "right now" } else { "then" };
        let message = match self.next_opening(t) {
            Some(open) => [
                "We're closed ",
                when,
                " — we open ",
                &self.when(open, now),
                ".",
            ]
            .concat(),
            None => ["We're closed ", when, "."].concat(),
        };
        Err(Refusal {
            reason: RefusalReason::Closed,
            message,
        })
    }

    /// `today at 13:00 (EST)`, `tomorrow at …`, `Monday at …` within a week,
    /// else `Monday 16 March at …` — in the owner's zone, from `now`'s date there.
    fn when(&self, t: Timestamp, now: Timestamp) -> String {
        let wall = self.tz.to_datetime(t);
        let (day, today) = (wall.date(), self.local_date(now));
        let within_week = today.checked_add(7.days()).is_ok_and(|limit| day < limit);
        let date_words = if day == today {
            "today".to_string()
        } else if today.tomorrow().is_ok_and(|tomorrow| day == tomorrow) {
            "tomorrow".to_string()
        } else if within_week {
            day.strftime("%A").to_string()
        } else {
            day.strftime("%A %-d %B").to_string()
        };
        [
            &date_words,
            " at ",
            &wall.strftime("%H:%M").to_string(),
            " (",
            &self.abbreviation(t),
            ")",
        ]
        .concat()
    }
}

/// `14 days`, `1 day`, `36 hours`, `45 minutes`.
fn span_words(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 86_400 && secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs >= 3_600 && secs % 3_600 == 0 {
        (secs / 3_600, "hour")
    } else {
        (secs.div_ceil(60), "minute")
    };
    let plural = if n == 1 { "" } else { "s" };
    [&n.to_string(), " ", unit, plural].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(spec: &str) -> OpeningHours {
        OpeningHours::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_documented_forms() {
        let h = hours("Mon-Fri 09:00-17:00 America/Indiana/Indianapolis");
        assert_eq!(h.zone(), "America/Indiana/Indianapolis");
        assert_eq!(h.ranges.len(), 1);
        assert_eq!(
            h.ranges[0].days,
            [true, true, true, true, true, false, false]
        );
        assert_eq!((h.ranges[0].open, h.ranges[0].close), (540, 1020));
        let h = hours(
            "  mon-fri 09:00-12:00 13:00-17:00,  SAT 10:00-14:00,Sunday 9:30-24:00 Europe/Dublin ",
        );
        assert_eq!(h.ranges.len(), 4);
        assert_eq!(
            h.ranges[3].days,
            [false, false, false, false, false, false, true]
        );
        assert_eq!((h.ranges[3].open, h.ranges[3].close), (570, 1440));
        let wrap = hours("Fri-Mon 10:00-16:00 UTC");
        assert_eq!(
            wrap.ranges[0].days,
            [true, false, false, false, true, true, true]
        );
        assert_eq!(hours("Daily 00:00-24:00 UTC").ranges[0].days, [true; 7]);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        for (bad, needle) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("Mon-Fri", "must end with an IANA time zone"),
            ("Mon-Fri 09:00-17:00", "must end with an IANA time zone"),
            ("Mon-Fri 09:00-17:00 Sat", "must end with an IANA time zone"),
            (
                "Mon-Fri 09:00-17:00 Mars/Olympus_Mons",
                "'Mars/Olympus_Mons' is not a time zone",
            ),
            ("Mnday 09:00-17:00 UTC", "'Mnday' is not a day"),
            ("Mon-Fryday 09:00-17:00 UTC", "'Mon-Fryday' is not a day"),
            ("Mon-Fri 9-17 UTC", "'9-17' is not an hours range"),
            (
                "Mon-Fri 09:00-25:00 UTC",
                "'09:00-25:00' is not an hours range",
            ),
            ("Mon-Fri 09:00-24:30 UTC", "is not an hours range"),
            ("Mon-Fri 09:60-17:00 UTC", "is not an hours range"),
            ("Mon-Fri 09:00 UTC", "'09:00' is not an hours range"),
            (
                "Mon-Fri 17:00-09:00 UTC",
                "'17:00-09:00' closes before it opens",
            ),
            ("Mon-Fri 09:00-09:00 UTC", "closes before it opens"),
            ("Sat UTC", "'Sat' has no hours"),
            ("Mon-Fri 09:00-17:00, Sat UTC", "'Sat' has no hours"),
            (
                "Mon-Fri 09:00-17:00,, Sat 10:00-12:00 UTC",
                "has an empty entry",
            ),
            ("Mon-Fri 09:00-17:00, UTC", "has an empty entry"),
            ("Mon-Fri ０９:00-17:00 UTC", "is not an hours range"),
        ] {
            let e = OpeningHours::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(e.0.contains(needle), "{bad}: {e}");
        }
        let long = ["Mon 09:00-10:00, "; 100].concat() + "UTC";
        assert!(OpeningHours::parse(&long)
            .unwrap_err()
            .0
            .contains("longer than"));
        let many = String::from("Mon ") + &["09:00-10:00 "; 65].concat() + "UTC";
        assert!(OpeningHours::parse(&many)
            .unwrap_err()
            .0
            .contains("more than 64"));
        let hostile = format!("Mon 09:00-17:00 {}", "x".repeat(5_00));
        assert!(OpeningHours::parse(&hostile).unwrap_err().0.len() < 300);
    }

    // US: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
    // EU: 2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC.

    #[test]
    fn a_nine_oclock_opening_follows_the_us_spring_forward() {
        let h = hours("Mon-Fri 09:00-17:00 America/Indiana/Indianapolis");
        // Friday before: 09:00 EST = 14:00Z; Monday after: 09:00 EDT = 13:00Z.
        assert!(!h.is_open(ts("2026-03-06T13:30:00Z")), "08:30 EST");
        assert!(h.is_open(ts("2026-03-06T14:00:00Z")));
        assert!(h.is_open(ts("2026-03-09T13:30:00Z")), "09:30 EDT");
        assert!(!h.is_open(ts("2026-03-09T12:59:59Z")));
        assert!(h.is_open(ts("2026-03-09T20:59:59Z")) && !h.is_open(ts("2026-03-09T21:00:00Z")));
        assert_eq!(
            h.next_opening(ts("2026-03-07T12:00:00Z")),
            Some(ts("2026-03-09T13:00:00Z"))
        );
        let slots = h.next_open_slots(ts("2026-03-06T21:30:00Z"), 2, 60);
        assert_eq!(slots[0].utc, "2026-03-09T13:00:00.000Z");
        assert_eq!(slots[0].local, "2026-03-09T09:00:00-04:00");
        assert_eq!(slots[0].label, "Mon 9 Mar 09:00 EDT");
        assert_eq!(slots[1].label, "Mon 9 Mar 10:00 EDT");
    }

    #[test]
    fn a_nine_oclock_opening_follows_the_us_fall_back() {
        let h = hours("Mon-Fri 09:00-17:00 America/Indiana/Indianapolis");
        assert_eq!(
            h.next_opening(ts("2026-10-31T12:00:00Z")),
            Some(ts("2026-11-02T14:00:00Z"))
        );
        assert!(
            h.is_open(ts("2026-10-30T13:00:00Z")),
            "09:00 EDT on the Friday before"
        );
        assert!(
            !h.is_open(ts("2026-11-02T13:30:00Z")),
            "08:30 EST on the Monday after"
        );
    }

    #[test]
    fn eu_zones_follow_their_own_changes() {
        // Dublin: GMT in winter, IST in summer (tzdb models it as negative DST).
        let h = hours("Mon-Fri 09:00-17:00, Sat 10:00-14:00 Europe/Dublin");
        assert!(h.is_open(ts("2026-03-28T10:00:00Z")), "Sat 10:00 GMT");
        assert!(!h.is_open(ts("2026-03-28T14:00:00Z")));
        assert_eq!(
            h.next_opening(ts("2026-03-28T15:00:00Z")),
            Some(ts("2026-03-30T08:00:00Z")),
            "Mon 09:00 IST"
        );
        assert_eq!(
            h.next_opening(ts("2026-10-24T15:00:00Z")),
            Some(ts("2026-10-26T09:00:00Z")),
            "Mon 09:00 GMT"
        );
        let s = h.next_open_slots(ts("2026-03-28T15:00:00Z"), 1, 30);
        assert_eq!(
            (s[0].local.as_str(), s[0].label.as_str()),
            ("2026-03-30T09:00:00+01:00", "Mon 30 Mar 09:00 IST")
        );
        // Berlin on the EU spring-forward Sunday: 02:00 CET → 03:00 CEST.
        let b = hours("Sun 01:00-05:00 Europe/Berlin");
        let labels: Vec<String> = b
            .next_open_slots(ts("2026-03-28T12:00:00Z"), 10, 60)
            .into_iter()
            .map(|s| s.label)
            .collect();
        assert_eq!(
            labels[..3],
            [
                "Sun 29 Mar 01:00 CET",
                "Sun 29 Mar 03:00 CEST",
                "Sun 29 Mar 04:00 CEST"
            ]
        );
        assert_eq!(labels[3], "Sun 5 Apr 01:00 CEST");
    }

    #[test]
    fn slots_in_the_skipped_hour_are_not_offered() {
        let h = hours("Sun 01:00-04:00 America/New_York");
        let slots = h.next_open_slots(ts("2026-03-07T00:00:00Z"), 4, 30);
        let got: Vec<(&str, &str)> = slots
            .iter()
            .map(|s| (s.utc.as_str(), s.label.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-03-08T06:00:00.000Z", "Sun 8 Mar 01:00 EST"),
                ("2026-03-08T06:30:00.000Z", "Sun 8 Mar 01:30 EST"),
                ("2026-03-08T07:00:00.000Z", "Sun 8 Mar 03:00 EDT"),
                ("2026-03-08T07:30:00.000Z", "Sun 8 Mar 03:30 EDT"),
            ]
        );
        // That day the three wall-clock hours last two real ones.
        assert!(h.is_open(ts("2026-03-08T07:59:59Z")) && !h.is_open(ts("2026-03-08T08:00:00Z")));
        // An opening inside the gap (02:30) moves forward by the gap: 03:30 EDT.
        let g = hours("Sun 02:30-05:00 America/New_York");
        assert_eq!(
            g.next_opening(ts("2026-03-08T05:00:00Z")),
            Some(ts("2026-03-08T07:30:00Z"))
        );
        assert!(!g.is_open(ts("2026-03-08T07:15:00Z")), "03:15 EDT");
        // The next Sunday it is 02:30 EDT again.
        assert_eq!(
            g.next_opening(ts("2026-03-09T00:00:00Z")),
            Some(ts("2026-03-15T06:30:00Z"))
        );
    }

    #[test]
    fn the_repeated_hour_is_open_twice_and_offers_both_slots() {
        let h = hours("Sun 00:00-03:00 America/New_York");
        // 00:00 EDT (04:00Z) to 03:00 EST (08:00Z): four real hours.
        assert!(h.is_open(ts("2026-11-01T05:45:00Z")), "01:45 EDT");
        assert!(h.is_open(ts("2026-11-01T06:45:00Z")), "01:45 EST");
        assert!(h.is_open(ts("2026-11-01T07:59:00Z")) && !h.is_open(ts("2026-11-01T08:00:00Z")));
        let labels: Vec<String> = h
            .next_open_slots(ts("2026-11-01T04:00:00Z"), 20, 30)
            .into_iter()
            .take_while(|s| s.label.starts_with("Sun 1 Nov"))
            .map(|s| s.label)
            .collect();
        assert_eq!(
            labels,
            [
                "Sun 1 Nov 00:00 EDT",
                "Sun 1 Nov 00:30 EDT",
                "Sun 1 Nov 01:00 EDT",
                "Sun 1 Nov 01:30 EDT",
                "Sun 1 Nov 01:00 EST",
                "Sun 1 Nov 01:30 EST",
                "Sun 1 Nov 02:00 EST",
                "Sun 1 Nov 02:30 EST",
            ]
        );
        // An opening inside the repeated hour takes its first occurrence (EDT).
        let r = hours("Sun 01:30-03:00 America/New_York");
        assert_eq!(
            r.next_opening(ts("2026-11-01T00:00:00Z")),
            Some(ts("2026-11-01T05:30:00Z"))
        );
        // Berlin, EU fall-back: 02:00-03:00 happens twice, so 02:00-04:00 lasts three hours.
        let b = hours("Sun 02:00-04:00 Europe/Berlin");
        let labels: Vec<String> = b
            .next_open_slots(ts("2026-10-24T00:00:00Z"), 3, 60)
            .into_iter()
            .map(|s| s.label)
            .collect();
        assert_eq!(
            labels,
            [
                "Sun 25 Oct 02:00 CEST",
                "Sun 25 Oct 02:00 CET",
                "Sun 25 Oct 03:00 CET"
            ]
        );
    }

    #[test]
    fn slots_start_at_the_next_boundary_and_fit_before_closing() {
        let h = hours("Mon-Fri 09:00-12:00 13:00-17:00, Mon 16:00-18:00 UTC");
        // Monday 2026-03-09, 10:10: the next 30-minute boundary is 10:30.
        let s = h.next_open_slots(ts("2026-03-09T10:10:00Z"), 5, 30);
        let utc: Vec<&str> = s.iter().map(|s| &s.utc[11..16]).collect();
        assert_eq!(utc, ["10:30", "11:00", "11:30", "13:00", "13:30"]);
        // Overlapping ranges merge: Monday runs to 18:00 without a double 16:00.
        let s = h.next_open_slots(ts("2026-03-09T16:40:00Z"), 3, 60);
        let utc: Vec<&str> = s.iter().map(|s| &s.utc[..16]).collect();
        assert_eq!(
            utc,
            ["2026-03-09T17:00", "2026-03-10T09:00", "2026-03-10T10:00"]
        );
        // Monday's merged 13:00-18:00 holds one 5-hour slot; nothing holds a longer one,
        // and looking for it is not an endless search.
        assert_eq!(
            h.next_open_slots(ts("2026-03-09T00:00:00Z"), 3, 300).len(),
            3
        );
        assert!(h
            .next_open_slots(ts("2026-03-09T00:00:00Z"), 3, 301)
            .is_empty());
        assert!(h
            .next_open_slots(ts("2026-03-09T00:00:00Z"), 3, 0)
            .is_empty());
        assert!(h
            .next_open_slots(ts("2026-03-09T00:00:00Z"), 0, 30)
            .is_empty());
        assert_eq!(
            h.next_open_slots(ts("2026-03-09T00:00:00Z"), 10_000, 60)
                .len(),
            MAX_SLOTS
        );
    }

    #[test]
    fn allowed_refuses_with_visitor_readable_reasons() {
        let h = hours("Mon-Fri 09:00-17:00 America/Indiana/Indianapolis");
        let two_weeks = Duration::from_secs(14 * 86_400);
        // Friday 2026-03-06 16:00 EST.
        let now = ts("2026-03-06T21:00:00Z");
        assert_eq!(
            h.allowed(ts("2026-03-06T21:30:00Z"), now, two_weeks),
            Ok(())
        );
        assert_eq!(
            h.allowed(ts("2026-03-06T20:59:00Z"), now, two_weeks),
            Ok(()),
            "within the grace"
        );
        let r = h
            .allowed(ts("2026-03-06T20:00:00Z"), now, two_weeks)
            .unwrap_err();
        assert_eq!(r.reason, RefusalReason::Past);
        assert!(r.message.contains("already passed"));
        let r = h
            .allowed(ts("2026-03-07T15:00:00Z"), now, two_weeks)
            .unwrap_err();
        assert_eq!(r.reason, RefusalReason::Closed);
        assert_eq!(
            r.message,
            "We're closed then — we open Monday at 09:00 (EDT)."
        );
        let r = h
            .allowed(ts("2026-03-06T22:30:00Z"), now, two_weeks)
            .unwrap_err();
        assert_eq!(
            r.message,
            "We're closed then — we open Monday at 09:00 (EDT)."
        );
        let r = h
            .allowed(ts("2026-03-21T15:00:00Z"), now, two_weeks)
            .unwrap_err();
        assert_eq!(r.reason, RefusalReason::TooFarAhead);
        assert_eq!(
            r.message,
            "Callbacks can be booked at most 14 days ahead — please choose an earlier time."
        );
        // Tuesday 07:00 EDT, asking for now; and for later that evening.
        let tue = ts("2026-03-10T11:00:00Z");
        let r = h.allowed(tue, tue, two_weeks).unwrap_err();
        assert_eq!(
            r.message,
            "We're closed right now — we open today at 09:00 (EDT)."
        );
        let r = h
            .allowed(ts("2026-03-10T22:00:00Z"), tue, two_weeks)
            .unwrap_err();
        assert_eq!(
            r.message,
            "We're closed then — we open tomorrow at 09:00 (EDT)."
        );
        // Far ahead, the date is spelled out.
        let r = h
            .allowed(
                ts("2026-03-21T15:00:00Z"),
                tue,
                Duration::from_secs(30 * 86_400),
            )
            .unwrap_err();
        assert_eq!(
            r.message,
            "We're closed then — we open Monday 23 March at 09:00 (EDT)."
        );
        assert_eq!(span_words(Duration::from_secs(86_400)), "1 day");
        assert_eq!(span_words(Duration::from_secs(36 * 3_600)), "36 hours");
        assert_eq!(span_words(Duration::from_secs(90)), "2 minutes");
    }

    #[test]
    fn local_times_carry_their_offset() {
        let t = ts("2026-03-09T13:00:00.999Z");
        assert_eq!(
            iso_local(t, jiff::tz::offset(-4)),
            "2026-03-09T09:00:00-04:00"
        );
        assert_eq!(
            iso_local(t, Offset::from_seconds(5 * 3600 + 45 * 60).unwrap()),
            "2026-03-09T18:45:00+05:45"
        );
        assert_eq!(iso_local(t, Offset::UTC), "2026-03-09T13:00:00+00:00");
    }

    #[test]
    fn numeric_abbreviations_read_as_utc_offsets() {
        let h = hours("Mon-Fri 09:00-17:00 America/Sao_Paulo");
        let s = h.next_open_slots(ts("2026-03-09T00:00:00Z"), 1, 60);
        assert_eq!(s[0].label, "Mon 9 Mar 09:00 UTC-03");
        assert_eq!(s[0].utc, "2026-03-09T12:00:00.000Z");
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let h = hours("Daily 00:00-24:00 Pacific/Kiritimati");
        for t in [Timestamp::MIN, Timestamp::MAX, Timestamp::UNIX_EPOCH] {
            let _ = h.is_open(t);
            let _ = h.next_opening(t);
            let _ = h.next_open_slots(t, 3, 60);
            let _ = h.allowed(t, t, Duration::MAX);
            let _ = h.allowed(Timestamp::MIN, Timestamp::MAX, Duration::ZERO);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const SPECS: [&str; 4] = [
            "Mon-Fri 09:00-17:00 America/Indiana/Indianapolis",
            "Mon-Fri 09:00-12:00 13:00-17:00, Sat 10:00-14:00 Europe/Dublin",
            "Sun 00:30-03:30, Wed 23:00-24:00 America/New_York",
            "Fri-Mon 01:15-02:45 Europe/Berlin",
        ];

        proptest! {
            #[test]
            fn parse_never_panics(s in ".{0,200}") {
                let _ = OpeningHours::parse(&s);
            }

            // 2025-2028 covers several DST changes in every zone above.
            #[test]
            fn next_opening_is_open_and_nothing_earlier_is(spec in 0..SPECS.len(), secs in 1_735_689_600i64..1_861_920_000) {
                let h = hours(SPECS[spec]);
                let t = Timestamp::from_second(secs).unwrap();
                let open = h.next_opening(t).unwrap();
                prop_assert!(open >= t && h.is_open(open));
                if open > t {
                    // Sampled: one minute before opening it was closed.
                    prop_assert!(!h.is_open(Timestamp::from_second(open.as_second() - 60).unwrap().max(t)));
                }
            }

            #[test]
            fn every_slot_is_open_for_its_whole_length(spec in 0..SPECS.len(), secs in 1_735_689_600i64..1_861_920_000, minutes in 5u32..120) {
                let h = hours(SPECS[spec]);
                let now = Timestamp::from_second(secs).unwrap();
                let slots = h.next_open_slots(now, 6, minutes);
                let mut last = now.as_millisecond() - 1;
                for s in &slots {
                    let t = ts(&s.utc);
                    prop_assert!(t >= now && t.as_millisecond() > last);
                    last = t.as_millisecond();
                    prop_assert!(h.is_open(t));
                    let end = Timestamp::from_millisecond(t.as_millisecond() + i64::from(minutes) * 60_000 - 1).unwrap();
                    prop_assert!(h.is_open(end));
                    prop_assert_eq!(h.allowed(t, now, Duration::from_secs(400 * 86_400)), Ok(()));
                }
            }
        }
    }
}
