//! The bot added to and removed from groups and channels (`my_chat_member`), by polling and
//! by webhook: each change is recorded with who made it, and the chat's destinations stop
//! while the bot is out and resume when it is back. (Private chats' updates, which the
//! double cannot send, are left alone: see the unit tests of `membership.rs`.)

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_domain::{Language, SignalFormat, SignalKind};
use herald_store::{BOT_REMOVED, BotChat, Destination, NewDestination, Store};
use herald_testkit::telegram::{MemberStatus, TestChat, TestUser};

use common::{WAIT, start, start_webhook};

/// Waits until the store's record of `chat_id` has `status`; returns it.
async fn recorded(store: &Store, chat_id: i64, status: &str) -> anyhow::Result<BotChat> {
    let deadline = Instant::now() + WAIT;
    loop {
        let chats = store.bot_chats().await?;
        if let Some(chat) = chats
            .iter()
            .find(|c| c.chat_id == chat_id && c.status == status)
        {
            return Ok(chat.clone());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "chat {chat_id} never recorded as {status}: {chats:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Registers a destination in `chat_id`.
async fn destination(store: &Store, chat_id: i64) -> anyhow::Result<Destination> {
    let new = NewDestination {
        chat_id,
        thread_id: None,
        name: "desk".into(),
        kinds: [SignalKind::Buy, SignalKind::Sell].into(),
        assets: Default::default(),
        min_confidence: 0,
        format: SignalFormat::Compact,
        language: Language::En,
        created_by: "cli".into(),
    };
    Ok(store.add_destination(&new, Utc::now()).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_the_bot_leaves_and_rejoins_stops_and_resumes() -> anyhow::Result<()> {
    let bot = start().await?;
    let ops = TestUser::new(500, "Ops");
    let channel = TestChat::channel(-100_500, "Herald Calls");
    let id = destination(&bot.store, channel.id).await?.id;

    bot.double.inject_my_chat_member(
        &channel,
        &ops,
        MemberStatus::Left,
        MemberStatus::Administrator,
    );
    let added = recorded(&bot.store, channel.id, "administrator").await?;
    assert_eq!(added.kind, "channel");
    assert_eq!(added.title.as_deref(), Some("Herald Calls"));
    assert!(!added.is_forum);
    assert_eq!(added.changed_by, Some(500));
    assert!(
        bot.store
            .destination(id)
            .await?
            .expect("destination")
            .active
    );

    bot.double.inject_my_chat_member(
        &channel,
        &ops,
        MemberStatus::Administrator,
        MemberStatus::Kicked,
    );
    recorded(&bot.store, channel.id, "kicked").await?;
    let stopped = bot.store.destination(id).await?.expect("destination");
    assert!(!stopped.active);
    assert_eq!(stopped.inactive_reason.as_deref(), Some(BOT_REMOVED));

    bot.double.inject_my_chat_member(
        &channel,
        &ops,
        MemberStatus::Kicked,
        MemberStatus::Administrator,
    );
    recorded(&bot.store, channel.id, "administrator").await?;
    let resumed = bot.store.destination(id).await?.expect("destination");
    assert!(resumed.active);
    assert_eq!(resumed.inactive_reason, None);
    assert_eq!(bot.store.bot_chats().await?.len(), 1, "one record per chat");
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_and_forums_are_recorded_quietly() -> anyhow::Result<()> {
    let bot = start().await?;
    let kim = TestUser::new(510, "Kim");
    let group = TestChat::group(-510, "Friends");
    let forum = TestChat::forum(-100_510, "Trading desk");
    let id = destination(&bot.store, group.id).await?.id;

    bot.double
        .inject_my_chat_member(&forum, &kim, MemberStatus::Left, MemberStatus::Member);
    bot.double
        .inject_my_chat_member(&group, &kim, MemberStatus::Left, MemberStatus::Member);
    let joined = recorded(&bot.store, forum.id, "member").await?;
    assert_eq!(
        (joined.kind.as_str(), joined.is_forum),
        ("supergroup", true)
    );
    let joined = recorded(&bot.store, group.id, "member").await?;
    assert_eq!(joined.kind, "group");

    bot.double
        .inject_my_chat_member(&group, &kim, MemberStatus::Member, MemberStatus::Left);
    let left = recorded(&bot.store, group.id, "left").await?;
    assert_eq!(left.changed_by, Some(510));
    assert!(
        !bot.store
            .destination(id)
            .await?
            .expect("destination")
            .active
    );
    assert_eq!(bot.store.bot_chats().await?.len(), 2);

    // Nothing was said in either chat, and traders are answered as before.
    assert!(bot.double.sent_to(group.id).is_empty());
    assert!(bot.double.sent_to(forum.id).is_empty());
    let lee = TestUser::trader(511);
    assert!(bot.say(&lee, "/help").await?.contains("/performance"));
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn membership_changes_arrive_by_webhook_too() -> anyhow::Result<()> {
    let (bot, _) = start_webhook(None).await?;
    let ops = TestUser::new(520, "Ops");
    let group = TestChat::supergroup(-100_520, "Signals room");
    let id = destination(&bot.store, group.id).await?.id;
    bot.double
        .inject_my_chat_member(&group, &ops, MemberStatus::Member, MemberStatus::Kicked);
    recorded(&bot.store, group.id, "kicked").await?;
    assert!(
        !bot.store
            .destination(id)
            .await?
            .expect("destination")
            .active
    );
    bot.stop().await
}
