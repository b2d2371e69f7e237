//! Topic names and who may subscribe to them.

use crate::Principal;

/// The permission a client-credentials token needs for another user's
/// conversation topics. Which permission Genesys checks is UNCONFIRMED
/// (genesys-notifications.md "Permissions" guesses this one); a user token
/// subscribing to its own user's topics needs none
/// (`requiresCurrentUserOrPermission`). `sim-edge` has it, `sim-readonly` not.
pub const TOPIC_PERMISSION: &str = "conversation:communication:view";

/// Longest topic name accepted.
const MAX_TOPIC_LEN: usize = 256;

pub fn calls_topic(user: &str) -> String {
    format!("v2.users.{user}.conversations.calls")
}

pub fn conversations_topic(user: &str) -> String {
    format!("v2.users.{user}.conversations")
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Permitted,
    /// Well-formed, but this principal lacks the permission.
    Denied,
    /// Not a topic name at all.
    Invalid,
}

/// Whether `p` may subscribe to `topic`. Well-formed topics the simulator
/// never publishes are Permitted (and simply never fire).
pub fn check(p: &Principal, topic: &str) -> Verdict {
    let well_formed = topic.len() <= MAX_TOPIC_LEN
        && topic.starts_with("v2.")
        && topic.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Verdict::Invalid;
    }
    let conversation_user = topic
        .strip_prefix("v2.users.")
        .and_then(|rest| {
            rest.strip_suffix(".conversations.calls")
                .or_else(|| rest.strip_suffix(".conversations"))
        })
        .filter(|u| !u.contains('.'));
    match conversation_user {
        Some(u) if p.user_id.as_deref() != Some(u) && !p.has_any(&[TOPIC_PERMISSION]) => {
            Verdict::Denied
        }
        _ => Verdict::Permitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user: Option<&str>, perms: &[&str]) -> Principal {
        Principal {
            token: "t".into(),
            client_id: "c".into(),
            user_id: user.map(str::to_string),
            permissions: perms.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn permissions_follow_requires_current_user_or_permission() {
        let ro = principal(None, &[]);
        let edge = principal(None, &[TOPIC_PERMISSION]);
        let ada = principal(Some("ada"), &[]);
        for t in [calls_topic("ada"), conversations_topic("ada")] {
            assert_eq!(check(&ro, &t), Verdict::Denied, "{t}");
            assert_eq!(check(&edge, &t), Verdict::Permitted, "{t}");
            assert_eq!(check(&ada, &t), Verdict::Permitted, "{t}");
        }
        assert_eq!(check(&ro, "v2.users.ada.presence"), Verdict::Permitted);
        assert_eq!(
            check(&ro, "v2.detail.events.conversation.x.customer.end"),
            Verdict::Permitted
        );
    }

    #[test]
    fn malformed_topics_are_invalid() {
        let p = principal(None, &[TOPIC_PERMISSION]);
        for t in [
            "",
            "v2",
            "v2.",
            "v3.users.a.conversations",
            "v2..users",
            "v2.users.a b.conversations",
            "v2.users.a/b",
            "channel.metadata",
            &format!("v2.{}", "x".repeat(300)),
        ] {
            assert_eq!(check(&p, t), Verdict::Invalid, "{t:?}");
        }
    }
}
