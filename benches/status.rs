//! CPU cost of the hot pure functions, per 10,000 snapshots: parsing a
//! CallConversation, deriving the normalized status, and serialising it.
//! A plain harness (no criterion: one dependency fewer); medians of repeated
//! rounds, printed as a table that bench/run.mjs copies into RESULTS.md.

use std::hint::black_box;
use std::time::Instant;

use genesys_click_to_call::status::{CallStatus, Snapshot};

const SNAPSHOT: &str = r#"{"id":"c0ffee00-0000-4000-8000-000000000001","participants":[
 {"id":"p-agent","name":"Ada Lovelace","purpose":"agent","state":"connected","direction":"outbound","startTime":"2026-11-23T10:00:00.000Z",
  "connectedTime":"2026-11-23T10:00:02.100Z","user":{"id":"0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01","selfUri":"/api/v2/users/0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01"},
  "queue":{"id":"q-1","selfUri":"/api/v2/routing/queues/q-1"},"held":false,"wrapupRequired":true,"provider":"Edge","muted":false,"confined":false,
  "recording":false,"recordingState":"none","peer":"p-cust"},
 {"id":"p-cust","purpose":"customer","address":"tel:+13175550100","name":"+13175550100","state":"disconnected","direction":"outbound",
  "startTime":"2026-11-23T10:00:02.300Z","connectedTime":"2026-11-23T10:00:09.800Z","endTime":"2026-11-23T10:00:20.000Z","disconnectType":"endpoint",
  "held":false,"wrapupRequired":false,"attributes":{"ticket":"42"},"provider":"Edge","muted":false,"confined":false,"recording":false,
  "recordingState":"none","dnis":"tel:+13175550100","peer":"p-agent"}],
 "otherMediaUris":[],"recordingState":"none","selfUri":"/api/v2/conversations/calls/c0ffee00-0000-4000-8000-000000000001"}"#;

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
