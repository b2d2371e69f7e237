//! CPU cost of the hot pure functions, per 10,000 snapshots: parsing a
//! CallConversation, deriving the normalized status, and serialising it.
//! A plain harness (no criterion: one dependency fewer); medians of repeated
//! rounds, printed as a table that bench/run.mjs copies into RESULTS.md.

use std::hint::black_box;
use std::time::Instant;

use genesys_click_to_call::status::{CallStatus, Snapshot};

const SNAPSHOT: &str = include_str!("snapshot.json");

const N: u32 = 10_000;

fn median_ms(mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut rounds: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    rounds.sort_by(|a, b| a.total_cmp(b));
    rounds[rounds.len() / 2]
}

fn main() {
    let parse = median_ms(|| {
        for _ in 0..N {
            black_box(Snapshot::parse(black_box(SNAPSHOT)).unwrap());
        }
    });
    let snap = Snapshot::parse(SNAPSHOT).unwrap();
    let derive = median_ms(|| {
        for _ in 0..N {
            black_box(CallStatus::derive(black_box(snap.clone())));
        }
    });
    let status = CallStatus::derive(snap.clone());
    let serialise = median_ms(|| {
        for _ in 0..N {
            black_box(status.to_json(None));
        }
    });
    let all = median_ms(|| {
        for _ in 0..N {
            black_box(
                CallStatus::derive(Snapshot::parse(black_box(SNAPSHOT)).unwrap()).to_json(None),
            );
        }
    });
    println!(
        "| step (per {N} snapshots, {} B each) | median ms | µs per snapshot |",
        SNAPSHOT.len()
    );
    println!("|---|---|---|");
    for (name, ms) in [
        ("parse CallConversation", parse),
        ("derive phase/outcome (incl. clone)", derive),
        ("status to JSON", serialise),
        ("all three", all),
    ] {
        println!("| {name} | {ms:.1} | {:.2} |", ms * 1000.0 / N as f64);
    }
}
