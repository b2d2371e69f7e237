//! Wrap-up after a call: which participant gets it (the agent's), which codes
//! it may use, and the PATCH that applies it. Genesys has no wrap-up field on
//! the create-call body; wrap-up codes belong to queues, so only calls placed
//! with `callFromQueueId` (ACD calls) have any.
//!
//! Decisions here are checked before anything is sent where we can tell: a
//! call with no codes, or a code that is not one of them, is `invalid_input`
//! naming the reason, never a doomed PATCH or a silent no-op.

use crate::call::{ConversationId, EntityId, UserId};
use crate::error::{Attempt, Error, ErrorCode};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::region::Endpoints;
use crate::status::{Role, Snapshot};
use crate::wire::wrapup::{ParticipantWrapup, WrapupCode};
use crate::wire::{self, Wrapup};

/// A wrap-up to apply: a wrap-up code **id** and optional notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapUp {
    pub code: EntityId,
    pub notes: Option<String>,
}

/// The agent participant of a call, as the wrap-up endpoints need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLeg {
    pub participant_id: EntityId,
    pub user_id: Option<UserId>,
}

/// The agent's leg of `snapshot`: the only participant a wrap-up belongs to.
/// Ids come from Genesys but go into URL paths, so they are validated too.
pub fn agent_leg(snapshot: &Snapshot) -> Result<AgentLeg, Error> {
    let leg = snapshot.leg(Role::Agent).ok_or_else(|| {
        Error::new(
            ErrorCode::Conflict,
            &["the call has no agent participant to wrap up (is it a call this client placed?)"],
        )
    })?;
    let participant_id = EntityId::parse(&leg.participant_id, "participant id").map_err(|_| {
        Error::bad_response("the agent participant has no usable id", Attempt::Other)
    })?;
    let user_id = leg
        .user_id
        .as_deref()
        .and_then(|u| EntityId::parse(u, "user id").ok());
    Ok(AgentLeg {
        participant_id,
        user_id,
    })
}

fn participant_url(endpoints: &Endpoints, cid: &ConversationId, pid: &EntityId) -> String {
    [
        endpoints.api_base.as_str(),
        "/api/v2/conversations/calls/",
        cid.as_str(),
        "/participants/",
        pid.as_str(),
    ]
    .concat()
}

/// `GET …/calls/{cid}/participants/{pid}/wrapupcodes`: a bare array, the
/// queue's codes for the agent of an ACD call and `[]` otherwise.
pub fn codes_request(
    endpoints: &Endpoints,
    token: &str,
    cid: &ConversationId,
    agent: &AgentLeg,
) -> HttpRequest {
    let url = participant_url(endpoints, cid, &agent.participant_id) + "/wrapupcodes";
    HttpRequest::new(Method::Get, url).bearer(token)
}

pub fn parse_codes(resp: &HttpResponse) -> Result<Vec<WrapupCode>, Error> {
    let codes: Vec<WrapupCode> = wire::decode(&resp.body).map_err(|e| {
        Error::bad_response(
            &["wrap-up codes are not the documented shape: ", &e].concat(),
            Attempt::Other,
        )
    })?;
    Ok(codes.into_iter().filter(|c| !c.id.is_empty()).collect())
}

/// Refuses, before the PATCH, a call without codes (not an ACD call) or a code
/// that is not one of the call's.
pub fn check_code(codes: &[WrapupCode], code: &EntityId) -> Result<(), Error> {
    if codes.is_empty() {
        return Err(Error::invalid_input(&[
            "this call has no wrap-up codes: Genesys has wrap-up only on queue (ACD) calls, so place the call with callFromQueueId; nothing was sent",
        ]));
    }
    if codes.iter().any(|c| c.id == code.as_str()) {
        return Ok(());
    }
    let valid: Vec<String> = codes
        .iter()
        .map(|c| match &c.name {
            Some(n) => [n.as_str(), " (", &c.id, ")"].concat(),
            None => c.id.clone(),
        })
        .collect();
    Err(Error::invalid_input(&[
        "wrap-up code ",
        code.as_str(),
        " is not one of this call's codes: ",
        &valid.join(", "),
        " (the code is the wrap-up code's id, see wrapUpCodes); nothing was sent",
    ]))
}

/// `PATCH …/participants/{pid}` `{"wrapup":{code,notes}}`; with `on_behalf_of`
/// the `/user/{userId}` form, for a client-credentials token acting for the agent.
pub fn apply_request(
    endpoints: &Endpoints,
    token: &str,
    cid: &ConversationId,
    pid: &EntityId,
    on_behalf_of: Option<&UserId>,
    wrap: &WrapUp,
) -> HttpRequest {
    let mut url = participant_url(endpoints, cid, pid);
    if let Some(u) = on_behalf_of {
        url.push_str("/user/");
        url.push_str(u.as_str());
    }
    let wrapup = Wrapup {
        code: Some(wrap.code.as_str().to_string()),
        notes: wrap.notes.clone(),
        ..Wrapup::default()
    };
    HttpRequest::new(Method::Patch, url)
        .bearer(token)
        .json(wire::encode(&ParticipantWrapup { wrapup: &wrapup }))
}

/// A failed wrap-up PATCH, said as such: Genesys' 400 for an unknown code or a
/// non-ACD call becomes `invalid_input` whose message starts with what failed.
pub fn rejected(mut e: Error) -> Error {
    e.message = ["the wrap-up was not applied: ", &e.message].concat();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> EntityId {
        EntityId::parse(s, "id").unwrap()
    }

    fn codes() -> Vec<WrapupCode> {
        vec![
            WrapupCode {
                id: "c1".into(),
                name: Some("Resolved".into()),
            },
            WrapupCode {
                id: "c2".into(),
                name: None,
            },
        ]
    }

    #[test]
    fn codes_are_checked_before_anything_is_sent() {
        assert!(check_code(&codes(), &id("c1")).is_ok());
        let e = check_code(&codes(), &id("c9")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(
            e.message
                .contains("c9 is not one of this call's codes: Resolved (c1), c2"),
            "{}",
            e.message
        );
        let e = check_code(&[], &id("c1")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("callFromQueueId"), "{}", e.message);
    }

    #[test]
    fn the_patch_for_both_modes() {
        let e = Endpoints::custom("http://h", "http://h").unwrap();
        let w = WrapUp {
            code: id("c1"),
            notes: Some("called back \"soon\"".into()),
        };
        let r = apply_request(&e, "t", &id("cv"), &id("pa"), None, &w);
        assert_eq!(r.method, Method::Patch);
        assert_eq!(
            r.url,
            "http://h/api/v2/conversations/calls/cv/participants/pa"
        );
        assert_eq!(
            r.body.as_deref(),
            Some(r#"{"wrapup":{"code":"c1","notes":"called back \"soon\""}}"#)
        );
        let r = apply_request(
            &e,
            "t",
            &id("cv"),
            &id("pa"),
            Some(&id("u1")),
            &WrapUp {
                code: id("c1"),
                notes: None,
            },
        );
        assert_eq!(
            r.url,
            "http://h/api/v2/conversations/calls/cv/participants/pa/user/u1"
        );
        assert_eq!(r.body.as_deref(), Some(r#"{"wrapup":{"code":"c1"}}"#));
        assert_eq!(
            codes_request(
                &e,
                "t",
                &id("cv"),
                &AgentLeg {
                    participant_id: id("pa"),
                    user_id: None
                }
            )
            .url,
            "http://h/api/v2/conversations/calls/cv/participants/pa/wrapupcodes"
        );
    }

    #[test]
    fn the_agent_leg_is_found_and_validated() {
        let snap = Snapshot::parse(r#"{"id":"cv","participants":[{"id":"pc","purpose":"customer","address":"tel:+13175550100"},{"id":"pa","purpose":"agent","user":{"id":"u1"}}]}"#).unwrap();
        assert_eq!(
            agent_leg(&snap).unwrap(),
            AgentLeg {
                participant_id: id("pa"),
                user_id: Some(id("u1"))
            }
        );
        let none =
            Snapshot::parse(r#"{"id":"cv","participants":[{"id":"pc","purpose":"customer"}]}"#)
                .unwrap();
        assert_eq!(agent_leg(&none).unwrap_err().code, ErrorCode::Conflict);
        let hostile = Snapshot::parse(r#"{"id":"cv","participants":[{"id":"../x","purpose":"agent","user":{"id":"u/../1"}}]}"#).unwrap();
        assert_eq!(
            agent_leg(&hostile).unwrap_err().code,
            ErrorCode::BadResponse
        );
    }

    #[test]
    fn codes_parse_as_a_bare_array() {
        let ok = |b: &str| HttpResponse {
            status: 200,
            headers: vec![],
            body: b.into(),
        };
        let c = parse_codes(&ok(
            r#"[{"id":"c1","name":"Resolved","division":{"id":"d"}},{"name":"no id"}]"#,
        ))
        .unwrap();
        assert_eq!(
            c,
            vec![WrapupCode {
                id: "c1".into(),
                name: Some("Resolved".into())
            }]
        );
        assert!(parse_codes(&ok("[]")).unwrap().is_empty());
        assert_eq!(
            parse_codes(&ok(r#"{"entities":[]}"#)).unwrap_err().code,
            ErrorCode::BadResponse
        );
    }

    #[test]
    fn a_rejected_patch_says_the_wrap_up_failed() {
        let resp = HttpResponse {
            status: 400,
            headers: vec![],
            body: r#"{"message":"The wrap-up code [x] is not valid for queue [q].","code":"bad.request","status":400,"details":[{"fieldName":"wrapup.code"}]}"#.into(),
        };
        let e = rejected(Error::from_response(&resp, Attempt::Other));
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(
            e.message.starts_with(
                "the wrap-up was not applied: Genesys rejected the request: The wrap-up code [x]"
            ),
            "{}",
            e.message
        );
    }
}
