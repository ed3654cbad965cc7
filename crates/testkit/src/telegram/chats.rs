//! Chats beyond private ones: groups, forums and channels the double is told of, forum
//! topics, and the bot's own membership — `my_chat_member` updates, and Telegram's 403 for
//! a chat the bot has left or was kicked from.

use serde_json::{Value, json};

use super::api::Reply;
use super::model::{MemberStatus, TestChat, TestChatKind, TestUser};
use super::state::{Shared, State, group_chat_json, unix_now, user_json};

/// Telegram's answer to a `message_thread_id` that names no topic of the chat.
pub(crate) const THREAD_NOT_FOUND: &str = "message thread not found";

impl Shared {
    /// Registers `chat`: from now on the bot's messages to `chat.id` show it.
    pub fn add_chat(&self, chat: &TestChat) {
        self.lock().groups.insert(chat.id, chat.clone());
        self.notify_changed();
    }

    /// Creates a topic named `name` in the forum `chat` (registering the chat); returns its
    /// `message_thread_id`: the id of the topic's (unrecorded) service message.
    pub fn create_topic(&self, chat: &TestChat, name: &str) -> i32 {
        let id = {
            let mut state = self.lock();
            state.groups.insert(chat.id, chat.clone());
            let chat_state = state.chats.entry(chat.id).or_default();
            let id = chat_state.next_message_id();
            chat_state.topics.insert(id, name.to_owned());
            id
        };
        self.notify_changed();
        id
    }

    /// Queues a `my_chat_member` update: `from` changed the bot's status in `chat` from `old`
    /// to `new`. Registers the chat and remembers the new status (a bot that left or was
    /// kicked gets 403s there). Returns the update id.
    pub fn inject_my_chat_member(
        &self,
        chat: &TestChat,
        from: &TestUser,
        old: MemberStatus,
        new: MemberStatus,
    ) -> i64 {
        let bot = self.bot_user_json();
        self.inject(|state| {
            state.users.insert(from.id, from.clone());
            state.groups.insert(chat.id, chat.clone());
            state.membership.insert(chat.id, new);
            let update = json!({
                "chat": group_chat_json(chat),
                "from": user_json(from),
                "date": unix_now(),
                "old_chat_member": chat_member_json(&bot, old, chat),
                "new_chat_member": chat_member_json(&bot, new, chat),
            });
            state.queue(Some(chat.id), "my_chat_member", update)
        })
    }
}

impl State {
    /// The kind of the chat `chat_id`: as registered, else guessed from the id as Telegram
    /// numbers chats (`-100…` supergroups, other negative ids groups); `None` for a private
    /// chat.
    pub fn chat_kind(&self, chat_id: i64) -> Option<TestChatKind> {
        if let Some(chat) = self.groups.get(&chat_id) {
            return Some(chat.kind);
        }
        match chat_id {
            id if id < -1_000_000_000_000 => Some(TestChatKind::Supergroup),
            id if id < 0 => Some(TestChatKind::Group),
            _ => None,
        }
    }

    /// Whether `thread_id` is a topic of the forum `chat_id` (never, in a chat that is not a
    /// forum).
    pub fn has_topic(&self, chat_id: i64, thread_id: i32) -> bool {
        self.groups.get(&chat_id).is_some_and(|c| c.is_forum)
            && self
                .chats
                .get(&chat_id)
                .is_some_and(|c| c.topics.contains_key(&thread_id))
    }

    /// Telegram's answer to the bot acting in a chat it may not act in, by the last
    /// `my_chat_member` injected for it: 403 if it left or was kicked; for a send of
    /// `sending` (`"text messages"`, `"photos"`), 400 if it is restricted, or only a member
    /// of a channel (posting takes an administrator).
    pub fn membership_error(&self, chat_id: i64, sending: Option<&str>) -> Option<Reply> {
        let status = *self.membership.get(&chat_id)?;
        let kind = self.chat_kind(chat_id).unwrap_or(TestChatKind::Group);
        match (status, sending) {
            (MemberStatus::Kicked, _) => Some(Reply::error(
                403,
                format!("Forbidden: bot was kicked from the {} chat", kind.as_str()),
            )),
            (MemberStatus::Left, _) => Some(Reply::error(
                403,
                format!(
                    "Forbidden: bot is not a member of the {} chat",
                    kind.as_str()
                ),
            )),
            (MemberStatus::Restricted, Some(what)) => Some(Reply::bad_request(&format!(
                "not enough rights to send {what} to the chat"
            ))),
            (MemberStatus::Member, Some(_)) if kind == TestChatKind::Channel => Some(
                Reply::bad_request("need administrator rights in the channel chat"),
            ),
            _ => None,
        }
    }
}

/// The bot as a `ChatMember` of `chat` with `status`, with the fields teloxide requires of
/// each status.
fn chat_member_json(bot: &Value, status: MemberStatus, chat: &TestChat) -> Value {
    let mut member = json!({ "user": bot, "status": status.as_str() });
    let channel = chat.kind == TestChatKind::Channel;
    let fields = match status {
        MemberStatus::Left => json!({}),
        MemberStatus::Member => json!({}),
        MemberStatus::Kicked => json!({ "until_date": 0 }),
        MemberStatus::Administrator => json!({
            "can_be_edited": false,
            "is_anonymous": false,
            "can_manage_chat": true,
            "can_change_info": false,
            "can_delete_messages": true,
            "can_manage_video_chats": false,
            "can_invite_users": true,
            "can_restrict_members": !channel,
            "can_promote_members": false,
            "can_post_stories": false,
            "can_edit_stories": false,
            "can_delete_stories": false,
            "can_post_messages": channel,
            "can_edit_messages": channel,
            "can_pin_messages": !channel,
            "can_manage_topics": chat.is_forum,
        }),
        MemberStatus::Restricted => json!({
            "is_member": true,
            "until_date": 0,
            "can_send_messages": false,
            "can_send_audios": false,
            "can_send_documents": false,
            "can_send_photos": false,
            "can_send_videos": false,
            "can_send_video_notes": false,
            "can_send_voice_notes": false,
            "can_send_polls": false,
            "can_send_other_messages": false,
            "can_add_web_page_previews": false,
            "can_change_info": false,
            "can_invite_users": false,
            "can_pin_messages": false,
            "can_manage_topics": false,
        }),
    };
    if let (Value::Object(member), Value::Object(fields)) = (&mut member, fields) {
        member.extend(fields);
    }
    member
}
