//! genesys-sim over loopback HTTP, ACD side: agent availability (presence,
//! routing status, station), queues and wrap-up codes, wrap-up on calls,
//! queue callbacks and estimated wait time. Timings run at `--time-scale`
//! 0.02, and every wait is on a condition with a deadline.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use genesys_sim::util::iso;
use genesys_sim::{start, Config, Running};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const ADA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const OTTO: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";
const DORA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a03";
const SUPPORT: &str = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";
const SALES: &str = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f71";
const RESOLVED: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01";
const CALL_BACK_LATER: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b02";
const SALE_MADE: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b03";
const AVAILABLE: &str = "6a3af858-942f-489d-9700-5f9bcdcdae9b";
const OFFLINE: &str = "ccf3c10a-aa2c-4845-8e8d-f59fa48c58e5";
const DND: &str = "9d1c4b7e-2f3a-4d5b-8c6e-7a8b9c0d1e2f";
const ADA_STATION: &str = "3c9e1f5a-7b2d-4e6f-8a1c-5d7f9b1e0a01";
const SCALE: f64 = 0.02;

struct T {
    sim: Running,
    http: reqwest::Client,
    edge: String,
    ro: String,
}

async fn sim_with(f: impl FnOnce(&mut Config)) -> T {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        time_scale: SCALE,
        quiet: true,
        ..Config::default()
    };
    f(&mut cfg);
    let sim = start(cfg).await.unwrap();
    let http = reqwest::Client::new();
    let mut t = T {
        sim,
        http,
        edge: String::new(),
        ro: String::new(),
    };
    t.edge = t.token("sim-edge", "sim-edge-secret").await;
    t.ro = t.token("sim-readonly", "sim-readonly-secret").await;
    t
}

async fn sim() -> T {
    sim_with(|_| {}).await
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text))
    }
    fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json()
    }
}

fn json_body(rb: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    rb.header("content-type", "application/json")
        .body(body.to_string())
}

/// Polls `f` until it yields `Some`, failing after `secs`.
async fn until<T, F, Fut>(what: &str, secs: f64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `+secs` from now as Genesys timestamps are written.
fn in_secs(secs: i64) -> String {
    let now = SystemTime::now();
    let t = if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs(secs.unsigned_abs())
    };
    iso(t)
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.sim.url())
    }
    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }
    async fn token(&self, id: &str, secret: &str) -> String {
        let r = self
            .send(
                self.http
                    .post(self.url("/oauth/token"))
                    .basic_auth(id, Some(secret))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
        r.ok()["access_token"].as_str().unwrap().to_string()
    }
    async fn get(&self, tok: &str, p: &str) -> Resp {
        self.send(self.http.get(self.url(p)).bearer_auth(tok)).await
    }
    async fn post(&self, tok: &str, p: &str, body: Value) -> Resp {
        self.send(json_body(
            self.http.post(self.url(p)).bearer_auth(tok),
            &body,
        ))
        .await
    }
    async fn patch(&self, tok: &str, p: &str, body: Value) -> Resp {
        self.send(json_body(
            self.http.patch(self.url(p)).bearer_auth(tok),
            &body,
        ))
        .await
    }
    async fn log(&self) -> Vec<Value> {
        self.send(self.http.get(self.url("/__sim/requests")))
            .await
            .ok()["requests"]
            .as_array()
            .unwrap()
            .clone()
    }
    async fn hook(&self, p: &str, body: Value) -> Resp {
        self.send(json_body(self.http.post(self.url(p)), &body))
            .await
    }
    /// Places a call on `user`'s behalf; `queue` makes it an ACD call.
    async fn dial(&self, user: &str, number: &str, queue: Option<&str>) -> String {
        let mut body = json!({ "phoneNumber": number });
        if let Some(q) = queue {
            body["callFromQueueId"] = json!(q);
        }
        let r = self
            .post(
                &self.edge,
                &format!("/api/v2/conversations/calls/user/{user}"),
                body,
            )
            .await;
        r.ok()["id"].as_str().unwrap().to_string()
    }
    async fn call(&self, id: &str) -> Value {
        self.get(&self.edge, &format!("/api/v2/conversations/calls/{id}"))
            .await
            .ok()
    }
    /// Waits until every participant of a call is disconnected.
    async fn ended_call(&self, id: &str) -> Value {
        until("the call to end", 10.0, || async {
            let c = self.call(id).await;
            let all = c["participants"].as_array().unwrap();
            all.iter()
                .all(|p| p["state"] == "disconnected")
                .then_some(c)
        })
        .await
    }
    async fn create_callback(&self, body: Value) -> (String, String) {
        let r = self
            .post(&self.edge, "/api/v2/conversations/callbacks", body)
            .await
            .ok();
        (
            r["conversation"]["id"].as_str().unwrap().to_string(),
            r["callbackIdentifiers"][0]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }
    async fn callback(&self, id: &str) -> Value {
        self.get(&self.edge, &format!("/api/v2/conversations/callbacks/{id}"))
            .await
            .ok()
    }
    /// The `callback.dialled` log entries of conversation `id`.
    async fn dialled(&self, id: &str) -> Vec<Value> {
        self.log()
            .await
            .into_iter()
            .filter(|e| e["event"] == "callback.dialled" && e["conversationId"] == id)
            .collect()
    }
    async fn wait_dialled(&self, id: &str, secs: f64) -> Value {
        until("the callback to be dialled", secs, || async {
            self.dialled(id).await.into_iter().next()
        })
        .await
    }
    /// Waits until a callback conversation is over, returning its last view.
    async fn ended_callback(&self, id: &str) -> Value {
        until("the callback to end", 10.0, || async {
            let c = self.callback(id).await;
            let all = c["participants"].as_array().unwrap();
            (all.len() == 3 && all.iter().all(|p| p["state"] == "disconnected")).then_some(c)
        })
        .await
    }
    async fn presence(&self, user: &str) -> Value {
        self.get(
            &self.edge,
            &format!("/api/v2/users/{user}/presences/purecloud"),
        )
        .await
        .ok()
    }
    async fn routing_status(&self, user: &str) -> String {
        self.get(&self.edge, &format!("/api/v2/users/{user}/routingstatus"))
            .await
            .ok()["status"]
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn set_presence(&self, user: &str, definition: &str) -> Value {
        self.patch(
            &self.edge,
            &format!("/api/v2/users/{user}/presences/purecloud"),
            json!({"presenceDefinition": {"id": definition}}),
        )
        .await
        .ok()
    }
}

fn assert_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    let b = r.json();
    assert_eq!(b["code"], code, "{}", r.text);
    assert_eq!(b["status"], status);
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        b["contextId"].as_str(),
        r.headers
            .get("inin-correlation-id")
            .and_then(|v| v.to_str().ok())
    );
    assert!(b["details"].is_array() && b["errors"].is_array());
    b
}

fn assert_field_error(r: &Resp, code: &str, field: &str) -> Value {
    let b = assert_error(r, 400, code);
    assert_eq!(b["details"][0]["fieldName"], field, "{}", r.text);
    b
}

fn participant<'a>(conv: &'a Value, purpose: &str) -> &'a Value {
    conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == purpose)
        .unwrap_or_else(|| panic!("no {purpose} participant in {conv}"))
}

#[tokio::test]
async fn availability_of_ada_otto_and_dora() {
    let t = sim().await;
    // Presence: Ada available, Otto offline, Dora on a custom DND presence mapped to Busy.
    for (user, id, system) in [
        (ADA, AVAILABLE, "Available"),
        (OTTO, OFFLINE, "Offline"),
        (DORA, DND, "Busy"),
    ] {
        let p = t.presence(user).await;
        assert_eq!(p["presenceDefinition"]["id"], id, "{user}");
        assert_eq!(p["presenceDefinition"]["systemPresence"], system);
        assert_eq!(
            p["presenceDefinition"]["selfUri"],
            format!("/api/v2/presencedefinitions/{id}")
        );
        assert_eq!(
            (p["source"].as_str(), p["primary"].as_bool()),
            (Some("PURECLOUD"), Some(true))
        );
        assert!(p["message"].is_string() && p["modifiedDate"].as_str().unwrap().ends_with('Z'));
    }
    assert_error(
        &t.get(&t.edge, "/api/v2/users/nobody/presences/purecloud")
            .await,
        404,
        "not.found",
    );

    // Bulk: a bare array, unknown ids left out, ≤ 50 ids, comma list or repeated.
    let bulk = t
        .get(
            &t.edge,
            &format!("/api/v2/users/presences/purecloud/bulk?id={ADA},{OTTO},nobody&id={DORA}"),
        )
        .await
        .ok();
    let got: Vec<(&str, &str)> = bulk
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["userId"].as_str().unwrap(),
                p["presenceDefinition"]["systemPresence"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(ADA, "Available"), (OTTO, "Offline"), (DORA, "Busy")]);
    let many = vec![ADA; 51].join(",");
    assert_field_error(
        &t.get(
            &t.edge,
            &format!("/api/v2/users/presences/purecloud/bulk?id={many}"),
        )
        .await,
        "bad.request",
        "id",
    );
    assert_field_error(
        &t.get(&t.edge, "/api/v2/users/presences/purecloud/bulk")
            .await,
        "bad.request",
        "id",
    );

    // Routing status: only Ada is on queue; an unknown user is OFF_QUEUE, not 404.
    for (user, status) in [
        (ADA, "IDLE"),
        (OTTO, "OFF_QUEUE"),
        (DORA, "OFF_QUEUE"),
        ("nobody", "OFF_QUEUE"),
    ] {
        let r = t
            .get(&t.ro, &format!("/api/v2/users/{user}/routingstatus"))
            .await
            .ok();
        assert_eq!(
            (r["userId"].as_str(), r["status"].as_str()),
            (Some(user), Some(status))
        );
    }

    // Station: Ada's and Dora's exist; Otto's effectiveStation is absent (Genesys' null).
    let ada = t
        .get(&t.edge, &format!("/api/v2/users/{ADA}/station"))
        .await
        .ok();
    assert_eq!(ada["effectiveStation"]["id"], ADA_STATION);
    assert_eq!(ada["effectiveStation"]["associatedUser"]["id"], ADA);
    assert_eq!(ada["effectiveStation"]["type"], "inin_webrtc_softphone");
    let otto = t
        .get(&t.edge, &format!("/api/v2/users/{OTTO}/station"))
        .await
        .ok();
    assert!(otto.get("effectiveStation").is_none(), "{otto}");
    let dora = t
        .get(&t.edge, &format!("/api/v2/users/{DORA}/station"))
        .await
        .ok();
    assert!(dora["effectiveStation"]["id"].is_string());
    let denied = assert_error(
        &t.get(&t.ro, &format!("/api/v2/users/{ADA}/station")).await,
        403,
        "missing.any.permissions",
    );
    assert!(denied["message"]
        .as_str()
        .unwrap()
        .contains("telephony:otherStationAssociation:view"));
    assert_error(
        &t.get(&t.edge, "/api/v2/users/nobody/station").await,
        404,
        "not.found",
    );

    // One GET with every expand; without the station permission the station is left out.
    let path = format!("/api/v2/users/{DORA}?expand=presence,routingStatus,station");
    let u = t.get(&t.edge, &path).await.ok();
    assert_eq!(u["id"], DORA);
    assert_eq!(u["name"], "Dora Donotdisturb");
    assert_eq!(u["presence"]["presenceDefinition"]["id"], DND);
    assert_eq!(u["routingStatus"]["status"], "OFF_QUEUE");
    assert!(u["station"]["effectiveStation"].is_object());
    let ro = t.get(&t.ro, &path).await.ok();
    assert!(ro.get("station").is_none() && ro["presence"].is_object());
    let plain = t.get(&t.edge, &format!("/api/v2/users/{ADA}")).await.ok();
    assert!(plain.get("presence").is_none() && plain["email"] == "ada@sim.example");
    assert_error(
        &t.get(&t.edge, "/api/v2/users/nobody").await,
        404,
        "not.found",
    );

    // The definitions list names the custom presence (how a client finds its id).
    let defs = t.get(&t.edge, "/api/v2/presence/definitions").await.ok();
    let dnd = defs["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == DND)
        .unwrap();
    assert_eq!(
        (
            dnd["languageLabels"]["en_US"].as_str(),
            dnd["systemPresence"].as_str(),
            dnd["type"].as_str()
        ),
        (Some("Do Not Disturb"), Some("Busy"), Some("User"))
    );
    assert_eq!(defs["total"], 11);
    assert_error(
        &t.get(&t.ro, "/api/v2/presence/definitions").await,
        403,
        "missing.permissions",
    );
    assert_eq!(
        t.get(&t.edge, &format!("/api/v2/presence/definitions/{OFFLINE}"))
            .await
            .ok()["systemPresence"],
        "Offline"
    );
}

#[tokio::test]
async fn presence_patch_switches_an_agent_and_reset_restores_it() {
    let t = sim().await;
    let before = t.presence(ADA).await;
    let p = t.set_presence(ADA, DND).await;
    assert_eq!(p["presenceDefinition"]["id"], DND);
    assert_eq!(p["presenceDefinition"]["systemPresence"], "Busy");
    assert_ne!(p["modifiedDate"], before["modifiedDate"]);
    assert_eq!(t.presence(ADA).await["presenceDefinition"]["id"], DND);
    assert_eq!(t.routing_status(ADA).await, "OFF_QUEUE");

    // On do-not-disturb her working station rejects a call made on her behalf.
    let id = t.dial(ADA, "+13175550100", None).await;
    let c = t.ended_call(&id).await;
    let parts = c["participants"].as_array().unwrap();
    assert_eq!(parts.len(), 1, "the far end is never dialled: {c}");
    assert_eq!(parts[0]["disconnectType"], "endpoint.donotdisturb");

    // A message alone keeps the definition.
    let m = t
        .patch(
            &t.edge,
            &format!("/api/v2/users/{ADA}/presences/purecloud"),
            json!({"message": "back at 3"}),
        )
        .await
        .ok();
    assert_eq!(
        (
            m["message"].as_str(),
            m["presenceDefinition"]["id"].as_str()
        ),
        (Some("back at 3"), Some(DND))
    );
    t.set_presence(ADA, AVAILABLE).await;
    assert_eq!(t.routing_status(ADA).await, "IDLE");

    for (body, field) in [
        (
            json!({"presenceDefinition": {"id": "nope"}}),
            "presenceDefinition.id",
        ),
        (
            json!({"presenceDefinition": {"systemPresence": "Available"}}),
            "presenceDefinition.id",
        ),
        (json!({}), "presenceDefinition"),
        (json!({"message": 7}), "message"),
    ] {
        let r = t
            .patch(
                &t.edge,
                &format!("/api/v2/users/{ADA}/presences/purecloud"),
                body.clone(),
            )
            .await;
        assert_field_error(&r, "bad.request", field);
    }
    assert_error(
        &t.patch(
            &t.edge,
            "/api/v2/users/nobody/presences/purecloud",
            json!({"message": ""}),
        )
        .await,
        404,
        "not.found",
    );

    // Dora's calls end the same way, and reset puts everyone back.
    let id = t.dial(DORA, "+13175550100", None).await;
    assert_eq!(
        t.ended_call(&id).await["participants"][0]["disconnectType"],
        "endpoint.donotdisturb"
    );
    t.set_presence(OTTO, AVAILABLE).await;
    assert_eq!(
        t.routing_status(OTTO).await,
        "OFF_QUEUE",
        "no station, never on queue"
    );
    t.send(t.http.post(t.url("/__sim/reset"))).await;
    assert_eq!(t.presence(OTTO).await["presenceDefinition"]["id"], OFFLINE);
    t.set_presence(DORA, AVAILABLE).await;
    let id = t.dial(DORA, "+13175550100", None).await;
    let c = t.ended_call(&id).await;
    assert_eq!(
        c["participants"][1]["disconnectType"], "endpoint",
        "available again, Dora's station answers"
    );
}

#[tokio::test]
async fn queues_and_wrapup_codes_are_paged_listings() {
    let t = sim().await;
    let all = t.get(&t.edge, "/api/v2/routing/queues").await.ok();
    let names: Vec<&str> = all["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sales", "Support"]);
    assert_eq!(
        (
            all["pageSize"].as_u64(),
            all["pageNumber"].as_u64(),
            all["total"].as_u64(),
            all["pageCount"].as_u64()
        ),
        (Some(25), Some(1), Some(2), Some(1))
    );
    for k in ["firstUri", "selfUri", "lastUri"] {
        assert!(
            all[k]
                .as_str()
                .unwrap()
                .starts_with("/api/v2/routing/queues?"),
            "{k}"
        );
    }
    let p1 = t
        .get(&t.edge, "/api/v2/routing/queues?pageSize=1")
        .await
        .ok();
    assert_eq!(
        (p1["pageCount"].as_u64(), p1["entities"][0]["name"].as_str()),
        (Some(2), Some("Sales"))
    );
    let next = p1["nextUri"].as_str().unwrap();
    assert_eq!(next, "/api/v2/routing/queues?pageSize=1&pageNumber=2");
    let p2 = t.get(&t.edge, next).await.ok();
    assert_eq!(p2["entities"][0]["id"], SUPPORT);
    assert!(p2.get("nextUri").is_none() && p2["previousUri"].is_string());
    let support = &p2["entities"][0];
    assert_eq!(support["memberCount"], 2);
    assert_eq!(support["acwSettings"]["wrapupPrompt"], "MANDATORY");
    let filtered = t
        .get(&t.edge, "/api/v2/routing/queues?name=sup*")
        .await
        .ok();
    assert_eq!(
        (
            filtered["total"].as_u64(),
            filtered["entities"][0]["id"].as_str()
        ),
        (Some(1), Some(SUPPORT))
    );
    let desc = t
        .get(&t.edge, "/api/v2/routing/queues?sortOrder=desc")
        .await
        .ok();
    assert_eq!(desc["entities"][0]["name"], "Support");
    assert_eq!(
        t.get(&t.edge, &format!("/api/v2/routing/queues/{SALES}"))
            .await
            .ok()["name"],
        "Sales"
    );
    assert_error(
        &t.get(&t.edge, "/api/v2/routing/queues/nope").await,
        404,
        "not.found",
    );
    for bad in ["pageSize=0", "pageSize=501", "pageNumber=0", "pageSize=x"] {
        let field = bad.split('=').next().unwrap();
        assert_field_error(
            &t.get(&t.edge, &format!("/api/v2/routing/queues?{bad}"))
                .await,
            "bad.request",
            field,
        );
    }

    let codes = t
        .get(&t.edge, "/api/v2/routing/wrapupcodes?pageSize=2")
        .await
        .ok();
    let names: Vec<&str> = codes["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Call back later", "Resolved"]);
    assert_eq!(
        (codes["total"].as_u64(), codes["pageCount"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(
        codes["entities"][0]["selfUri"],
        format!("/api/v2/routing/wrapupcodes/{CALL_BACK_LATER}")
    );
    let p2 = t
        .get(&t.edge, codes["nextUri"].as_str().unwrap())
        .await
        .ok();
    assert_eq!(p2["entities"][0]["id"], SALE_MADE);
    let by_name = t
        .get(&t.edge, "/api/v2/routing/wrapupcodes?name=Resolved")
        .await
        .ok();
    assert_eq!(by_name["entities"][0]["id"], RESOLVED);
    assert_field_error(
        &t.get(&t.edge, "/api/v2/routing/wrapupcodes?sortBy=colour")
            .await,
        "bad.request",
        "sortBy",
    );
    let queue_codes = t
        .get(
            &t.edge,
            &format!("/api/v2/routing/queues/{SUPPORT}/wrapupcodes"),
        )
        .await
        .ok();
    let ids: Vec<&str> = queue_codes["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [RESOLVED, CALL_BACK_LATER]);
    assert_eq!(queue_codes["entities"][0]["name"], "Resolved");
    assert_error(
        &t.get(&t.edge, "/api/v2/routing/queues/nope/wrapupcodes")
            .await,
        404,
        "not.found",
    );

    // Permissions: ANY routing:queue:view for queues, ALL for the rest.
    for (path, code, perm) in [
        (
            "/api/v2/routing/queues".to_string(),
            "missing.any.permissions",
            "routing:queue:view",
        ),
        (
            format!("/api/v2/routing/queues/{SUPPORT}"),
            "missing.any.permissions",
            "routing:queue:view",
        ),
        (
            format!("/api/v2/routing/queues/{SUPPORT}/wrapupcodes"),
            "missing.permissions",
            "routing:queue:view",
        ),
        (
            "/api/v2/routing/wrapupcodes".to_string(),
            "missing.permissions",
            "routing:wrapupCode:view",
        ),
    ] {
        let b = assert_error(&t.get(&t.ro, &path).await, 403, code);
        assert!(b["message"].as_str().unwrap().contains(perm), "{path}");
    }
}

#[tokio::test]
async fn wrapup_on_a_queue_call() {
    let t = sim().await;
    let id = t.dial(ADA, "+13175550100", Some(SUPPORT)).await;
    let live = t.call(&id).await;
    let agent = participant(&live, "agent");
    let pid = agent["id"].as_str().unwrap().to_string();
    assert_eq!(agent["queue"]["id"], SUPPORT);
    assert_eq!(
        (
            agent["wrapupRequired"].as_bool(),
            agent["wrapupPrompt"].as_str()
        ),
        (Some(true), Some("mandatory"))
    );
    assert!(agent.get("startAcwTime").is_none() && agent.get("wrapup").is_none());
    let base = format!("/api/v2/conversations/calls/{id}/participants/{pid}");
    let codes = t.get(&t.edge, &format!("{base}/wrapupcodes")).await.ok();
    let names: Vec<&str> = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Resolved", "Call back later"]);
    assert_eq!(
        t.get(&t.edge, &format!("{base}/wrapup")).await.ok(),
        json!({})
    );

    // After the call: ACW has started; the wrap-up is applied, read back and shown.
    let ended = t.ended_call(&id).await;
    let agent = participant(&ended, "agent");
    assert_eq!(agent["startAcwTime"], agent["endTime"]);
    let customer = participant(&ended, "customer");
    let cust_pid = customer["id"].as_str().unwrap().to_string();
    assert!(customer.get("wrapupPrompt").is_none());
    assert_eq!(
        t.get(
            &t.edge,
            &format!("/api/v2/conversations/calls/{id}/participants/{cust_pid}/wrapupcodes")
        )
        .await
        .ok(),
        json!([])
    );
    let r = t
        .patch(
            &t.edge,
            &base,
            json!({"wrapup": {"code": RESOLVED, "notes": "Sorted on the first call", "durationSeconds": 10, "tags": ["vip"]}}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (202, ""));
    let assigned = t.get(&t.edge, &format!("{base}/wrapup")).await.ok();
    assert_eq!(
        assigned,
        json!({"code": RESOLVED, "notes": "Sorted on the first call", "durationSeconds": 10, "tags": ["vip"]})
    );
    let shown = t.call(&id).await;
    let agent = participant(&shown, "agent");
    assert_eq!(
        (
            agent["wrapup"]["code"].as_str(),
            agent["wrapup"]["name"].as_str()
        ),
        (Some(RESOLVED), Some("Resolved"))
    );
    assert!(agent["endAcwTime"].is_string());
    let conv = t
        .get(&t.edge, &format!("/api/v2/conversations/{id}"))
        .await
        .ok();
    assert_eq!(participant(&conv, "agent")["wrapup"]["code"], RESOLVED);

    // The communication form replaces it (Genesys overwrites); so does the on-behalf PATCH.
    let comm = format!("{base}/communications/{pid}-call/wrapup");
    let r = t
        .post(&t.edge, &comm, json!({"code": CALL_BACK_LATER}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(t.get(&t.edge, &comm).await.ok()["code"], CALL_BACK_LATER);
    assert_eq!(
        t.get(&t.edge, &format!("{base}/wrapup")).await.ok(),
        json!({"code": CALL_BACK_LATER})
    );
    let r = t
        .patch(
            &t.edge,
            &format!("{base}/user/{ADA}"),
            json!({"wrapup": {"code": RESOLVED, "notes": "again"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);

    // Refusals: unknown code (named), the customer leg, unknown ids, bad bodies, permissions.
    let b = assert_field_error(
        &t.patch(&t.edge, &base, json!({"wrapup": {"code": SALE_MADE}}))
            .await,
        "bad.request",
        "wrapup.code",
    );
    assert!(b["message"].as_str().unwrap().contains(SALE_MADE));
    assert_error(
        &t.patch(
            &t.edge,
            &format!("/api/v2/conversations/calls/{id}/participants/{cust_pid}"),
            json!({"wrapup": {"code": RESOLVED}}),
        )
        .await,
        400,
        "bad.request",
    );
    assert_error(
        &t.patch(
            &t.edge,
            &format!("/api/v2/conversations/calls/{id}/participants/nope"),
            json!({"wrapup": {"code": RESOLVED}}),
        )
        .await,
        404,
        "not.found",
    );
    assert_error(
        &t.post(
            &t.edge,
            &format!("{base}/communications/other/wrapup"),
            json!({"code": RESOLVED}),
        )
        .await,
        404,
        "not.found",
    );
    assert_field_error(
        &t.patch(&t.edge, &base, json!({"wrapup": {}})).await,
        "bad.request",
        "wrapup.code",
    );
    assert_field_error(
        &t.patch(
            &t.edge,
            &base,
            json!({"wrapup": {"code": RESOLVED, "notes": 3}}),
        )
        .await,
        "bad.request",
        "wrapup.notes",
    );
    assert_field_error(
        &t.patch(&t.edge, &base, json!({"state": "held"})).await,
        "bad.request",
        "state",
    );
    assert_error(
        &t.patch(&t.ro, &base, json!({"wrapup": {"code": RESOLVED}}))
            .await,
        403,
        "missing.any.permissions",
    );
    assert_error(
        &t.post(&t.ro, &comm, json!({"code": RESOLVED})).await,
        403,
        "missing.any.permissions",
    );
    assert_eq!(
        t.get(&t.edge, &format!("{base}/wrapup")).await.ok()["notes"],
        "again"
    );

    // The request log counts applications (status 202) and shows each code and notes.
    let log = t.log().await;
    let applied: Vec<&Value> = log
        .iter()
        .filter(|e| e["wrapup"].is_object() && e["status"] == 202)
        .collect();
    assert_eq!(applied.len(), 3);
    assert_eq!(
        applied[0]["wrapup"],
        json!({"code": RESOLVED, "notes": "Sorted on the first call"})
    );
    assert_eq!(applied[1]["wrapup"], json!({"code": CALL_BACK_LATER}));
    assert!(log
        .iter()
        .any(|e| e["wrapup"]["code"] == SALE_MADE && e["status"] == 400));
}

#[tokio::test]
async fn wrapup_on_a_non_queue_call_is_refused() {
    let t = sim().await;
    let id = t.dial(ADA, "+13175550104", None).await;
    let c = t.call(&id).await;
    let user = participant(&c, "user");
    let pid = user["id"].as_str().unwrap();
    assert_eq!(user["wrapupRequired"], false);
    for f in ["wrapupPrompt", "startAcwTime", "wrapup", "queue"] {
        assert!(user.get(f).is_none(), "{f}: {user}");
    }
    let base = format!("/api/v2/conversations/calls/{id}/participants/{pid}");
    assert_eq!(
        t.get(&t.edge, &format!("{base}/wrapupcodes")).await.ok(),
        json!([])
    );
    let b = assert_error(
        &t.patch(&t.edge, &base, json!({"wrapup": {"code": RESOLVED}}))
            .await,
        400,
        "bad.request",
    );
    assert!(
        b["message"].as_str().unwrap().contains("not an ACD call"),
        "{b}"
    );
    // The same PATCH hangs a leg up.
    let r = t
        .patch(&t.edge, &base, json!({"state": "disconnected"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let c = t.ended_call(&id).await;
    assert_eq!(participant(&c, "user")["disconnectType"], "client");
    assert!(participant(&c, "user").get("startAcwTime").is_none());
}

#[tokio::test]
async fn scheduled_callback_is_dialled_at_the_scaled_time_and_completes() {
    let t = sim().await;
    let create = json!({
        "callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callbackUserName": "Grace",
        "callbackScheduledTime": in_secs(60), "data": {"orderId": "A-17"}
    });
    let r = t
        .post(&t.edge, "/api/v2/conversations/callbacks", create)
        .await
        .ok();
    let id = r["conversation"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        r["conversation"]["selfUri"],
        format!("/api/v2/conversations/callbacks/{id}")
    );
    assert_eq!(r["callbackIdentifiers"][0]["type"], "ACD");

    let cb = t.callback(&id).await;
    let customer = participant(&cb, "customer");
    assert_eq!(customer["state"], "scheduled");
    assert_eq!(customer["callbackNumbers"], json!(["+13175550100"]));
    assert_eq!(customer["callbackUserName"], "Grace");
    assert_eq!(customer["attributes"], json!({"orderId": "A-17"}));
    assert_eq!(customer["queue"]["id"], SUPPORT);
    assert!(customer["callbackScheduledTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(cb["participants"].as_array().unwrap().len(), 1);
    assert!(t.dialled(&id).await.is_empty());

    // +60 s at time scale 0.02 is 1.2 s after the create.
    let dial = t.wait_dialled(&id, 6.0).await;
    let log = t.log().await;
    let created = log
        .iter()
        .find(|e| e["method"] == "POST" && e["path"] == "/api/v2/conversations/callbacks")
        .unwrap();
    assert_eq!(created["phoneNumber"], "+13175550100");
    assert_eq!(created["conversationId"], id);
    let waited = dial["elapsedMs"].as_u64().unwrap() - created["elapsedMs"].as_u64().unwrap();
    assert!((1150..4000).contains(&waited), "dialled after {waited} ms");
    assert_eq!(
        (dial["userId"].as_str(), dial["phoneNumber"].as_str()),
        (Some(ADA), Some("+13175550100"))
    );

    // Offered to Ada, who is interacting until the far end hangs up.
    let cb = t.callback(&id).await;
    assert_eq!(participant(&cb, "agent")["user"]["id"], ADA);
    assert_eq!(participant(&cb, "acd")["disconnectType"], "transfer");
    let done = t.ended_callback(&id).await;
    let customer = participant(&done, "customer");
    assert_eq!(customer["disconnectType"], "endpoint");
    assert!(customer["endTime"].is_string() && customer["connectedTime"].is_string());
    let agent = participant(&done, "agent");
    assert_eq!(
        (
            agent["wrapupRequired"].as_bool(),
            agent["wrapupPrompt"].as_str()
        ),
        (Some(true), Some("mandatory"))
    );
    assert!(agent["startAcwTime"].is_string());
    assert_eq!(t.routing_status(ADA).await, "IDLE");

    // The generic conversation carries both media; the call is readable too.
    let conv = t
        .get(&t.edge, &format!("/api/v2/conversations/{id}"))
        .await
        .ok();
    assert!(conv["endTime"].is_string());
    let c = participant(&conv, "customer");
    assert_eq!(c["callbacks"][0]["state"], "disconnected");
    assert!(
        c["calls"][0]["connectedTime"].is_string(),
        "the customer answered: {c}"
    );
    let call = t.call(&id).await;
    assert_eq!(participant(&call, "agent")["queue"]["id"], SUPPORT);

    // The callback's agent wraps up through the callbacks path.
    let pid = agent["id"].as_str().unwrap();
    let r = t
        .patch(
            &t.edge,
            &format!("/api/v2/conversations/callbacks/{id}/participants/{pid}"),
            json!({"wrapup": {"code": RESOLVED}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        participant(&t.callback(&id).await, "agent")["wrapup"]["code"],
        RESOLVED
    );
}

#[tokio::test]
async fn cancelled_callbacks_are_never_dialled() {
    let t = sim().await;
    let at = in_secs(60); // 1.2 s at this time scale
    let body =
        |n: &str| json!({"callbackNumbers": [n], "queueId": SUPPORT, "callbackScheduledTime": at});
    let (one, _) = t.create_callback(body("+13175550100")).await;
    let (two, two_cb) = t.create_callback(body("+13175550101")).await;
    let (three, three_cb) = t.create_callback(body("+13175550102")).await;

    // One way: PATCH the conversation (typed clients add participants: []).
    let r = t
        .patch(
            &t.edge,
            &format!("/api/v2/conversations/callbacks/{one}"),
            json!({"state": "disconnected", "participants": []}),
        )
        .await
        .ok();
    assert!(r["endTime"].is_string());
    assert_eq!(
        participant(&r, "customer")["callbacks"][0]["state"],
        "disconnected"
    );
    assert_field_error(
        &t.patch(
            &t.edge,
            &format!("/api/v2/conversations/callbacks/{one}"),
            json!({"state": "connected"}),
        )
        .await,
        "bad.request",
        "state",
    );
    assert_error(
        &t.patch(
            &t.ro,
            &format!("/api/v2/conversations/callbacks/{two}"),
            json!({"state": "disconnected"}),
        )
        .await,
        403,
        "missing.any.permissions",
    );

    // The other: bulk, all or nothing, no body.
    let bulk = "/api/v2/conversations/callbacks/bulk/disconnect";
    let wrong = json!({"callbackDisconnectIdentifiers": [
        {"conversationId": two, "callbackId": two_cb}, {"conversationId": three, "callbackId": "nope"}]});
    assert_field_error(
        &t.post(&t.edge, bulk, wrong).await,
        "bad.request",
        "callbackDisconnectIdentifiers[1]",
    );
    assert_eq!(
        participant(&t.callback(&two).await, "customer")["state"],
        "scheduled"
    );
    assert_field_error(
        &t.post(&t.edge, bulk, json!({"callbackDisconnectIdentifiers": []}))
            .await,
        "bad.request",
        "callbackDisconnectIdentifiers",
    );
    let both = json!({"callbackDisconnectIdentifiers": [
        {"conversationId": two, "callbackId": two_cb}, {"conversationId": three, "callbackId": three_cb}]});
    assert_error(
        &t.post(&t.ro, bulk, both.clone()).await,
        403,
        "missing.any.permissions",
    );
    let r = t.post(&t.edge, bulk, both).await;
    assert_eq!((r.status, r.text.as_str()), (202, ""));

    // A callback due at the same moment proves the time passed: it is dialled, they are not.
    let (control, _) = t.create_callback(body("+13175550100")).await;
    t.wait_dialled(&control, 6.0).await;
    for id in [&one, &two, &three] {
        assert!(
            t.dialled(id).await.is_empty(),
            "{id} was dialled after being cancelled"
        );
        let cb = t.callback(id).await;
        let customer = participant(&cb, "customer");
        assert_eq!(
            (
                customer["state"].as_str(),
                customer["disconnectType"].as_str()
            ),
            (Some("disconnected"), Some("client"))
        );
        assert!(cb["participants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["purpose"] != "agent"));
    }
}

#[tokio::test]
async fn reschedule_moves_the_dial_time() {
    let t = sim().await;
    // Earlier: from +600 s (12 s here) to +5 s (0.1 s).
    let (early, early_cb) = t
        .create_callback(json!({"callbackNumbers": ["+13175550101"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(600)}))
        .await;
    let r = t
        .patch(
            &t.edge,
            "/api/v2/conversations/callbacks",
            json!({"conversationId": early, "agentId": ADA, "callbackScheduledTime": in_secs(5)}),
        )
        .await
        .ok();
    assert_eq!(r["conversation"]["id"], early);
    assert_eq!(r["callbackIdentifiers"][0]["id"], early_cb);
    t.wait_dialled(&early, 3.0).await;
    let done = t.ended_callback(&early).await;
    assert_eq!(participant(&done, "agent")["user"]["id"], ADA);
    let b = assert_field_error(
        &t.patch(
            &t.edge,
            "/api/v2/conversations/callbacks",
            json!({"conversationId": early, "callbackScheduledTime": in_secs(5)}),
        )
        .await,
        "bad.request",
        "conversationId",
    );
    assert!(b["message"]
        .as_str()
        .unwrap()
        .contains("cannot be rescheduled"));

    // Later: from +25 s (0.5 s) to +80 s (1.6 s), in bulk; a control at +40 s goes
    // first. Were the old schedule still live, `late` would be dialled before it.
    let (late, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550101"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(25)}))
        .await;
    let r = t
        .post(
            &t.edge,
            "/api/v2/conversations/callbacks/bulk/update",
            json!({"patchCallbackRequests": [
                {"conversationId": late, "callbackScheduledTime": in_secs(80)},
                {"conversationId": "nope", "callbackScheduledTime": in_secs(80)}]}),
        )
        .await
        .ok();
    assert_eq!(
        (r["errorCount"].as_u64(), r["errorIndexes"].clone()),
        (Some(1), json!([1]))
    );
    assert_eq!(r["results"][0]["conversation"]["id"], late);
    let (control, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550101"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(40)}))
        .await;
    t.wait_dialled(&control, 4.0).await;
    assert!(
        t.dialled(&late).await.is_empty(),
        "moved later, not yet dialled"
    );
    t.wait_dialled(&late, 4.0).await;
    let log = t.log().await;
    let order: Vec<&str> = log
        .iter()
        .filter(|e| e["event"] == "callback.dialled")
        .map(|e| e["conversationId"].as_str().unwrap())
        .collect();
    assert_eq!(order, [early.as_str(), control.as_str(), late.as_str()]);

    for (body, code, field) in [
        (
            json!({"callbackScheduledTime": in_secs(5)}),
            "bad.request",
            "conversationId",
        ),
        (
            json!({"conversationId": late, "callbackScheduledTime": "soon"}),
            "invalid.date",
            "callbackScheduledTime",
        ),
        (
            json!({"conversationId": late, "agentId": "nobody"}),
            "bad.request",
            "agentId",
        ),
    ] {
        assert_field_error(
            &t.patch(&t.edge, "/api/v2/conversations/callbacks", body)
                .await,
            code,
            field,
        );
    }
    assert_error(
        &t.patch(
            &t.edge,
            "/api/v2/conversations/callbacks",
            json!({"conversationId": "nope"}),
        )
        .await,
        404,
        "not.found",
    );
    assert_error(
        &t.patch(
            &t.ro,
            "/api/v2/conversations/callbacks",
            json!({"conversationId": late}),
        )
        .await,
        403,
        "missing.any.permissions",
    );
}

#[tokio::test]
async fn immediate_callback_to_the_busy_number_ends_busy() {
    let t = sim().await;
    let (id, _) = t
        .create_callback(json!({"callbackNumbers": ["3175550101"], "countryCode": "US", "routingData": {"queueId": SUPPORT}}))
        .await;
    t.wait_dialled(&id, 2.0).await;
    let done = t.ended_callback(&id).await;
    let customer = participant(&done, "customer");
    assert_eq!(customer["callbackNumbers"], json!(["+13175550101"]));
    assert_eq!(customer["disconnectType"], "endpoint");
    assert!(customer["endTime"].is_string());
    let conv = t
        .get(&t.edge, &format!("/api/v2/conversations/{id}"))
        .await
        .ok();
    let call = &participant(&conv, "customer")["calls"][0];
    assert_eq!(call["disconnectReasons"][0]["code"], 486, "{conv}");
    assert!(call.get("connectedTime").is_none());
    let log = t.log().await;
    let created = log
        .iter()
        .find(|e| e["path"] == "/api/v2/conversations/callbacks")
        .unwrap();
    assert_eq!(created["callbackNumbers"], json!(["+13175550101"]));

    // A time in the past is "now" as well.
    let (past, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(-3600)}))
        .await;
    t.wait_dialled(&past, 2.0).await;
}

#[tokio::test]
async fn callback_create_is_validated_and_permissioned() {
    let t = sim().await;
    let path = "/api/v2/conversations/callbacks";
    for (body, code, field) in [
        (
            json!({"queueId": SUPPORT}),
            "bad.request",
            "callbackNumbers",
        ),
        (
            json!({"queueId": SUPPORT, "callbackNumbers": []}),
            "bad.request",
            "callbackNumbers",
        ),
        (
            json!({"queueId": SUPPORT, "callbackNumbers": ["12345"]}),
            "bad.request",
            "callbackNumbers",
        ),
        (
            json!({"queueId": SUPPORT, "callbackNumbers": [13175550100u64]}),
            "bad.request",
            "callbackNumbers",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"]}),
            "bad.request",
            "queueId",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"], "queueId": "nope"}),
            "bad.request",
            "queueId",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"], "routingData": {"queueId": "nope"}}),
            "bad.request",
            "routingData.queueId",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callbackScheduledTime": "tomorrow"}),
            "invalid.date",
            "callbackScheduledTime",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "data": {"n": 1}}),
            "bad.request",
            "data",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callerId": "x"}),
            "bad.request",
            "callerId",
        ),
        (
            json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "routingData": {"preferredAgentIds": ["nobody"]}}),
            "bad.request",
            "routingData.preferredAgentIds",
        ),
    ] {
        let r = t.post(&t.edge, path, body.clone()).await;
        assert_field_error(&r, code, field);
    }
    assert_error(
        &t.send(t.http.post(t.url(path)).bearer_auth(&t.edge).body("{oops"))
            .await,
        400,
        "bad.request",
    );
    let denied = assert_error(
        &t.post(
            &t.ro,
            path,
            json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT}),
        )
        .await,
        403,
        "missing.permissions",
    );
    assert!(denied["message"]
        .as_str()
        .unwrap()
        .contains("conversation:callback:create"));
    assert_error(&t.get(&t.edge, path).await, 400, "bad.request");
    assert_error(
        &t.get(&t.edge, &format!("{path}/nope")).await,
        404,
        "not.found",
    );
    // Another client cannot see a callback; the callback's agent can.
    let (id, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550104"], "queueId": SUPPORT}))
        .await;
    assert_error(
        &t.get(&t.ro, &format!("{path}/{id}")).await,
        404,
        "not.found",
    );
    t.wait_dialled(&id, 2.0).await;
    assert_eq!(t.routing_status(ADA).await, "INTERACTING");
    let r = t
        .patch(
            &t.edge,
            &format!("{path}/{id}"),
            json!({"state": "disconnected"}),
        )
        .await
        .ok();
    assert_eq!(
        participant(&r, "agent")["calls"][0]["disconnectType"],
        "client"
    );
    assert_eq!(t.routing_status(ADA).await, "IDLE");
}

#[tokio::test]
async fn callbacks_wait_in_queue_until_an_agent_is_idle() {
    let t = sim().await;
    // Sales has only Dora, on do-not-disturb: the callback waits in queue.
    let (id, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550100"], "queueId": SALES}))
        .await;
    let waiting = until("the callback to be waiting", 2.0, || async {
        let q = t
            .send(t.http.get(t.url(&format!("/__sim/queues/{SALES}"))))
            .await
            .ok();
        (q["waiting"] == 1).then_some(q)
    })
    .await;
    assert_eq!(waiting["name"], "Sales");
    let cb = t.callback(&id).await;
    assert_eq!(participant(&cb, "acd")["state"], "connected");
    assert_eq!(participant(&cb, "customer")["state"], "connected");
    let obs = t
        .post(
            &t.edge,
            "/api/v2/analytics/queues/observations/query",
            json!({"filter": {"type": "or", "predicates": [{"type": "dimension", "dimension": "queueId", "operator": "matches", "value": SALES}]},
                   "metrics": ["oWaiting", "oOnQueueUsers", "oOffQueueUsers"]}),
        )
        .await
        .ok();
    assert_eq!(
        obs["results"][0]["data"],
        json!([{"metric": "oWaiting", "stats": {"count": 1}}, {"metric": "oOffQueueUsers", "stats": {"count": 1}}])
    );
    assert!(t.dialled(&id).await.is_empty());
    // Dora becomes available: the waiting callback goes to her at once.
    t.set_presence(DORA, AVAILABLE).await;
    let dial = t.wait_dialled(&id, 2.0).await;
    assert_eq!(dial["userId"], DORA);
    let done = t.ended_callback(&id).await;
    assert_eq!(participant(&done, "agent")["wrapupPrompt"], "optional");
}

#[tokio::test]
async fn queue_observations_count_members_and_conversations() {
    let t = sim().await;
    let query = |metrics: Value| json!({"filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": SUPPORT}]}, "metrics": metrics});
    let path = "/api/v2/analytics/queues/observations/query";
    let all = json!([
        "oOnQueueUsers",
        "oOffQueueUsers",
        "oMemberUsers",
        "oInteracting",
        "oUserPresences"
    ]);
    let r = t.post(&t.edge, path, query(all.clone())).await.ok();
    assert_eq!(r["results"][0]["group"]["queueId"], SUPPORT);
    assert_eq!(
        r["results"][0]["data"],
        json!([
            {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 1}},
            {"metric": "oOffQueueUsers", "stats": {"count": 1}},
            {"metric": "oMemberUsers", "stats": {"count": 2}},
            {"metric": "oInteracting", "stats": {"count": 0}},
            {"metric": "oUserPresences", "qualifier": AVAILABLE, "stats": {"count": 1}},
            {"metric": "oUserPresences", "qualifier": OFFLINE, "stats": {"count": 1}},
        ])
    );
    // An ACD call makes Ada INTERACTING and counts as interacting in her queue.
    let id = t.dial(ADA, "+13175550104", Some(SUPPORT)).await;
    let r = t
        .post(
            &t.edge,
            path,
            query(json!(["oOnQueueUsers", "oInteracting"])),
        )
        .await
        .ok();
    assert_eq!(
        r["results"][0]["data"],
        json!([{"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 1}}, {"metric": "oInteracting", "stats": {"count": 1}}])
    );
    assert_eq!(t.routing_status(ADA).await, "INTERACTING");
    t.patch(
        &t.edge,
        &format!("/api/v2/conversations/calls/{id}"),
        json!({"state": "disconnected"}),
    )
    .await
    .ok();
    assert_eq!(t.routing_status(ADA).await, "IDLE");

    assert_field_error(
        &t.post(&t.edge, path, query(json!(["oTotalMagic"]))).await,
        "bad.request",
        "metrics",
    );
    assert_field_error(
        &t.post(&t.edge, path, query(json!([]))).await,
        "bad.request",
        "metrics",
    );
    assert_field_error(
        &t.post(
            &t.edge,
            path,
            json!({"filter": {"type": "or", "predicates": []}, "metrics": ["oWaiting"]}),
        )
        .await,
        "bad.request",
        "filter",
    );
    assert_error(
        &t.post(&t.ro, path, query(all)).await,
        403,
        "missing.any.permissions",
    );
}

#[tokio::test]
async fn estimated_wait_time_passthrough_and_unknown() {
    let t = sim().await;
    let media =
        |q: &str, m: &str| format!("/api/v2/routing/queues/{q}/mediatypes/{m}/estimatedwaittime");
    let r = t.get(&t.edge, &media(SUPPORT, "callback")).await.ok();
    assert_eq!(
        r,
        json!({"results": [{"intent": "CALLBACK", "formula": "BEST", "estimatedWaitTimeSeconds": 90}]})
    );
    let r = t
        .get(
            &t.edge,
            &format!("/api/v2/routing/queues/{SUPPORT}/estimatedwaittime"),
        )
        .await
        .ok();
    assert_eq!(
        (
            r["results"][0]["intent"].as_str(),
            r["results"][0]["estimatedWaitTimeSeconds"].as_u64()
        ),
        (Some("ALL"), Some(90))
    );

    let set = t
        .hook(
            &format!("/__sim/queues/{SUPPORT}"),
            json!({"estimatedWaitSeconds": 5}),
        )
        .await
        .ok();
    assert_eq!(set["estimatedWaitSeconds"], 5);
    assert_eq!(
        t.get(&t.edge, &media(SUPPORT, "call")).await.ok()["results"][0]
            ["estimatedWaitTimeSeconds"],
        5
    );
    assert_eq!(
        t.get(&t.edge, &media(SALES, "call")).await.ok()["results"][0]["estimatedWaitTimeSeconds"],
        90,
        "per queue"
    );
    t.hook(
        &format!("/__sim/queues/{SUPPORT}"),
        json!({"estimatedWaitSeconds": null}),
    )
    .await
    .ok();
    let unknown = t.get(&t.edge, &media(SUPPORT, "call")).await.ok();
    assert_eq!(
        unknown,
        json!({"results": [{"intent": "CALL", "formula": "BEST"}]})
    );
    let hook = t
        .send(t.http.get(t.url(&format!("/__sim/queues/{SUPPORT}"))))
        .await
        .ok();
    assert!(hook["estimatedWaitSeconds"].is_null());

    for bad in [
        json!({"estimatedWaitSeconds": -1}),
        json!({"estimatedWaitSeconds": "soon"}),
        json!({}),
        json!([1]),
    ] {
        assert_eq!(
            t.hook(&format!("/__sim/queues/{SUPPORT}"), bad)
                .await
                .status,
            400
        );
    }
    assert_eq!(
        t.hook("/__sim/queues/nope", json!({"estimatedWaitSeconds": 1}))
            .await
            .status,
        404
    );
    assert_field_error(
        &t.get(&t.edge, &media(SUPPORT, "pigeon")).await,
        "bad.request",
        "mediaType",
    );
    assert_error(
        &t.get(&t.edge, &media("nope", "call")).await,
        404,
        "not.found",
    );
    let denied = assert_error(
        &t.get(&t.ro, &media(SUPPORT, "call")).await,
        403,
        "missing.permissions",
    );
    assert!(denied["message"]
        .as_str()
        .unwrap()
        .contains("routing:queue:view"));
    assert_error(
        &t.get(
            &t.ro,
            &format!("/api/v2/routing/queues/{SUPPORT}/estimatedwaittime"),
        )
        .await,
        403,
        "missing.permissions",
    );

    // Reset brings back the configured default; --estimated-wait none means unknown everywhere.
    t.send(t.http.post(t.url("/__sim/reset"))).await;
    assert_eq!(
        t.get(&t.edge, &media(SUPPORT, "call")).await.ok()["results"][0]
            ["estimatedWaitTimeSeconds"],
        90
    );
    let none = sim_with(|c| c.estimated_wait = None).await;
    let r = none.get(&none.edge, &media(SALES, "all")).await.ok();
    assert_eq!(
        r,
        json!({"results": [{"intent": "ALL", "formula": "BEST"}]})
    );
}

#[tokio::test]
async fn reset_forgets_callbacks_before_they_are_dialled() {
    let t = sim().await;
    let (old, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(20)}))
        .await;
    t.set_presence(ADA, OFFLINE).await;
    t.send(t.http.post(t.url("/__sim/reset"))).await;
    assert_eq!(t.presence(ADA).await["presenceDefinition"]["id"], AVAILABLE);
    assert_error(
        &t.get(&t.edge, &format!("/api/v2/conversations/callbacks/{old}"))
            .await,
        404,
        "not.found",
    );
    // Due after the old one would have been: once it is dialled, the old one had its chance.
    let (control, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(30)}))
        .await;
    t.wait_dialled(&control, 4.0).await;
    let dials: Vec<Value> = t
        .log()
        .await
        .into_iter()
        .filter(|e| e["event"] == "callback.dialled")
        .collect();
    assert_eq!(dials.len(), 1, "{dials:?}");
    assert_eq!(dials[0]["conversationId"], control);
}

#[tokio::test]
async fn a_user_token_lists_its_own_active_callbacks() {
    let t = sim().await;
    let (id, _) = t
        .create_callback(json!({"callbackNumbers": ["+13175550104"], "queueId": SUPPORT}))
        .await;
    t.wait_dialled(&id, 2.0).await;
    let ada = sign_in(&t, ADA).await;
    let mine = t.get(&ada, "/api/v2/conversations/callbacks").await.ok();
    assert_eq!(
        (mine["total"].as_u64(), mine["entities"][0]["id"].as_str()),
        (Some(1), Some(id.as_str()))
    );
    assert_eq!(
        t.get(&ada, &format!("/api/v2/conversations/callbacks/{id}"))
            .await
            .status,
        200
    );
    let otto = sign_in(&t, OTTO).await;
    assert_eq!(
        t.get(&otto, "/api/v2/conversations/callbacks").await.ok()["total"],
        0
    );
    // A user reads their own station without the permission a client needs.
    assert_eq!(
        t.get(&otto, &format!("/api/v2/users/{OTTO}/station"))
            .await
            .ok(),
        json!({})
    );
}

/// PKCE sign-in as `user` through the simulated login page.
async fn sign_in(t: &T, user: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let verifier = "correct-horse-battery-staple-0123456789-abcdef";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:9999/cb";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(t.url("/oauth/authorize"))
        .form(&[
            ("client_id", "sim-browser"),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("userId", user),
        ])
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let code = loc
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let tok = t
        .send(http.post(t.url("/oauth/token")).form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", "sim-browser"),
            ("redirect_uri", redirect),
        ]))
        .await;
    tok.ok()["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn fuzzed_requests_never_break_the_new_endpoints() {
    // Every mutated request must reach its handler, not the rate limiter.
    let t = sim_with(|c| c.rate_limit = 100_000).await;
    let id = t.dial(ADA, "+13175550104", Some(SUPPORT)).await;
    let pid = participant(&t.call(&id).await, "agent")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (cb, cb_id) = t
        .create_callback(json!({"callbackNumbers": ["+13175550100"], "queueId": SUPPORT, "callbackScheduledTime": in_secs(600)}))
        .await;
    let part = format!("/api/v2/conversations/calls/{id}/participants/{pid}");
    let seeds: Vec<(reqwest::Method, String, Value)> = vec![
        (
            reqwest::Method::POST,
            "/api/v2/conversations/callbacks".into(),
            json!({
            "callbackNumbers": ["3175550100", "+13175550101"], "countryCode": "US", "callbackUserName": "G",
            "routingData": {"queueId": SUPPORT, "preferredAgentIds": [ADA], "routingFlags": ["AGENT_OWNED_CALLBACK"]},
            "callbackScheduledTime": "2030-01-02T03:04:05.678+01:00", "data": {"k": "v"}, "callerId": "+13175550199"}),
        ),
        (
            reqwest::Method::PATCH,
            "/api/v2/conversations/callbacks".into(),
            json!({
            "conversationId": cb, "agentId": ADA, "queueId": SUPPORT, "callbackScheduledTime": in_secs(600),
            "callbackNumbers": ["3175550100"], "countryCode": "US"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v2/conversations/callbacks/bulk/update".into(),
            json!({
            "patchCallbackRequests": [{"conversationId": cb, "callbackScheduledTime": in_secs(600)}]}),
        ),
        (
            reqwest::Method::POST,
            "/api/v2/conversations/callbacks/bulk/disconnect".into(),
            json!({
            "callbackDisconnectIdentifiers": [{"conversationId": cb, "callbackId": format!("{cb_id}x")}]}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v2/conversations/callbacks/{cb}"),
            json!({"state": "connected", "participants": []}),
        ),
        (
            reqwest::Method::PATCH,
            part.clone(),
            json!({"wrapup": {"code": RESOLVED, "notes": "n", "tags": ["a"], "durationSeconds": 3, "endTime": "2030-01-01T00:00:00Z", "provisional": false}, "held": false}),
        ),
        (
            reqwest::Method::POST,
            format!("{part}/communications/{pid}-call/wrapup"),
            json!({"code": CALL_BACK_LATER, "notes": "n"}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v2/users/{ADA}/presences/purecloud"),
            json!({"presenceDefinition": {"id": AVAILABLE}, "message": "m", "primary": true}),
        ),
        (
            reqwest::Method::POST,
            "/api/v2/analytics/queues/observations/query".into(),
            json!({
            "filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": SUPPORT}], "clauses": [{"type": "and", "predicates": [{"dimension": "queueId", "value": SALES}]}]},
            "metrics": ["oOnQueueUsers", "oWaiting", "oUserPresences"]}),
        ),
        (
            reqwest::Method::POST,
            format!("/__sim/queues/{SUPPORT}"),
            json!({"estimatedWaitSeconds": 12}),
        ),
    ];
    let queries = [
        format!("/api/v2/users/presences/purecloud/bulk?id={ADA},{OTTO}"),
        "/api/v2/routing/queues?pageSize=1&pageNumber=2&name=S*&sortOrder=desc".to_string(),
        "/api/v2/routing/wrapupcodes?pageSize=2&sortBy=id&name=*e*".to_string(),
        format!("/api/v2/users/{ADA}?expand=presence,routingStatus,station"),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let junk = b"{}[]\",:\\%&=+-.0123456789eE*Z\x00\xff ";
    let mut mutate = |seed: &[u8]| {
        let mut bytes = seed.to_vec();
        for _ in 0..(next() % 6 + 1) {
            let pos = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 if !bytes.is_empty() => bytes[pos] = junk[(next() as usize) % junk.len()],
                1 if !bytes.is_empty() => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos.min(bytes.len()), junk[(next() as usize) % junk.len()]),
            }
        }
        bytes
    };
    for i in 0..600 {
        let (method, path, body) = &seeds[i % seeds.len()];
        let bytes = mutate(body.to_string().as_bytes());
        let r = t
            .send(
                t.http
                    .request(method.clone(), t.url(path))
                    .bearer_auth(&t.edge)
                    .header("content-type", "application/json")
                    .body(bytes),
            )
            .await;
        assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.text);
    }
    for i in 0..200 {
        let q = &queries[i % queries.len()];
        let (path, query) = q.split_once('?').unwrap();
        let mangled = String::from_utf8_lossy(&mutate(query.as_bytes())).replace(['#', ' '], "");
        let r = t
            .send(
                t.http
                    .get(t.url(&format!("{path}?{mangled}")))
                    .bearer_auth(&t.edge),
            )
            .await;
        assert!(r.status < 500, "{path}?{mangled}: {} {}", r.status, r.text);
    }
    let log = t.log().await;
    assert!(
        log.iter().filter(|e| e["status"] == 400).count() > 100,
        "the fuzz reached the parsers"
    );
    assert_eq!(
        t.get(&t.edge, "/api/v2/routing/queues").await.status,
        200,
        "still serving"
    );
}
