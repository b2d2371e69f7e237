//! Call handles: what a visitor holds to read, watch or hang up the call they
//! asked for. A handle is signed (HMAC-SHA-256 under `HANDLE_SIGNING_KEY`), so
//! it cannot be guessed or altered, and it carries its issue time under the
//! MAC, so it expires (`HANDLE_TTL_SECS`, default 2 h).
//!
//! Format: `base64url(payload) "." base64url(HMAC(key, "handle2:" payload)[..16])`,
//! payload = kind (1 byte) · issued-at seconds (u32 BE) · number tag (8 bytes) · rest:
//! - kind 1, a placed call: rest = the conversation id;
//! - kind 2, a call whose outcome is not known yet: rest = the reservation's
//!   ticket (u64 BE) at the number's coordinator.
//!
//! The number tag (an HMAC of the destination, not the number) names the
//! number's coordinator, so any instance can find it from the handle alone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::call::{ConversationId, EntityId, E164};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 of `parts` joined, under `key` (any key length is valid for HMAC).
pub fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
    }
    m
}

/// A keyed digest of `parts`, base64url, `bytes` long before encoding: names
/// for coordinators and log fields that must not reveal what they stand for.
pub fn digest(key: &[u8], parts: &[&[u8]], bytes: usize) -> String {
    let tag = mac(key, parts).finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&tag[..bytes.min(32)])
}

/// The destination's tag: names its coordinator, never shows the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumberTag(pub [u8; 8]);

impl NumberTag {
    pub fn of(key: &[u8], number: &E164) -> NumberTag {
        let tag = mac(key, &[b"number:", number.as_str().as_bytes()])
            .finalize()
            .into_bytes();
        let mut t = [0u8; 8];
        t.copy_from_slice(&tag[..8]);
        NumberTag(t)
    }

    /// The coordinator's name (11 characters of base64url).
    pub fn name(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_name(name: &str) -> Option<NumberTag> {
        let b = URL_SAFE_NO_PAD.decode(name).ok()?;
        Some(NumberTag(b.try_into().ok()?))
    }
}

/// What a valid handle refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handle {
    Call {
        id: ConversationId,
        number: NumberTag,
    },
    /// A call whose create request's outcome is not known yet.
    Pending { ticket: u64, number: NumberTag },
}

const CALL: u8 = 1;
const PENDING: u8 = 2;
/// Handles issued this far "in the future" (another instance's clock) still verify.
const CLOCK_SKEW_SECS: u64 = 300;

fn sign_payload(key: &[u8], payload: &[u8]) -> String {
    let tag = mac(key, &[b"handle2:", payload]).finalize().into_bytes();
    [
        URL_SAFE_NO_PAD.encode(payload),
        ".".into(),
        URL_SAFE_NO_PAD.encode(&tag[..16]),
    ]
    .concat()
}

fn header(kind: u8, issued_secs: u64, number: NumberTag) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.push(kind);
    p.extend_from_slice(&(issued_secs.min(u32::MAX as u64) as u32).to_be_bytes());
    p.extend_from_slice(&number.0);
    p
}

pub fn sign_call(key: &[u8], id: &ConversationId, number: NumberTag, issued_secs: u64) -> String {
    let mut p = header(CALL, issued_secs, number);
    p.extend_from_slice(id.as_str().as_bytes());
    sign_payload(key, &p)
}

pub fn sign_pending(key: &[u8], ticket: u64, number: NumberTag, issued_secs: u64) -> String {
    let mut p = header(PENDING, issued_secs, number);
    p.extend_from_slice(&ticket.to_be_bytes());
    sign_payload(key, &p)
}

/// What `key` signed, if it did and the handle is younger than `ttl_secs`;
/// `None` for anything else. The tag is checked in constant time
/// (`hmac`'s `verify_truncated_left`) before anything else is looked at.
pub fn verify(key: &[u8], handle: &str, now_secs: u64, ttl_secs: u64) -> Option<Handle> {
    let (payload, tag) = handle.split_once('.')?;
    if payload.len() > 128 || tag.len() != 22 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, &[b"handle2:", &bytes])
        .verify_truncated_left(&tag)
        .ok()?;
    // Only the canonical encoding is accepted, so one call has one handle text.
    if URL_SAFE_NO_PAD.encode(&bytes) != payload || bytes.len() < 13 {
        return None;
    }
    let issued = u32::from_be_bytes(bytes[1..5].try_into().ok()?) as u64;
    if issued > now_secs + CLOCK_SKEW_SECS || now_secs >= issued.saturating_add(ttl_secs) {
        return None;
    }
    let number = NumberTag(bytes[5..13].try_into().ok()?);
    let rest = &bytes[13..];
    match bytes[0] {
        CALL => {
            let id = EntityId::parse(std::str::from_utf8(rest).ok()?, "handle").ok()?;
            Some(Handle::Call { id, number })
        }
        PENDING => Some(Handle::Pending {
            ticket: u64::from_be_bytes(rest.try_into().ok()?),
            number,
        }),
        _ => None,
    }
}

/// What a log line may show of a handle: its first 8 characters.
pub fn log_prefix(handle: &str) -> &str {
    let end = handle
        .char_indices()
        .nth(8)
        .map_or(handle.len(), |(i, _)| i);
    &handle[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tag() -> NumberTag {
        NumberTag::of(KEY, &E164::parse("+13175550100", "n").unwrap())
    }

    #[test]
    fn handles_round_trip_and_resist_tampering() {
        let id = EntityId::parse("516266f7-57d5-4548-b173-0d15e6c3d350", "id").unwrap();
        let h = sign_call(KEY, &id, tag(), 1_000);
        assert_eq!(
            verify(KEY, &h, 1_000, 7_200),
            Some(Handle::Call {
                id: id.clone(),
                number: tag()
            })
        );
        assert_eq!(
            verify(b"another key another key another k", &h, 1_000, 7_200),
            None
        );
        let other = sign_call(
            KEY,
            &EntityId::parse("c0ffee00-0000-4000-8000-000000000001", "id").unwrap(),
            tag(),
            1_000,
        );
        let (p1, _) = h.split_once('.').unwrap();
        let (_, m2) = other.split_once('.').unwrap();
        assert_eq!(
            verify(KEY, &format!("{p1}.{m2}"), 1_000, 7_200),
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
            assert_eq!(verify(KEY, junk, 1_000, 7_200), None, "{junk}");
        }
    }

    #[test]
    fn handles_expire() {
        let id = EntityId::parse("516266f7-57d5-4548-b173-0d15e6c3d350", "id").unwrap();
        let h = sign_call(KEY, &id, tag(), 1_000);
        assert!(verify(KEY, &h, 8_199, 7_200).is_some());
        assert_eq!(verify(KEY, &h, 8_200, 7_200), None, "past its TTL");
        assert!(verify(KEY, &h, 900, 7_200).is_some(), "a little clock skew");
        assert_eq!(
            verify(KEY, &h, 100, 7_200),
            None,
            "issued far in the future"
        );
    }

    #[test]
    fn pending_handles_carry_the_ticket() {
        let h = sign_pending(KEY, 42, tag(), 5);
        assert_eq!(
            verify(KEY, &h, 5, 60),
            Some(Handle::Pending {
                ticket: 42,
                number: tag()
            })
        );
        assert_eq!(NumberTag::from_name(&tag().name()), Some(tag()));
        assert_ne!(
            tag(),
            NumberTag::of(KEY, &E164::parse("+13175550101", "n").unwrap())
        );
    }

    #[test]
    fn logs_see_a_prefix_only() {
        assert_eq!(log_prefix("abcdefghijkl.mnop"), "abcdefgh");
        assert_eq!(log_prefix("abc"), "abc");
        assert_eq!(log_prefix("ééééééééé"), "éééééééé");
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
