//! The bot's own membership of groups, supergroups and channels, as Telegram tells it
//! (`my_chat_member`): added, promoted, restricted, removed. Each change is recorded
//! ([`Store::record_bot_chat`]), which stops the chat's destinations when the bot is out and
//! resumes them when it is back.
//!
//! A private chat's `my_chat_member` (a trader blocking the bot, or unblocking it) is left
//! alone here: the dispatcher learns of a block from the 403 of its next send, and `/start`
//! or any command welcomes a trader back.

use herald_store::{BotChat, Store};
use teloxide::types::{ChatKind, ChatMember, ChatMemberKind, ChatMemberUpdated, PublicChatKind};

use crate::handler::HandlerError;

/// Records a change of the bot's membership of a group or channel, and logs it. A failure
/// to record it is logged (Telegram will not send the update again).
pub(crate) async fn on_my_chat_member(
    store: Store,
    update: ChatMemberUpdated,
) -> Result<(), HandlerError> {
    let Some(chat) = bot_chat(&update) else {
        tracing::debug!(
            chat_id = update.chat.id.0,
            status = status(&update.new_chat_member),
            "the bot's membership of a private chat changed; nothing to record"
        );
        return Ok(());
    };
    match store.record_bot_chat(&chat).await {
        Ok(destinations) => tracing::info!(
            chat_id = chat.chat_id,
            kind = %chat.kind,
            is_forum = chat.is_forum,
            old_status = status(&update.old_chat_member),
            status = %chat.status,
            changed_by = ?chat.changed_by,
            destinations_changed = destinations,
            "the bot's membership of a chat changed"
        ),
        Err(e) => {
            crate::count_error(herald_runtime::telemetry::ErrorKind::Database);
            tracing::error!(
                chat_id = chat.chat_id,
                status = %chat.status,
                error = %e,
                "could not record the bot's membership of a chat"
            )
        }
    }
    Ok(())
}

/// What `update` says of a group, supergroup or channel, as the store records it; `None` for
/// a private chat.
pub(crate) fn bot_chat(update: &ChatMemberUpdated) -> Option<BotChat> {
    let chat = &update.chat;
    let (kind, is_forum) = match &chat.kind {
        ChatKind::Private(_) => return None,
        ChatKind::Public(public) => match &public.kind {
            PublicChatKind::Group => ("group", false),
            PublicChatKind::Supergroup(supergroup) => ("supergroup", supergroup.is_forum),
            PublicChatKind::Channel(_) => ("channel", false),
        },
    };
    Some(BotChat {
        chat_id: chat.id.0,
        kind: kind.to_string(),
        title: chat.title().map(str::to_string),
        is_forum,
        status: status(&update.new_chat_member).to_string(),
        changed_by: i64::try_from(update.from.id.0).ok(),
        updated_at: update.date,
    })
}

/// Telegram's word for a member's status (`creator`, `administrator`, `member`,
/// `restricted`, `left`, `kicked`). A restricted member who is no longer in the chat
/// (`is_member: false`) is `left`: the bot cannot post there.
fn status(member: &ChatMember) -> &'static str {
    match &member.kind {
        ChatMemberKind::Owner(_) => "creator",
        ChatMemberKind::Administrator(_) => "administrator",
        ChatMemberKind::Member(_) => "member",
        ChatMemberKind::Restricted(r) if !r.is_member => "left",
        ChatMemberKind::Restricted(_) => "restricted",
        ChatMemberKind::Left => "left",
        ChatMemberKind::Banned(_) => "kicked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn update(chat: Value, new_member: Value) -> ChatMemberUpdated {
        let bot = json!({ "id": 6666, "is_bot": true, "first_name": "Herald" });
        let mut new = json!({ "user": bot });
        new.as_object_mut()
            .unwrap()
            .extend(new_member.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "chat": chat,
            "from": { "id": 42, "is_bot": false, "first_name": "Ops" },
            "date": 1_764_500_000,
            "old_chat_member": { "user": bot, "status": "left" },
            "new_chat_member": new,
        }))
        .unwrap()
    }

    #[test]
    fn groups_forums_and_channels_are_recorded_with_who_did_it() {
        let forum = json!({ "id": -1001, "type": "supergroup", "title": "Desk", "is_forum": true });
        let chat = bot_chat(&update(forum, json!({ "status": "member" }))).unwrap();
        assert_eq!(
            (chat.chat_id, chat.kind.as_str(), chat.is_forum),
            (-1001, "supergroup", true)
        );
        assert_eq!(chat.title.as_deref(), Some("Desk"));
        assert_eq!(chat.status, "member");
        assert_eq!(chat.changed_by, Some(42));
        assert_eq!(chat.updated_at.timestamp(), 1_764_500_000);

        let channel = json!({ "id": -1002, "type": "channel", "title": "Calls" });
        let kicked = json!({ "status": "kicked", "until_date": 0 });
        let chat = bot_chat(&update(channel, kicked)).unwrap();
        assert_eq!(
            (chat.kind.as_str(), chat.status.as_str()),
            ("channel", "kicked")
        );
        assert!(!chat.bot_is_in());

        let group = json!({ "id": -5, "type": "group", "title": "Friends" });
        let chat = bot_chat(&update(group, json!({ "status": "left" }))).unwrap();
        assert_eq!(
            (chat.kind.as_str(), chat.status.as_str()),
            ("group", "left")
        );
    }

    #[test]
    fn a_restricted_bot_out_of_the_chat_is_left() {
        let group = json!({ "id": -6, "type": "supergroup", "title": "Quiet" });
        let restricted = |is_member: bool| {
            json!({
                "status": "restricted", "is_member": is_member, "until_date": 0,
                "can_send_messages": false, "can_send_audios": false,
                "can_send_documents": false, "can_send_photos": false,
                "can_send_videos": false, "can_send_video_notes": false,
                "can_send_voice_notes": false, "can_send_polls": false,
                "can_send_other_messages": false, "can_add_web_page_previews": false,
                "can_change_info": false, "can_invite_users": false,
                "can_pin_messages": false, "can_manage_topics": false,
            })
        };
        let inside = bot_chat(&update(group.clone(), restricted(true))).unwrap();
        assert_eq!(inside.status, "restricted");
        let outside = bot_chat(&update(group, restricted(false))).unwrap();
        assert_eq!(outside.status, "left");
    }

    #[test]
    fn private_chats_are_not_recorded() {
        let private = json!({ "id": 42, "type": "private", "first_name": "Ops" });
        let blocked = json!({ "status": "kicked", "until_date": 0 });
        assert_eq!(bot_chat(&update(private, blocked)), None);
    }
}
