//! The Notifications API's JSON (genesys-notifications.md §A): the channel,
//! its topic subscriptions, `users/me`, and the frames a channel's WebSocket
//! carries. Frames are read by [`parse_frame`], which never fails: anything it
//! cannot read is [`Frame::Malformed`] or [`Frame::Ignored`], never a panic.

use serde::{Deserialize, Serialize};

use super::Conversation;

/// `POST /api/v2/notifications/channels` → `Channel {connectUri, id, expires}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub connect_uri: String,
    pub id: String,
    /// ISO-8601 date-time.
    pub expires: Option<String>,
}

/// One entry of a subscription request body: `[{"id":"<topic>"}]`.
#[derive(Debug, Serialize)]
pub struct TopicRef<'a> {
    pub id: &'a str,
}

/// `ChannelTopicEntityListing`: the subscription answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopicListing {
    #[serde(default)]
    pub entities: Vec<ChannelTopic>,
}

/// `ChannelTopic {id, state: "Permitted"|"Rejected", rejectionReason, …}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTopic {
    #[serde(default)]
    pub id: String,
    pub state: Option<String>,
    pub rejection_reason: Option<String>,
}

/// `eventBody` of `channel.metadata` frames: `{"message":"WebSocket Heartbeat"|"pong"}`.
#[derive(Debug, Default, Deserialize)]
struct MetadataBody {
    message: Option<String>,
}

/// Frames bigger than this are not parsed (a call event is a few KB; workerd
/// caps messages at 32 MiB). The caller treats one as a gap in the stream.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// What one text frame on the channel's socket says.
#[derive(Debug, Clone)]
pub enum Frame {
    /// `channel.metadata` "WebSocket Heartbeat".
    Heartbeat,
    /// `channel.metadata` "pong", the answer to `{"message":"ping"}`.
    Pong,
    /// `v2.system.socket_closing`: reconnect to the same `connectUri`.
    SocketClosing,
    /// `v2.system.no_longer_subscribed.*`: the channel is gone (evicted).
    NoLongerSubscribed,
    /// A `v2.users.{userId}.conversations.calls` event: the whole call.
    CallEvent {
        user_id: String,
        conversation: Conversation,
        /// `eventBody` exactly as sent, for the status' `raw`.
        raw: String,
    },
    /// Bigger than [`MAX_FRAME_BYTES`]: not read at all.
    Oversize,
    /// Valid, but nothing this client follows (other topics, other metadata).
    Ignored,
    /// Not JSON, or a call event whose body is not a conversation.
    Malformed,
}

/// The user id in `v2.users.{id}.conversations.calls`, if that is the topic.
pub fn calls_topic_user(topic: &str) -> Option<&str> {
    topic
        .strip_prefix("v2.users.")?
        .strip_suffix(".conversations.calls")
        .filter(|u| !u.is_empty() && !u.contains('.'))
}

/// The topic that carries every call of `user_id`.
pub fn calls_topic(user_id: &str) -> String {
    ["v2.users.", user_id, ".conversations.calls"].concat()
}

/// What a frame's `topicName` alone says, before its body is read.
enum Kind<'a> {
    Metadata,
    SocketClosing,
    NoLongerSubscribed,
    Calls(&'a str),
    Other,
}

fn kind(topic: &str) -> Kind<'_> {
    if topic == "channel.metadata" {
        Kind::Metadata
    } else if topic == "v2.system.socket_closing" {
        Kind::SocketClosing
    } else if topic.starts_with("v2.system.no_longer_subscribed") {
        Kind::NoLongerSubscribed
    } else if let Some(u) = calls_topic_user(topic) {
        Kind::Calls(u)
    } else {
        Kind::Other
    }
}

fn metadata(m: MetadataBody) -> Frame {
    match m.message.as_deref() {
        Some("WebSocket Heartbeat") => Frame::Heartbeat,
        Some("pong") => Frame::Pong,
        _ => Frame::Ignored,
    }
}

/// Reads one text frame. Host and the edge build: serde_json, the body kept
/// as the raw text it arrived as.
#[cfg(not(all(
    target_arch = "wasm32",
    not(any(feature = "edge", feature = "wasm-serde-json"))
)))]
pub fn parse_frame(text: &str) -> Frame {
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(rename = "topicName")]
        topic_name: Option<String>,
        #[serde(borrow, rename = "eventBody")]
        event_body: Option<&'a RawValue>,
    }
    if text.len() > MAX_FRAME_BYTES {
        return Frame::Oversize;
    }
    let Ok(env) = serde_json::from_str::<Envelope>(text) else {
        return Frame::Malformed;
    };
    let Some(topic) = env.topic_name else {
        return Frame::Ignored;
    };
    let body = env.event_body.map_or("null", RawValue::get);
    match kind(&topic) {
        Kind::Metadata => metadata(serde_json::from_str(body).unwrap_or_default()),
        Kind::SocketClosing => Frame::SocketClosing,
        Kind::NoLongerSubscribed => Frame::NoLongerSubscribed,
        Kind::Calls(user) => match serde_json::from_str::<Conversation>(body) {
            Ok(conversation) => Frame::CallEvent {
                user_id: user.to_string(),
                conversation,
                raw: body.to_string(),
            },
            Err(_) => Frame::Malformed,
        },
        Kind::Other => Frame::Ignored,
    }
}

/// Reads one text frame. Browser package: `JSON.parse` once, the body read
/// with serde-wasm-bindgen and re-serialized with `JSON.stringify` for `raw`
/// (serde_json stays out of the browser wasm; see `wire`).
#[cfg(all(
    target_arch = "wasm32",
    not(any(feature = "edge", feature = "wasm-serde-json"))
))]
pub fn parse_frame(text: &str) -> Frame {
    use js_sys::{Reflect, JSON};
    use wasm_bindgen::JsValue;

    if text.len() > MAX_FRAME_BYTES {
        return Frame::Oversize;
    }
    let Ok(v) = JSON::parse(text) else {
        return Frame::Malformed;
    };
    if !v.is_object() {
        return Frame::Malformed;
    }
    let field = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let Some(topic) = field(&v, "topicName").as_string() else {
        return Frame::Ignored;
    };
    let body = field(&v, "eventBody");
    match kind(&topic) {
        Kind::Metadata => metadata(MetadataBody {
            message: body
                .is_object()
                .then(|| field(&body, "message").as_string())
                .flatten(),
        }),
        Kind::SocketClosing => Frame::SocketClosing,
        Kind::NoLongerSubscribed => Frame::NoLongerSubscribed,
        Kind::Calls(user) => {
            let raw = JSON::stringify(&body).ok().and_then(|s| s.as_string());
            match (serde_wasm_bindgen::from_value::<Conversation>(body), raw) {
                (Ok(conversation), Some(raw)) => Frame::CallEvent {
                    user_id: user.to_string(),
                    conversation,
                    raw,
                },
                _ => Frame::Malformed,
            }
        }
        Kind::Other => Frame::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_and_subscription_answers() {
        let c: Channel = crate::wire::decode(r#"{"connectUri":"wss://streaming.mypurecloud.com/channels/streaming-0-fmtdmf8cdis7jh14udg5p89t6z","id":"streaming-0-fmtdmf8cdis7jh14udg5p89t6z","expires":"2020-08-12T12:41:54.707Z"}"#).unwrap();
        assert_eq!(c.id, "streaming-0-fmtdmf8cdis7jh14udg5p89t6z");
        assert!(c.connect_uri.starts_with("wss://streaming."));
        let l: TopicListing = crate::wire::decode(r#"{"entities":[{"id":"v2.users.a.conversations.calls","state":"Permitted"},{"id":"v2.users.b.conversations.calls","state":"Rejected","rejectionReason":"missing permissions","missingPermissions":["x"]}]}"#).unwrap();
        assert_eq!(l.entities[1].state.as_deref(), Some("Rejected"));
        assert_eq!(
            crate::wire::encode(&[TopicRef {
                id: "v2.users.a.conversations.calls"
            }]),
            r#"[{"id":"v2.users.a.conversations.calls"}]"#
        );
    }

    #[test]
    fn topics_name_their_user() {
        assert_eq!(calls_topic("u-1"), "v2.users.u-1.conversations.calls");
        assert_eq!(calls_topic_user(&calls_topic("u-1")), Some("u-1"));
        for t in [
            "v2.users.u.conversations",
            "v2.users..conversations.calls",
            "v2.users.a.b.conversations.calls",
            "v2.routing.queues.q.conversations.calls",
        ] {
            assert_eq!(calls_topic_user(t), None, "{t}");
        }
    }

    #[test]
    fn every_frame_kind() {
        assert!(matches!(
            parse_frame(
                r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#
            ),
            Frame::Heartbeat
        ));
        assert!(matches!(
            parse_frame(r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#),
            Frame::Pong
        ));
        assert!(matches!(
            parse_frame(
                r#"{"topicName":"v2.system.socket_closing","eventBody":{"channelId":"c"}}"#
            ),
            Frame::SocketClosing
        ));
        assert!(matches!(
            parse_frame(
                r#"{"topicName":"v2.system.no_longer_subscribed.streaming-0-x","eventBody":{}}"#
            ),
            Frame::NoLongerSubscribed
        ));
        let event = r#"{"topicName":"v2.users.ada.conversations.calls","version":"2","eventBody":{"id":"c1","participants":[{"id":"p","purpose":"agent","state":"connected"}]},"metadata":{"CorrelationId":"x"}}"#;
        match parse_frame(event) {
            Frame::CallEvent {
                user_id,
                conversation,
                raw,
            } => {
                assert_eq!((user_id.as_str(), conversation.id.as_str()), ("ada", "c1"));
                assert!(raw.starts_with(r#"{"id":"c1""#), "{raw}");
            }
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn hostile_frames_never_panic() {
        let huge = format!(
            r#"{{"topicName":"v2.users.a.conversations.calls","eventBody":{{"id":"{}"}}}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert!(matches!(parse_frame(&huge), Frame::Oversize));
        for (bad, malformed) in [
            ("", true),
            ("not json", true),
            ("[1,2]", true),
            ("{\"topicName\":", true),
            ("\u{0}\u{ffff}", true),
            (r#"{"topicName":7}"#, true),
            (
                r#"{"topicName":"v2.users.a.conversations.calls","eventBody":[]}"#,
                true,
            ),
            (r#"{"topicName":"v2.users.a.conversations.calls"}"#, true),
            (
                r#"{"topicName":"v2.users.a.conversations.calls","eventBody":{"participants":[]}}"#,
                true,
            ),
            (r#"{"eventBody":{}}"#, false),
            (
                r#"{"topicName":"channel.metadata","eventBody":{"message":7}}"#,
                false,
            ),
            (r#"{"topicName":"channel.metadata"}"#, false),
            (
                r#"{"topicName":"v2.users.a.presence","eventBody":{}}"#,
                false,
            ),
            (r#"{"result":"404"}"#, false),
        ] {
            let f = parse_frame(bad);
            assert_eq!(matches!(f, Frame::Malformed), malformed, "{bad:?} → {f:?}");
        }
    }
}
