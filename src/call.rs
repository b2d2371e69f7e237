//! Placing and managing a call: validated inputs (E.164 numbers, ids), the
//! `CreateCallRequest` body, and the request for each call operation.

use std::collections::BTreeMap;

use crate::error::{Attempt, Error};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::region::Endpoints;
use crate::wire::{self, ConversationStateUpdate, CreateCallRequest, CreateCallResponse};

/// A phone number in E.164 form (`+` and 7–15 digits, no leading zero). Only
/// [`E164::parse`] makes one, so a value of this type is always dialable syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E164(String);

impl E164 {
    /// Accepts `+13175550100`, `tel:+13175550100` and visual separators
    /// (`+1 (317) 555-0100`); anything else is `invalid_input` naming the field.
    pub fn parse(input: &str, field: &str) -> Result<E164, Error> {
        let t = input.trim();
        let t = t.strip_prefix("tel:").unwrap_or(t);
        let mut out = String::with_capacity(16);
        for (i, c) in t.chars().enumerate() {
            match c {
                '+' if i == 0 => out.push('+'),
                '0'..='9' if !out.is_empty() => out.push(c),
                ' ' | '-' | '.' | '(' | ')' if !out.is_empty() => {}
                _ => return Err(bad_number(input, field)),
            }
        }
        let digits = out.len().saturating_sub(1);
        if !(7..=15).contains(&digits) || out.as_bytes().get(1) == Some(&b'0') {
            return Err(bad_number(input, field));
        }
        Ok(E164(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn bad_number(input: &str, field: &str) -> Error {
    // Cap what we echo back: the input may be huge or hostile.
    let shown: String = input.chars().take(40).collect();
    Error::invalid_input(&[field, " must be an E.164 phone number such as +13175550100 (a '+', the country code, then the number; 7 to 15 digits), got '", &shown, "'"])
}

/// A Genesys entity id used in a URL path (conversation, user, queue). Genesys ids
/// are UUIDs; we accept `[A-Za-z0-9-]{1,64}` so a value can never change the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityId(String);

pub type ConversationId = EntityId;
pub type UserId = EntityId;

impl EntityId {
    pub fn parse(input: &str, field: &str) -> Result<EntityId, Error> {
        if !input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            Ok(EntityId(input.to_string()))
        } else {
            let shown: String = input.chars().take(40).collect();
            Err(Error::invalid_input(&[
                field,
                " must be a Genesys id such as 0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01, got '",
                &shown,
                "'",
            ]))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `placeCall` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceCall {
    pub phone_number: E164,
    /// `Some`: server mode, `POST /api/v2/conversations/calls/user/{userId}`;
    /// `None`: the token's own user dials, `POST /api/v2/conversations/calls`.
    pub on_behalf_of: Option<UserId>,
    pub caller_id: Option<E164>,
    pub caller_id_name: Option<String>,
    pub call_from_queue_id: Option<EntityId>,
    pub attributes: BTreeMap<String, String>,
}

impl PlaceCall {
    pub fn new(phone_number: E164) -> PlaceCall {
        PlaceCall {
            phone_number,
            on_behalf_of: None,
            caller_id: None,
            caller_id_name: None,
            call_from_queue_id: None,
            attributes: BTreeMap::new(),
        }
    }

    /// The `CreateCallRequest` JSON: camelCase, absent fields omitted.
    pub fn body(&self) -> String {
        wire::encode(&CreateCallRequest {
            phone_number: self.phone_number.as_str(),
            caller_id: self.caller_id.as_ref().map(E164::as_str),
            caller_id_name: self.caller_id_name.as_deref(),
            call_from_queue_id: self.call_from_queue_id.as_ref().map(EntityId::as_str),
            attributes: &self.attributes,
        })
    }

    pub fn request(&self, endpoints: &Endpoints, token: &str) -> HttpRequest {
        let url = match &self.on_behalf_of {
            Some(user) => [
                endpoints.api_base.as_str(),
                "/api/v2/conversations/calls/user/",
                user.as_str(),
            ]
            .concat(),
            None => [endpoints.api_base.as_str(), "/api/v2/conversations/calls"].concat(),
        };
        HttpRequest::new(Method::Post, url)
            .bearer(token)
            .json(self.body())
    }
}

/// Reads `CreateCallResponse {id, selfUri}`. A 2xx without a usable id still
/// means Genesys acted, so it is `outcome_unknown`, not a retryable failure.
pub fn parse_create_response(resp: &HttpResponse) -> Result<ConversationId, Error> {
    if !resp.is_success() {
        return Err(Error::from_response(resp, Attempt::CreateCall));
    }
    let body: CreateCallResponse =
        wire::decode(&resp.body).map_err(|e| Error::bad_response(&e, Attempt::CreateCall))?;
    EntityId::parse(&body.id, "id")
        .map_err(|_| Error::bad_response("malformed conversation id", Attempt::CreateCall))
}

pub fn get_call_request(endpoints: &Endpoints, token: &str, id: &ConversationId) -> HttpRequest {
    HttpRequest::new(
        Method::Get,
        [
            endpoints.api_base.as_str(),
            "/api/v2/conversations/calls/",
            id.as_str(),
        ]
        .concat(),
    )
    .bearer(token)
}

/// The generic conversation, which carries `calls[].disconnectReasons` (SIP/Q.850
/// causes) — the only place busy and no-answer can be told apart.
pub fn get_conversation_request(
    endpoints: &Endpoints,
    token: &str,
    id: &ConversationId,
) -> HttpRequest {
    HttpRequest::new(
        Method::Get,
        [
            endpoints.api_base.as_str(),
            "/api/v2/conversations/",
            id.as_str(),
        ]
        .concat(),
    )
    .bearer(token)
}

/// Hangs up every leg: `PATCH /api/v2/conversations/calls/{id}` `{"state":"disconnected"}`.
pub fn hang_up_request(endpoints: &Endpoints, token: &str, id: &ConversationId) -> HttpRequest {
    let body = wire::encode(&ConversationStateUpdate {
        state: "disconnected",
    });
    HttpRequest::new(
        Method::Patch,
        [
            endpoints.api_base.as_str(),
            "/api/v2/conversations/calls/",
            id.as_str(),
        ]
        .concat(),
    )
    .bearer(token)
    .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_and_normalises() {
        for (input, want) in [
            ("+13175550100", "+13175550100"),
            ("tel:+13175550100", "+13175550100"),
            (" +1 (317) 555-0100 ", "+13175550100"),
            ("+44.20.7946.0958", "+442079460958"),
            ("+2901234", "+2901234"),
        ] {
            assert_eq!(
                E164::parse(input, "phoneNumber").unwrap().as_str(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn e164_rejects_with_a_message_naming_the_field() {
        for bad in [
            "13175550100",
            "+0123456789",
            "+1",
            "+123456",
            "+1234567890123456",
            "++13175550100",
            "+1317555010a",
            "",
            "+",
            "tel:",
            "1+3175550100",
            "+1 317 555 0100 ext 2",
        ] {
            let e = E164::parse(bad, "phoneNumber").unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_input", "{bad}");
            assert!(
                e.message.starts_with("phoneNumber must be an E.164"),
                "{bad}"
            );
        }
        let huge = "x".repeat(100_000);
        assert!(E164::parse(&huge, "phoneNumber").unwrap_err().message.len() < 300);
    }

    #[test]
    fn entity_ids_cannot_change_the_path() {
        assert!(EntityId::parse("0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01", "id").is_ok());
        for bad in ["", "../users", "a/b", "a?b", "a b", "%2e", &"a".repeat(65)] {
            assert!(EntityId::parse(bad, "id").is_err(), "{bad}");
        }
    }

    #[test]
    fn create_call_body_and_url() {
        let mut c = PlaceCall::new(E164::parse("+1 317 555 0100", "phoneNumber").unwrap());
        c.on_behalf_of = Some(EntityId::parse("u-1", "id").unwrap());
        c.caller_id = Some(E164::parse("+13175559999", "callerId").unwrap());
        c.caller_id_name = Some("Acme".into());
        c.call_from_queue_id = Some(EntityId::parse("q-1", "id").unwrap());
        c.attributes.insert("ticket".into(), "42".into());
        assert_eq!(
            c.body(),
            r#"{"phoneNumber":"+13175550100","callerId":"+13175559999","callerIdName":"Acme","callFromQueueId":"q-1","attributes":{"ticket":"42"}}"#
        );
        let e = Endpoints::custom("http://h", "http://h").unwrap();
        assert_eq!(
            c.request(&e, "tok").url,
            "http://h/api/v2/conversations/calls/user/u-1"
        );
        let minimal = PlaceCall::new(E164::parse("+13175550100", "phoneNumber").unwrap());
        assert_eq!(minimal.body(), r#"{"phoneNumber":"+13175550100"}"#);
        assert_eq!(
            minimal.request(&e, "tok").url,
            "http://h/api/v2/conversations/calls"
        );
    }

    #[test]
    fn create_response_parsing() {
        let ok = HttpResponse { status: 200, headers: vec![], body: r#"{"id":"516266f7-57d5-4548-b173-0d15e6c3d350","selfUri":"/api/v2/conversations/calls/516266f7-57d5-4548-b173-0d15e6c3d350"}"#.into() };
        assert_eq!(
            parse_create_response(&ok).unwrap().as_str(),
            "516266f7-57d5-4548-b173-0d15e6c3d350"
        );
        let garbled = HttpResponse {
            body: "{\"id\":".into(),
            ..ok
        };
        assert_eq!(
            parse_create_response(&garbled).unwrap_err().code.as_str(),
            "outcome_unknown"
        );
    }

    #[test]
    fn hang_up_is_a_patch_to_disconnected() {
        let e = Endpoints::custom("http://h", "http://h").unwrap();
        let r = hang_up_request(&e, "t", &EntityId::parse("c1", "id").unwrap());
        assert_eq!(
            (r.method, r.url.as_str(), r.body.as_deref()),
            (
                Method::Patch,
                "http://h/api/v2/conversations/calls/c1",
                Some(r#"{"state":"disconnected"}"#)
            )
        );
    }
}
