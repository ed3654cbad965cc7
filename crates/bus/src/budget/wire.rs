//! The budget's messages on the wire (JSON). Durations are relative — "in so many
//! microseconds from when you read this" — so that no two clocks need agree.

use std::time::Duration;

use herald_telegram::Priority;
use serde::{Deserialize, Serialize};

/// The most chats one request may name; the pacer grants none beyond it.
pub const MAX_BATCH: usize = 512;

/// `<prefix>.budget.v1.acquire` request: one send to `chat_id` wants a slot — or, with
/// `more`, a batch of sends wants as many slots as the budget has (answered with
/// [`AcquireReply::Slots`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcquireRequest {
    /// The chat the message goes to (negative for groups and channels).
    pub chat_id: i64,
    /// `interactive` (a command reply) or `bulk` (a broadcast).
    pub priority: String,
    /// Further sends of the same priority, one chat each (a pacer that predates the field
    /// ignores it and grants `chat_id` alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<i64>,
}

impl AcquireRequest {
    /// A request for a slot for each of `chats` (at least one).
    pub fn new(chats: &[i64], priority: Priority) -> Self {
        let (first, more) = chats.split_first().expect("a request names a chat");
        Self {
            chat_id: *first,
            priority: priority.as_str().to_owned(),
            more: more.to_vec(),
        }
    }

    /// The priority, bulk if unknown (a newer client's class is never favoured by mistake).
    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::Bulk)
    }
}

/// The pacer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcquireReply {
    /// The slot is yours: send `in_us` microseconds from receiving this — unless a pause
    /// reaches you before then (then the slot is void: ask again after the pause).
    Grant {
        /// Microseconds until the slot starts.
        in_us: u64,
        /// Microseconds the pacer held the request before answering (the rest of the round
        /// trip is transit, which makes the grant late by up to that much).
        #[serde(default)]
        held_us: u64,
    },
    /// The answer to a batch (a request with `more`): for each chat of the request —
    /// `chat_id`, then `more` in order — microseconds until its slot starts, or `null` for no
    /// slot yet (ask again). Missing entries are no slot. The same rules as for a grant.
    Slots {
        /// One entry per chat of the request.
        in_us: Vec<Option<u64>>,
        /// As in a grant.
        held_us: u64,
    },
    /// No slot for you yet: ask again in `in_us` microseconds.
    Retry {
        /// Microseconds to wait before asking again.
        in_us: u64,
    },
}

impl AcquireReply {
    /// The slot starts `after` from now.
    pub fn grant(after: Duration, held: Duration) -> Self {
        AcquireReply::Grant {
            in_us: micros(after),
            held_us: micros(held),
        }
    }

    /// A batch's slots, one per chat, each starting that long from now (`None`: no slot).
    pub fn slots(after: Vec<Option<Duration>>, held: Duration) -> Self {
        AcquireReply::Slots {
            in_us: after.into_iter().map(|d| d.map(micros)).collect(),
            held_us: micros(held),
        }
    }

    pub fn retry(after: Duration) -> Self {
        AcquireReply::Retry {
            in_us: micros(after),
        }
    }
}

/// `<prefix>.budget.v1.pause`: Telegram answered 429; nobody sends for `wait_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNotice {
    /// Telegram's `retry_after`, in milliseconds, from when the notice is read.
    pub wait_ms: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shapes_are_stable() {
        let request = AcquireRequest::new(&[-42], Priority::Interactive);
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"chat_id":-42,"priority":"interactive"}"#
        );
        assert_eq!(
            serde_json::to_string(&AcquireRequest::new(&[1, 2, 3], Priority::Bulk)).unwrap(),
            r#"{"chat_id":1,"priority":"bulk","more":[2,3]}"#
        );
        assert_eq!(
            serde_json::to_string(&AcquireReply::grant(
                Duration::from_millis(12),
                Duration::from_micros(7)
            ))
            .unwrap(),
            r#"{"grant":{"in_us":12000,"held_us":7}}"#
        );
        assert_eq!(
            serde_json::to_string(&AcquireReply::slots(
                vec![None, Some(Duration::from_micros(5))],
                Duration::ZERO
            ))
            .unwrap(),
            r#"{"slots":{"in_us":[null,5],"held_us":0}}"#
        );
        // A pacer that predates batches answers a batch's first chat alone, and reads a batch
        // as a request for its first chat.
        let old: AcquireRequest =
            serde_json::from_str(r#"{"chat_id":7,"priority":"bulk"}"#).unwrap();
        assert!(old.more.is_empty());
        let old: AcquireReply = serde_json::from_str(r#"{"grant":{"in_us":3}}"#).unwrap();
        assert_eq!(
            old,
            AcquireReply::Grant {
                in_us: 3,
                held_us: 0
            }
        );
        assert_eq!(
            serde_json::to_string(&AcquireReply::retry(Duration::ZERO)).unwrap(),
            r#"{"retry":{"in_us":0}}"#
        );
        assert_eq!(
            serde_json::to_string(&PauseNotice { wait_ms: 35_000 }).unwrap(),
            r#"{"wait_ms":35000}"#
        );
        let odd: AcquireRequest =
            serde_json::from_str(r#"{"chat_id":1,"priority":"urgent"}"#).unwrap();
        assert_eq!(odd.priority(), Priority::Bulk);
    }
}
