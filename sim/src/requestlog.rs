//! What handlers and background tasks add to `/__sim/requests`: fields on the
//! entry of the request being handled (a wrap-up's code, a callback's number),
//! and entries of their own for things that happen between requests (a
//! callback being dialled), so tests can prove what did and did not happen.

use serde_json::{json, Map, Value};

use crate::util::iso;
use crate::{Inner, Sim, MAX_LOG};

/// Merges `fields` into the log entry `seq` (written when the request arrived).
pub fn annotate(sim: &Sim, seq: u64, fields: Map<String, Value>) {
    let mut inner = sim.lock();
    if let Some(Value::Object(e)) = inner.log.iter_mut().rev().find(|e| e["seq"] == seq) {
        e.extend(fields);
    }
}

/// Appends an entry that is not a request: `{seq, time, elapsedMs, event, …}`
/// (no `method`, `path` or `status`).
pub fn event(sim: &Sim, inner: &mut Inner, name: &str, fields: Map<String, Value>) {
    inner.seq += 1;
    let mut e = Map::new();
    e.insert("seq".into(), json!(inner.seq));
    e.insert("time".into(), json!(iso(std::time::SystemTime::now())));
    e.insert(
        "elapsedMs".into(),
        json!(sim.started.elapsed().as_millis() as u64),
    );
    e.insert("event".into(), json!(name));
    e.extend(fields);
    inner.log.push_back(Value::Object(e));
    if inner.log.len() > MAX_LOG {
        inner.log.pop_front();
    }
}
