//! Rates ("N per W seconds"), as configured. They are counted by the
//! admission desks (`admission`): per address (calls and reads) and per
//! number.

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
}
