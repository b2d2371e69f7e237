//! The per-token request budget and the polling schedule.
//!
//! Genesys allows 300 API requests per minute per token. Every API request the
//! client sends takes a slot in a sliding window first, so the client itself
//! never causes a 429. Reads may fill at most [`POLL_SHARE_PERCENT`] of the
//! window; the rest is kept for priority requests (the create-call POST, the
//! hang-up), so no amount of reading delays a call. Polls also space themselves
//! so that all concurrent waits together stay within the read share: when the
//! budget is tight the intervals stretch instead of failing.

/// Genesys' documented limit: 300 requests per OAuth token per minute.
pub const GENESYS_REQUESTS_PER_MINUTE: u32 = 300;
/// Share of the budget that reads (polling, status) may use; the rest is
/// reserved for priority requests (create-call POSTs, hang-ups).
pub const POLL_SHARE_PERCENT: u64 = 80;
/// Added to the window so that clock differences between us and Genesys never
/// let a burst straddle their window edge.
pub const WINDOW_GUARD_MS: u64 = 1_000;

/// A sliding-window request limiter: at most `limit` sends in any `window_ms`.
#[derive(Debug, Clone)]
pub struct RateBudget {
    limit: u32,
    window_ms: u64,
    /// Send times inside the current window, oldest first (at most `limit`;
    /// a Vec is plenty and smaller in the wasm than a VecDeque).
    sent: Vec<u64>,
}

impl RateBudget {
    pub fn new(limit: u32, window_ms: u64) -> RateBudget {
        RateBudget {
            limit: limit.max(1),
            window_ms: window_ms + WINDOW_GUARD_MS,
            sent: Vec::new(),
        }
    }

    /// Milliseconds to wait before a send at `now_ms` fits; 0 means send now
    /// (and the caller must then [`record`](Self::record) it).
    pub fn wait_ms(&mut self, now_ms: u64) -> u64 {
        self.wait_ms_for(now_ms, true)
    }

    /// As [`wait_ms`](Self::wait_ms) for a request of one class: a read fits
    /// only while the window holds fewer than the read share, so reads can
    /// never take the slots reserved for priority requests.
    pub fn wait_ms_for(&mut self, now_ms: u64, priority: bool) -> u64 {
        let window = self.window_ms;
        self.sent.retain(|&t| t + window > now_ms);
        let cap = if priority {
            self.limit
        } else {
            self.read_share()
        } as usize;
        if self.sent.len() < cap {
            0
        } else {
            // The send that must leave the window before one more fits.
            self.sent
                .get(self.sent.len() - cap)
                .map_or(0, |&t| t + window - now_ms)
        }
    }

    /// Slots per window that reads may use (at least one).
    pub fn read_share(&self) -> u32 {
        ((self.limit as u64 * POLL_SHARE_PERCENT / 100) as u32).max(1)
    }

    /// The send times in the window, for a coordinator that persists the
    /// budget across restarts (the edge's Durable Object).
    pub fn sent(&self) -> &[u64] {
        &self.sent
    }

    /// Restores send times saved by [`sent`](Self::sent) (kept sorted and
    /// bounded, whatever was stored).
    pub fn restore(&mut self, mut sent: Vec<u64>) {
        sent.sort_unstable();
        let keep = sent.len().saturating_sub(self.limit as usize);
        sent.drain(..keep);
        self.sent = sent;
    }

    pub fn record(&mut self, now_ms: u64) {
        // Kept sorted: a restored window may end after a clock step back.
        let at = self.sent.partition_point(|&t| t <= now_ms);
        self.sent.insert(at, now_ms);
    }

    /// The poll interval that keeps `concurrent_waits` pollers within their share.
    pub fn poll_interval_ms(&self, base_ms: u64, concurrent_waits: u32) -> u64 {
        let share = (self.limit as u64 * POLL_SHARE_PERCENT / 100).max(1);
        let fair = (self.window_ms * concurrent_waits.max(1) as u64).div_ceil(share);
        base_ms.max(fair)
    }
}

/// How long to sleep before the next poll: the interval, but never past the
/// deadline, so the last poll happens at the deadline rather than after it.
pub fn next_poll_delay(interval_ms: u64, now_ms: u64, deadline_ms: u64) -> u64 {
    interval_ms.min(deadline_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let mut b = RateBudget::new(5, 10_000);
        let mut sends = Vec::new();
        let mut now = 0;
        while sends.len() < 23 {
            let w = b.wait_ms(now);
            if w == 0 {
                b.record(now);
                sends.push(now);
                now += 7;
            } else {
                now += w;
            }
        }
        for (i, &t) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .filter(|&&u| u < t + 10_000 + WINDOW_GUARD_MS)
                .count();
            assert!(
                in_window <= 5,
                "{in_window} sends in the window starting at {t}"
            );
        }
        // …and it does not stall: 23 sends at 5 per 11 s take four windows.
        assert!(now < 5 * 11_000, "{now}");
    }

    #[test]
    fn poll_intervals_stretch_with_concurrency() {
        let b = RateBudget::new(300, 60_000);
        assert_eq!(b.poll_interval_ms(1_000, 1), 1_000);
        // 100 waits share 240 polls per 61 s: each polls about every 25 s.
        assert_eq!(b.poll_interval_ms(1_000, 100), 25_417);
        let total_per_window = 100 * (61_000 / b.poll_interval_ms(1_000, 100) + 1);
        assert!(total_per_window <= 300);
    }

    #[test]
    fn reads_never_take_the_reserved_share() {
        let mut b = RateBudget::new(10, 10_000);
        // Eight reads fill the read share; the ninth read must wait…
        for t in 0..8 {
            assert_eq!(b.wait_ms_for(t, false), 0);
            b.record(t);
        }
        assert_eq!(b.wait_ms_for(8, false), 11_000 - 8);
        // …while the two reserved slots still go to priority requests at once.
        for t in 8..10 {
            assert_eq!(b.wait_ms_for(t, true), 0);
            b.record(t);
        }
        assert_eq!(
            b.wait_ms_for(10, true),
            11_000 - 10,
            "then priority waits too"
        );
        assert_eq!(b.read_share(), 8);
        assert_eq!(RateBudget::new(1, 1_000).read_share(), 1);
    }

    #[test]
    fn a_restored_window_is_sorted_and_bounded() {
        let mut b = RateBudget::new(3, 10_000);
        b.restore(vec![5, 1, 4, 3, 2]);
        assert_eq!(b.sent(), &[3, 4, 5]);
        assert!(b.wait_ms(6) > 0, "a restart does not reset the window");
        b.record(4);
        assert_eq!(b.sent(), &[3, 4, 4, 5]);
    }

    #[test]
    fn the_last_poll_lands_on_the_deadline() {
        assert_eq!(next_poll_delay(1_000, 0, 10_000), 1_000);
        assert_eq!(next_poll_delay(1_000, 9_700, 10_000), 300);
        assert_eq!(next_poll_delay(1_000, 10_500, 10_000), 0);
    }
}
