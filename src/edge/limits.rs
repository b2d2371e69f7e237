//! In-memory abuse controls for one edge instance: sliding-window rate limits,
//! a concurrent-call cap per destination, and Idempotency-Key deduplication.
//! Memory stays bounded: stale entries are pruned as new ones arrive.

use std::collections::HashMap;

/// "N requests per W seconds", from configuration such as `5/60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Calls in progress per destination number, each forgotten when it is seen
/// ending or after `max_ms` (a visitor who never watches the call).
#[derive(Debug, Default)]
pub struct ActiveCalls {
    calls: HashMap<String, Vec<(String, u64)>>,
}

impl ActiveCalls {
    pub fn count(&mut self, number: &str, now: u64, max_ms: u64) -> usize {
        let v = self.calls.entry(number.to_string()).or_default();
        v.retain(|(_, started)| started + max_ms > now);
        v.len()
    }

    pub fn add(&mut self, number: &str, conversation: &str, now: u64) {
        self.calls
            .entry(number.to_string())
            .or_default()
            .push((conversation.to_string(), now));
    }

    pub fn ended(&mut self, conversation: &str) {
        for v in self.calls.values_mut() {
            v.retain(|(c, _)| c != conversation);
        }
        self.calls.retain(|_, v| !v.is_empty());
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idem {
    /// First use: the caller goes ahead (and must `finish` or `abandon`).
    New,
    /// Another request with this key is still placing its call.
    Pending,
    /// Already placed: answer with this handle again.
    Done(String),
}

/// Idempotency-Key → handle, per client address (a key sent from another
/// address is another key, so guessing keys reveals nothing), for `ttl_ms`.
#[derive(Debug, Default)]
pub struct Idempotency {
    entries: HashMap<String, (Option<String>, u64)>,
}

impl Idempotency {
    fn key(ip: &str, key: &str) -> String {
        [ip, "\u{0}", key].concat()
    }

    pub fn begin(&mut self, ip: &str, key: &str, now: u64, ttl_ms: u64) -> Idem {
        if self.entries.len() >= MAX_KEYS {
            self.entries.retain(|_, (_, t)| *t + ttl_ms > now);
        }
        let k = Idempotency::key(ip, key);
        match self.entries.get(&k) {
            Some((Some(handle), t)) if t + ttl_ms > now => Idem::Done(handle.clone()),
            Some((None, t)) if t + ttl_ms > now => Idem::Pending,
            _ => {
                self.entries.insert(k, (None, now));
                Idem::New
            }
        }
    }

    pub fn finish(&mut self, ip: &str, key: &str, handle: &str, now: u64) {
        self.entries
            .insert(Idempotency::key(ip, key), (Some(handle.to_string()), now));
    }

    /// The placement failed before Genesys acted: the key may be used again.
    pub fn abandon(&mut self, ip: &str, key: &str) {
        self.entries.remove(&Idempotency::key(ip, key));
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

    #[test]
    fn active_calls_expire_and_end() {
        let mut a = ActiveCalls::default();
        a.add("+1", "c1", 0);
        a.add("+1", "c2", 0);
        assert_eq!(a.count("+1", 10, 1_000), 2);
        a.ended("c1");
        assert_eq!(a.count("+1", 10, 1_000), 1);
        assert_eq!(a.count("+1", 1_000, 1_000), 0);
    }

    #[test]
    fn idempotency_keys_are_per_address() {
        let mut i = Idempotency::default();
        assert_eq!(i.begin("1.1.1.1", "k", 0, 1_000), Idem::New);
        assert_eq!(i.begin("1.1.1.1", "k", 1, 1_000), Idem::Pending);
        assert_eq!(
            i.begin("2.2.2.2", "k", 1, 1_000),
            Idem::New,
            "another address, another key"
        );
        i.finish("1.1.1.1", "k", "h1", 2);
        assert_eq!(i.begin("1.1.1.1", "k", 3, 1_000), Idem::Done("h1".into()));
        assert_eq!(i.begin("1.1.1.1", "k", 5_000, 1_000), Idem::New, "expired");
        i.abandon("2.2.2.2", "k");
        assert_eq!(i.begin("2.2.2.2", "k", 6, 1_000), Idem::New);
    }
}
