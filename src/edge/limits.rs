//! Rates ("N per W seconds") and the in-memory sliding-window limiter the
//! edge uses for what is limited per instance (status reads). Call admission
//! — per-address and per-number limits, the cap, idempotency — is in
//! `admission`. Memory stays bounded: stale entries are pruned as new ones arrive.

use std::collections::HashMap;

/// "N requests per W seconds", from configuration such as `5/60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub limit: u32,
    pub window_ms: u64,
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate, String> {
        let (n, w) = s
            .trim()
            .split_once('/')
            .ok_or("expected N/SECONDS, e.g. 5/60")?;
        let limit: u32 = n
            .trim()
            .parse()
            .map_err(|_| "expected N/SECONDS, e.g. 5/60")?;
        let secs: u64 = w
            .trim()
            .parse()
            .map_err(|_| "expected N/SECONDS, e.g. 5/60")?;
        if limit == 0 || secs == 0 || secs > 86_400 {
            return Err("N and SECONDS must be positive (SECONDS at most 86400)".into());
        }
        Ok(Rate {
            limit,
            window_ms: secs * 1000,
        })
    }
}

/// At most `limit` hits per key in any `window_ms`.
#[derive(Debug)]
pub struct SlidingLimiter {
    rate: Rate,
    hits: HashMap<String, Vec<u64>>,
}

/// Keys kept before a prune pass; an attacker rotating keys cannot grow memory past this.
const MAX_KEYS: usize = 50_000;

impl SlidingLimiter {
    pub fn new(rate: Rate) -> SlidingLimiter {
        SlidingLimiter {
            rate,
            hits: HashMap::new(),
        }
    }

    /// Records a hit, or says how long until one would be allowed.
    pub fn hit(&mut self, key: &str, now: u64) -> Result<(), u64> {
        let window = self.rate.window_ms;
        if self.hits.len() >= MAX_KEYS {
            self.hits
                .retain(|_, v| v.last().is_some_and(|&t| t + window > now));
            if self.hits.len() >= MAX_KEYS {
                // Still full of live keys: refuse new keys rather than grow.
                if !self.hits.contains_key(key) {
                    return Err(window);
                }
            }
        }
        let v = self.hits.entry(key.to_string()).or_default();
        v.retain(|&t| t + window > now);
        if v.len() as u32 >= self.rate.limit {
            return Err(v[0] + window - now);
        }
        v.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rate::parse("5/60"),
            Ok(Rate {
                limit: 5,
                window_ms: 60_000
            })
        );
        for bad in ["5", "0/60", "5/0", "x/60", "5/999999"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sliding_window_limits_per_key() {
        let mut l = SlidingLimiter::new(Rate {
            limit: 2,
            window_ms: 1_000,
        });
        assert_eq!(l.hit("a", 0), Ok(()));
        assert_eq!(l.hit("a", 100), Ok(()));
        assert_eq!(l.hit("a", 200), Err(800));
        assert_eq!(l.hit("b", 200), Ok(()), "keys are independent");
        assert_eq!(l.hit("a", 1_000), Ok(()));
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let mut l = SlidingLimiter::new(Rate {
            limit: 1,
            window_ms: 1_000,
        });
        for i in 0..MAX_KEYS {
            l.hit(&i.to_string(), 0).unwrap();
        }
        assert!(l.hit("new", 10).is_err(), "full of live keys");
        assert_eq!(l.hit("new", 2_000), Ok(()), "stale keys pruned");
        assert!(l.hits.len() <= 2);
    }
}
