//! The command-bot through the real teloxide loop, against the Telegram double and a real
//! database (SQLite, or PostgreSQL with `HERALD_TEST_POSTGRES`-style isolation by schema as
//! the testkit chooses).

#![allow(dead_code)]

use std::time::Duration;

use herald_runtime::Settings;
use herald_store::Store;
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{SentMessage, TelegramDouble, TestUser};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "6666:command-bot-test";
pub const WAIT: Duration = Duration::from_secs(15);

/// A running command-bot.
pub struct Bot {
    pub double: TelegramDouble,
    pub db: TestDatabase,
    pub nats: TestNats,
    pub store: Store,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts the bot on SQLite with the default settings.
pub async fn start() -> anyhow::Result<Bot> {
    start_with(|_| {}).await
}

/// Starts the bot with settings changed by `tune`.
pub async fn start_with(tune: impl FnOnce(&mut Settings)) -> anyhow::Result<Bot> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    start_on(TestDatabase::sqlite().await?, listener, tune).await
}

/// Starts the bot in webhook mode, on `/telegram/updates` of its own address, with
/// `secret` (or the one derived from the token).
pub async fn start_webhook(secret: Option<&str>) -> anyhow::Result<(Bot, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/telegram/updates", listener.local_addr()?);
    let hook = url.clone();
    let secret = secret.map(SecretString::from);
    let bot = start_on(TestDatabase::sqlite().await?, listener, move |s| {
        s.command_bot_webhook_url = Some(hook);
        s.command_bot_webhook_secret = secret;
    })
    .await?;
    Ok((bot, url))
}

/// Starts the bot on `db`, serving on `listener`.
pub async fn start_on(
    db: TestDatabase,
    listener: tokio::net::TcpListener,
    tune: impl FnOnce(&mut Settings),
) -> anyhow::Result<Bot> {
    let nats = TestNats::new();
    let double = TelegramDouble::start(TOKEN).await?;
    let mut settings = Settings {
        database_url: db.url().to_string(),
        nats_url: nats.url.clone(),
        nats_prefix: nats.prefix.clone(),
        telegram_token: Some(SecretString::from(TOKEN)),
        telegram_api_url: double.api_url(),
        ..Settings::default()
    };
    tune(&mut settings);
    let webhook = settings.command_bot_webhook_url.is_some();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(herald_command_bot::run(
        settings,
        listener,
        shutdown.clone(),
    ));
    if webhook {
        double
            .wait_until(|d| d.webhook_url().is_some(), WAIT)
            .await?;
    } else {
        double.wait_until(|d| d.is_polling(), WAIT).await?;
    }
    let store = Store::connect(db.url()).await?;
    Ok(Bot {
        double,
        db,
        nats,
        store,
        shutdown,
        task,
    })
}

impl Bot {
    /// Sends `text` as `user` and returns the bot's answer.
    pub async fn say(&self, user: &TestUser, text: &str) -> anyhow::Result<String> {
        Ok(self.say_full(user, text).await?.text)
    }

    /// Sends `text` as `user` and returns the bot's answer as sent (with its buttons).
    pub async fn say_full(&self, user: &TestUser, text: &str) -> anyhow::Result<SentMessage> {
        let before = self.double.sent_to(user.id).len();
        self.double.inject_message(user, text);
        let sent = self
            .double
            .wait_for_messages(user.id, before + 1, WAIT)
            .await?;
        Ok(sent[before].clone())
    }

    /// Presses the button labelled `label` on `message` as `user`, which redraws the
    /// message; the notice the bot answered with, and the message once redrawn.
    pub async fn press(
        &self,
        user: &TestUser,
        message: &SentMessage,
        label: &str,
    ) -> anyhow::Result<(Option<String>, SentMessage)> {
        let edits = self.edits_of(message);
        let press = self.press_label(user, message, label)?;
        let notice = self.answer_to(&press.query_id).await?;
        self.double
            .wait_until(
                |d| {
                    d.message(message.chat_id, message.message_id)
                        .is_some_and(|m| m.edits > edits)
                },
                WAIT,
            )
            .await?;
        Ok((notice, self.current(message)))
    }

    /// Presses the button labelled `label` on `message` as `user`, which does not redraw the
    /// message; the notice the bot answered with.
    pub async fn tap(
        &self,
        user: &TestUser,
        message: &SentMessage,
        label: &str,
    ) -> anyhow::Result<Option<String>> {
        let press = self.press_label(user, message, label)?;
        self.answer_to(&press.query_id).await
    }

    /// Presses raw callback `data` on `message` as `user` (forged or old buttons), which
    /// does not redraw it; the notice the bot answered with, and the message as it stands.
    pub async fn press_data(
        &self,
        user: &TestUser,
        message: &SentMessage,
        data: &str,
    ) -> anyhow::Result<(Option<String>, SentMessage)> {
        let press = self
            .double
            .press(user, message.chat_id, message.message_id, data);
        let notice = self.answer_to(&press.query_id).await?;
        Ok((notice, self.current(message)))
    }

    fn press_label(
        &self,
        user: &TestUser,
        message: &SentMessage,
        label: &str,
    ) -> anyhow::Result<herald_testkit::telegram::Press> {
        self.double
            .press_button(user, message, label)
            .ok_or_else(|| anyhow::anyhow!("no button {label:?} on {:?}", message.inline_buttons()))
    }

    fn edits_of(&self, message: &SentMessage) -> u32 {
        self.current(message).edits
    }

    fn current(&self, message: &SentMessage) -> SentMessage {
        self.double
            .message(message.chat_id, message.message_id)
            .unwrap_or_else(|| message.clone())
    }

    async fn answer_to(&self, query_id: &str) -> anyhow::Result<Option<String>> {
        let answer = self
            .double
            .wait_for_callback_answer(query_id, WAIT)
            .await
            .ok_or_else(|| anyhow::anyhow!("the press was never answered"))?;
        Ok(answer.text)
    }

    /// Stops the bot and removes what the test made.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await???;
        self.store.close().await?;
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}
