//! The command-bot through the real teloxide polling loop, against the Telegram double and a
//! real database: what traders type, what they read back, and what the store records.

use std::time::Duration;

use chrono::Utc;
use herald_runtime::Settings;
use herald_store::Store;
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{Fault, TelegramDouble, TestUser};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "6666:command-bot-test";
const WAIT: Duration = Duration::from_secs(15);

struct Bot {
    double: TelegramDouble,
    db: TestDatabase,
    nats: TestNats,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start() -> anyhow::Result<Bot> {
    let db = TestDatabase::sqlite().await?;
    let nats = TestNats::new();
    let double = TelegramDouble::start(TOKEN).await?;
    let settings = Settings {
        database_url: db.url().to_string(),
        nats_url: nats.url.clone(),
        nats_prefix: nats.prefix.clone(),
        telegram_token: Some(SecretString::from(TOKEN)),
        telegram_api_url: double.api_url(),
        ..Settings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(herald_command_bot::run(
        settings,
        listener,
        shutdown.clone(),
    ));
    double.wait_until(|d| d.is_polling(), WAIT).await?;
    Ok(Bot {
        double,
        db,
        nats,
        shutdown,
        task,
    })
}

impl Bot {
    /// Sends `text` as `user` and returns the bot's answer.
    async fn say(&self, user: &TestUser, text: &str) -> anyhow::Result<String> {
        let before = self.double.sent_to(user.id).len();
        self.double.inject_message(user, text);
        let sent = self
            .double
            .wait_for_messages(user.id, before + 1, WAIT)
            .await?;
        Ok(sent[before].text.clone())
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await???;
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_registered_with_telegram_at_start() -> anyhow::Result<()> {
    let bot = start().await?;
    let names: Vec<String> = bot.double.commands().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["start", "help", "subscribe", "unsubscribe"]);
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn start_registers_subscribe_and_unsubscribe_switch_signals() -> anyhow::Result<()> {
    let bot = start().await?;
    let ada = TestUser::new(77, "Ada")
        .with_username("ada")
        .with_last_name("Lovelace");
    let store = Store::connect(bot.db.url()).await?;

    let welcome = bot.say(&ada, "/start").await?;
    assert!(
        welcome.starts_with("👋 Welcome to Herald, Ada! You are registered."),
        "{welcome}"
    );
    assert!(welcome.contains("/subscribe"), "{welcome}");
    let user = store.user_by_telegram_id(77).await?.expect("registered");
    assert_eq!(user.username.as_deref(), Some("ada"));
    assert_eq!(user.first_name.as_deref(), Some("Ada"));
    assert_eq!(user.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(user.chat_id, 77);
    assert!(!store.is_subscribed(user.id, Utc::now()).await?);

    let answer = bot.say(&ada, "/subscribe").await?;
    assert!(answer.starts_with("✅ Subscribed!"), "{answer}");
    assert!(store.is_subscribed(user.id, Utc::now()).await?);
    let answer = bot.say(&ada, "/subscribe").await?;
    assert!(
        answer.starts_with("You are already subscribed."),
        "{answer}"
    );

    let again = bot.say(&ada, "/start").await?;
    assert!(again.starts_with("👋 Welcome back, Ada!"), "{again}");
    assert!(again.contains("You are subscribed"), "{again}");

    let answer = bot.say(&ada, "/unsubscribe").await?;
    assert!(answer.starts_with("🔕 Unsubscribed."), "{answer}");
    assert!(!store.is_subscribed(user.id, Utc::now()).await?);
    let answer = bot.say(&ada, "/unsubscribe").await?;
    assert!(answer.starts_with("You are not subscribed."), "{answer}");
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_returning_trader_who_blocked_the_bot_is_active_again() -> anyhow::Result<()> {
    let bot = start().await?;
    let bo = TestUser::trader(78);
    let store = Store::connect(bot.db.url()).await?;
    bot.say(&bo, "/start").await?;
    let user = store.user_by_telegram_id(78).await?.expect("registered");
    store.deactivate_user(user.id).await?;
    bot.say(&bo, "/start").await?;
    assert!(
        store
            .user_by_telegram_id(78)
            .await?
            .expect("user")
            .is_active
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn help_and_unknown_input_get_useful_answers() -> anyhow::Result<()> {
    let bot = start().await?;
    let cy = TestUser::new(79, "<Cy & co>");
    let help = bot.say(&cy, "/help").await?;
    for command in ["/start", "/subscribe", "/unsubscribe", "/help"] {
        assert!(help.contains(command), "{help}");
    }
    let unknown = bot.say(&cy, "/moon now").await?;
    assert_eq!(
        unknown,
        "I don't know the command /moon. /help lists what I can do."
    );
    let text = bot.say(&cy, "hello?").await?;
    assert!(text.starts_with("I answer commands only."), "{text}");
    // A hostile name is shown as typed, not as markup.
    let welcome = bot.say(&cy, "/start").await?;
    assert!(
        welcome.contains("Welcome to Herald, <Cy & co>!"),
        "{welcome}"
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_refused_with_429_is_sent_again_after_the_wait() -> anyhow::Result<()> {
    let bot = start().await?;
    let trader = TestUser::trader(4290);
    bot.double
        .script_faults(trader.id, [Fault::TooManyRequests { retry_after: 1 }]);
    let started = std::time::Instant::now();
    let answer = bot.say(&trader, "/help").await?;
    assert!(answer.contains("/subscribe"), "{answer}");
    assert_eq!(
        bot.double.attempts_to(trader.id),
        2,
        "refused once, then sent"
    );
    let accepted = bot.double.accepted_at();
    let (_, at) = accepted
        .iter()
        .find(|(chat, _)| *chat == trader.id)
        .unwrap();
    assert!(
        at.duration_since(started) >= Duration::from_secs(1),
        "sent again only after Telegram's retry_after"
    );
    bot.stop().await
}
