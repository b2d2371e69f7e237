//! CPU cost of the edge's dial policy (`DialPolicy::check`), natively: per
//! number, for allowed and refused numbers of several countries, and the
//! first check of a cold process.
//! A plain harness; medians of repeated rounds, printed as a table that
//! bench/run.mjs copies into RESULTS.md.

// The edge's modules are host and edge-build only; `make lint` also builds the
// benches for wasm32, where this is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::run();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Instant;

    use genesys_click_to_call::call::E164;
    use genesys_click_to_call::edge::numbering;
    use genesys_click_to_call::edge::policy::{mask_number, DialPolicy, PolicySettings};

    const N: u32 = 20_000;

    fn median_us_per(numbers: &[E164], mut f: impl FnMut(&E164)) -> f64 {
        let mut rounds: Vec<f64> = (0..9)
            .map(|_| {
                let t = Instant::now();
                for i in 0..N {
                    f(&numbers[i as usize % numbers.len()]);
                }
                t.elapsed().as_secs_f64() * 1e6 / N as f64
            })
            .collect();
        rounds.sort_by(|a, b| a.total_cmp(b));
        rounds[rounds.len() / 2]
    }

    fn numbers(list: &[&str]) -> Vec<E164> {
        list.iter().map(|n| E164::parse(n, "n").unwrap()).collect()
    }

    pub fn run() {
        let policy = |countries: &str| {
            DialPolicy::from_settings(PolicySettings {
                countries: Some(countries),
                ..Default::default()
            })
            .unwrap()
        };
        // The first check of a cold process (nothing to load: the table is static).
        let us = policy("US,CA");
        let first = numbers(&["+13175550100"]);
        let t = Instant::now();
        black_box(us.check(&first[0]).is_ok());
        let first_use_us = t.elapsed().as_secs_f64() * 1e6;
        let t = Instant::now();
        black_box(numbering::table_is_readable());
        let validate_all_ms = t.elapsed().as_secs_f64() * 1e3;

        let every = policy("*");
        let cases: [(&str, &DialPolicy, Vec<E164>); 6] = [
            (
                "US number, allowed (US,CA)",
                &us,
                numbers(&["+13175550100", "+12015550123"]),
            ),
            (
                "+1 900 premium, refused by type",
                &us,
                numbers(&["+19005550100"]),
            ),
            (
                "Jamaica 876, refused by country (resolves through 25 NANP plans)",
                &us,
                numbers(&["+18765230123"]),
            ),
            (
                "invalid +1 number (every NANP plan tried)",
                &us,
                numbers(&["+15551234567"]),
            ),
            (
                "mix of 12 countries' fixed, mobile and premium numbers (*)",
                &every,
                numbers(&[
                    "+441212345678",
                    "+447400123456",
                    "+449012345678",
                    "+4930123456",
                    "+4915123456789",
                    "+33612345678",
                    "+33891123456",
                    "+61412345678",
                    "+611900123456",
                    "+819012345678",
                    "+5491123456789",
                    "+971501234567",
                    "+918123456789",
                    "+8613123456789",
                    "+79123456789",
                    "+5511961234567",
                ]),
            ),
            (
                "masking a number for the log",
                &us,
                numbers(&["+13175550100", "+447400123456"]),
            ),
        ];
        println!("| dial policy (native, per number, median of 9 × {N}) | µs |");
        println!("|---|---|");
        for (i, (name, p, list)) in cases.iter().enumerate() {
            let us = if i == cases.len() - 1 {
                median_us_per(list, |n| {
                    black_box(mask_number(black_box(n)));
                })
            } else {
                median_us_per(list, |n| {
                    black_box(p.check(black_box(n)).is_ok());
                })
            };
            println!("| {name} | {us:.2} |");
        }
        println!("| first check of a cold process | {first_use_us:.1} |");
        println!(
            "| (for reference) checking every successor of all {} plans' tables, ms | {validate_all_ms:.1} |",
            numbering::plan_count()
        );
    }
}
