//! Placing and managing a call: validated inputs (E.164 numbers, ids), the
//! `CreateCallRequest` body, and the request for each call operation.

use crate::error::{Attempt, Error};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::json::{write_str, Json, ObjectWriter};
use crate::region::Endpoints;

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
    pub attributes: Vec<(String, String)>,
}

const PLACE_CALL_KEYS: [&str; 6] = [
    "phoneNumber",
    "onBehalfOfUserId",
    "callerId",
    "callerIdName",
    "callFromQueueId",
    "attributes",
];

impl PlaceCall {
    pub fn new(phone_number: E164) -> PlaceCall {
        PlaceCall {
            phone_number,
            on_behalf_of: None,
            caller_id: None,
            caller_id_name: None,
            call_from_queue_id: None,
            attributes: Vec::new(),
        }
    }

    /// From the JS options object (as JSON). Unknown keys are refused so a typo
    /// (`phonenumber`) is an error, not a silently different call; `signal` and
    /// `onUpdate` belong to the shell and are skipped.
    pub fn from_json(v: &Json) -> Result<PlaceCall, Error> {
        let members = v.as_object().ok_or_else(|| {
            Error::invalid_input(&[
                "placeCall expects an options object such as { phoneNumber: \"+13175550100\" }",
            ])
        })?;
        check_keys(members, &PLACE_CALL_KEYS, "placeCall")?;
        let number = opt_string(v, "phoneNumber")?.ok_or_else(|| {
            Error::invalid_input(&["phoneNumber is required, e.g. \"+13175550100\""])
        })?;
        let mut call = PlaceCall::new(E164::parse(number, "phoneNumber")?);
        call.on_behalf_of = opt_string(v, "onBehalfOfUserId")?
            .map(|s| EntityId::parse(s, "onBehalfOfUserId"))
            .transpose()?;
        call.caller_id = opt_string(v, "callerId")?
            .map(|s| E164::parse(s, "callerId"))
            .transpose()?;
        call.caller_id_name = match opt_string(v, "callerIdName")? {
            Some(n) if n.chars().nth(64).is_some() || n.chars().any(char::is_control) => {
                return Err(Error::invalid_input(&[
                    "callerIdName must be at most 64 printable characters",
                ]))
            }
            n => n.map(str::to_string),
        };
        call.call_from_queue_id = opt_string(v, "callFromQueueId")?
            .map(|s| EntityId::parse(s, "callFromQueueId"))
            .transpose()?;
        match v.get("attributes") {
            None | Some(Json::Null) => {}
            Some(Json::Obj(m)) => {
                for (k, val) in m {
                    let s = val.as_str().ok_or_else(|| {
                        Error::invalid_input(&[
                            "attributes values must be strings; '",
                            k,
                            "' is not",
                        ])
                    })?;
                    call.attributes.push((k.clone(), s.to_string()));
                }
            }
            Some(_) => {
                return Err(Error::invalid_input(&[
                    "attributes must be an object of string values",
                ]))
            }
        }
        Ok(call)
    }

    /// The `CreateCallRequest` JSON: camelCase, absent fields omitted.
    pub fn body(&self) -> String {
        let mut w = ObjectWriter::new();
        w.str("phoneNumber", self.phone_number.as_str())
            .opt_str("callerId", self.caller_id.as_ref().map(E164::as_str))
            .opt_str("callerIdName", self.caller_id_name.as_deref())
            .opt_str(
                "callFromQueueId",
                self.call_from_queue_id.as_ref().map(EntityId::as_str),
            );
        if !self.attributes.is_empty() {
            let mut attrs = ObjectWriter::new();
            for (k, v) in &self.attributes {
                attrs.str(k, v);
            }
            w.raw("attributes", &attrs.finish());
        }
        w.finish()
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

/// Keys of `members` must all be in `allowed` (plus the shell's `signal`/`onUpdate`).
pub fn check_keys(members: &[(String, Json)], allowed: &[&str], what: &str) -> Result<(), Error> {
    for (k, _) in members {
        if !allowed.contains(&k.as_str()) && k != "signal" && k != "onUpdate" {
            let mut list = String::new();
            for a in allowed {
                if !list.is_empty() {
                    list.push_str(", ");
                }
                list.push_str(a);
            }
            return Err(Error::invalid_input(&[
                "unknown option '",
                k,
                "' for ",
                what,
                "; the options are ",
                &list,
            ]));
        }
    }
    Ok(())
}

/// A string option: absent or null → `None`; any other type → `invalid_input`.
pub fn opt_string<'a>(v: &'a Json, key: &str) -> Result<Option<&'a str>, Error> {
    match v.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid_input(&[key, " must be a string"])),
    }
}

/// Reads `CreateCallResponse {id, selfUri}`. A 2xx without a usable id still
/// means Genesys acted, so it is `outcome_unknown`, not a retryable failure.
pub fn parse_create_response(resp: &HttpResponse) -> Result<ConversationId, Error> {
    if !resp.is_success() {
        return Err(Error::from_response(resp, Attempt::CreateCall));
    }
    let body = Json::parse(&resp.body).map_err(|e| Error::bad_response(&e, Attempt::CreateCall))?;
    let id = body
        .str_at("id")
        .ok_or_else(|| Error::bad_response("no conversation id", Attempt::CreateCall))?;
    EntityId::parse(id, "id")
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
    let mut body = String::from("{\"state\":");
    write_str(&mut body, "disconnected");
    body.push('}');
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
    fn options_parse_into_a_create_call_request() {
        let v = Json::parse(r#"{"phoneNumber":"+1 317 555 0100","onBehalfOfUserId":"u-1","callerId":"+13175559999","callerIdName":"Acme","callFromQueueId":"q-1","attributes":{"ticket":"42"},"signal":{}}"#).unwrap();
        let c = PlaceCall::from_json(&v).unwrap();
        assert_eq!(
            c.body(),
            r#"{"phoneNumber":"+13175550100","callerId":"+13175559999","callerIdName":"Acme","callFromQueueId":"q-1","attributes":{"ticket":"42"}}"#
        );
        let e = Endpoints::custom("http://h", "http://h").unwrap();
        let r = c.request(&e, "tok");
        assert_eq!(r.url, "http://h/api/v2/conversations/calls/user/u-1");
        let minimal =
            PlaceCall::from_json(&Json::parse(r#"{"phoneNumber":"+13175550100"}"#).unwrap())
                .unwrap();
        assert_eq!(minimal.body(), r#"{"phoneNumber":"+13175550100"}"#);
        assert_eq!(
            minimal.request(&e, "tok").url,
            "http://h/api/v2/conversations/calls"
        );
    }

    #[test]
    fn bad_options_are_invalid_input() {
        for (bad, needle) in [
            (
                r#"{"phonenumber":"+13175550100"}"#,
                "unknown option 'phonenumber'",
            ),
            (r#"{}"#, "phoneNumber is required"),
            (
                r#"{"phoneNumber":13175550100}"#,
                "phoneNumber must be a string",
            ),
            (
                r#"{"phoneNumber":"+13175550100","onBehalfOfUserId":"../x"}"#,
                "onBehalfOfUserId must be a Genesys id",
            ),
            (
                r#"{"phoneNumber":"+13175550100","attributes":{"a":1}}"#,
                "attributes values must be strings",
            ),
            (
                r#"{"phoneNumber":"+13175550100","callerId":"555"}"#,
                "callerId must be an E.164",
            ),
            (r#"[]"#, "options object"),
        ] {
            let e = PlaceCall::from_json(&Json::parse(bad).unwrap()).unwrap_err();
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
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
