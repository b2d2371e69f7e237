//! Call handles: the conversation id plus an HMAC, so a visitor can only read
//! or hang up calls this edge placed (and handed to them), never guess others.
//! Format: `base64url(conversationId) "." base64url(HMAC-SHA-256(key, "call:" id)[..16])`.

use super::sha256::{constant_time_eq, hmac_sha256};
use crate::base64;
use crate::call::{ConversationId, EntityId};

pub fn sign(key: &[u8], id: &ConversationId) -> String {
    let mac = hmac_sha256(key, ["call:", id.as_str()].concat().as_bytes());
    [
        base64::encode_url(id.as_str().as_bytes()),
        ".".into(),
        base64::encode_url(&mac[..16]),
    ]
    .concat()
}

/// The conversation id of a handle this key signed; `None` for anything else.
pub fn verify(key: &[u8], handle: &str) -> Option<ConversationId> {
    let (payload, _) = handle.split_once('.')?;
    if payload.len() > 96 {
        return None;
    }
    let id = String::from_utf8(base64::decode_url(payload)?).ok()?;
    let id = EntityId::parse(&id, "handle").ok()?;
    constant_time_eq(sign(key, &id).as_bytes(), handle.as_bytes()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_resist_tampering() {
        let key = b"0123456789abcdef0123456789abcdef";
        let id = EntityId::parse("516266f7-57d5-4548-b173-0d15e6c3d350", "id").unwrap();
        let h = sign(key, &id);
        assert_eq!(verify(key, &h), Some(id.clone()));
        assert_eq!(verify(b"another key another key another k", &h), None);
        let other = sign(
            key,
            &EntityId::parse("c0ffee00-0000-4000-8000-000000000001", "id").unwrap(),
        );
        let (p1, _) = h.split_once('.').unwrap();
        let (_, m2) = other.split_once('.').unwrap();
        assert_eq!(
            verify(key, &format!("{p1}.{m2}")),
            None,
            "a signature from another call"
        );
        for junk in [
            "",
            ".",
            "abc",
            "abc.def",
            &h[..h.len() - 1],
            &format!("{h}x"),
            "Li4vdXNlcnM.AAAA",
            &"A".repeat(10_000),
        ] {
            assert_eq!(verify(key, junk), None, "{junk}");
        }
    }
}
