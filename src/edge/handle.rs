//! Call handles: the conversation id plus an HMAC, so a visitor can only read
//! or hang up calls this edge placed (and handed to them), never guess others.
//! Format: `base64url(conversationId) "." base64url(HMAC-SHA-256(key, "call:" id)[..16])`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::call::{ConversationId, EntityId};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 of `parts` joined, under `key` (any key length is valid for HMAC).
pub fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
    }
    m
}

pub fn sign(key: &[u8], id: &ConversationId) -> String {
    let tag = mac(key, &[b"call:", id.as_str().as_bytes()])
        .finalize()
        .into_bytes();
    [
        URL_SAFE_NO_PAD.encode(id.as_str()),
        ".".into(),
        URL_SAFE_NO_PAD.encode(&tag[..16]),
    ]
    .concat()
}

/// The conversation id of a handle this key signed; `None` for anything else.
/// The tag is checked in constant time (`hmac`'s `verify_truncated_left`).
pub fn verify(key: &[u8], handle: &str) -> Option<ConversationId> {
    let (payload, tag) = handle.split_once('.')?;
    if payload.len() > 96 || tag.len() != 22 {
        return None;
    }
    let id = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let id = EntityId::parse(&id, "handle").ok()?;
    // Only the canonical encoding is accepted, so one call has one handle.
    if URL_SAFE_NO_PAD.encode(id.as_str()) != payload {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, &[b"call:", id.as_str().as_bytes()])
        .verify_truncated_left(&tag)
        .ok()?;
    Some(id)
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

    #[test]
    fn the_mac_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        let tag = mac(b"Jefe", &[b"what do ya want ", b"for nothing?"])
            .finalize()
            .into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
