//! The per-token request budget and the polling schedule.
//!
//! Genesys allows 300 API requests per minute per token. Every API request the
//! client sends takes a slot in a sliding window first, so the client itself
//! never causes a 429; polls additionally space themselves so that all concurrent
//! waits together use at most [`POLL_SHARE_PERCENT`] of the budget, leaving the
//! rest for call creation and hang-ups. When the budget is tight the intervals
//! stretch instead of failing.

/// Genesys' documented limit: 300 requests per OAuth token per minute.
pub const GENESYS_REQUESTS_PER_MINUTE: u32 = 300;
/// Share of the budget that polling may use.
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
        let window = self.window_ms;
        self.sent.retain(|&t| t + window > now_ms);
        if (self.sent.len() as u32) < self.limit {
            0
        } else {
            self.sent
                .first()
                .map_or(0, |&oldest| oldest + window - now_ms)
        }
    }

    pub fn record(&mut self, now_ms: u64) {
        self.sent.push(now_ms);
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
    fn the_last_poll_lands_on_the_deadline() {
        assert_eq!(next_poll_delay(1_000, 0, 10_000), 1_000);
        assert_eq!(next_poll_delay(1_000, 9_700, 10_000), 300);
        assert_eq!(next_poll_delay(1_000, 10_500, 10_000), 0);
    }
}
