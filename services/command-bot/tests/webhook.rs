//! Webhook mode end to end: Telegram (the double) posts updates with the secret token, the
//! bot answers them; a request without the secret, or with another, is refused.

mod common;

use herald_testkit::telegram::TestUser;

use common::{WAIT, start_webhook};

#[tokio::test(flavor = "multi_thread")]
async fn updates_arrive_by_webhook_with_the_secret() -> anyhow::Result<()> {
    let (bot, url) = start_webhook(Some("s3cret-Token_1")).await?;
    assert_eq!(bot.double.webhook_url().as_deref(), Some(url.as_str()));
    assert_eq!(
        bot.double.webhook_secret().as_deref(),
        Some("s3cret-Token_1")
    );
    assert!(!bot.double.is_polling());

    let kai = TestUser::trader(300);
    let answer = bot.say(&kai, "/subscribe").await?;
    assert!(answer.starts_with("✅ Subscribed!"), "{answer}");
    let menu = bot.say_full(&kai, "/settings").await?;
    let (notice, menu) = bot.press(&kai, &menu, "Buy: 🔔 on").await?;
    assert_eq!(notice.as_deref(), Some("Saved."));
    assert!(menu.text.contains("Buy 🔕 silent"), "{}", menu.text);

    // Without the secret, or with a wrong one: refused, and nothing is answered.
    let forged = serde_json::json!({
        "update_id": 999_999,
        "message": {
            "message_id": 1, "date": 0,
            "chat": {"id": 301, "type": "private", "first_name": "Mallory"},
            "from": {"id": 301, "is_bot": false, "first_name": "Mallory"},
            "text": "/subscribe",
            "entities": [{"type": "bot_command", "offset": 0, "length": 10}]
        }
    });
    let client = reqwest::Client::new();
    let bare = client.post(&url).json(&forged).send().await?;
    assert_eq!(bare.status(), 401);
    let wrong = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "guess")
        .json(&forged)
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(bot.double.sent_to(301).is_empty());
    assert!(bot.store.user_by_telegram_id(301).await?.is_none());
    let _ = WAIT;
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_configured_secret_one_is_derived_and_required() -> anyhow::Result<()> {
    let (bot, url) = start_webhook(None).await?;
    let secret = bot.double.webhook_secret().expect("a secret is always set");
    assert!(secret.len() >= 32, "{secret}");
    assert!(!secret.contains("command-bot-test"), "not the token");
    let answer = bot.say(&TestUser::trader(302), "/help").await?;
    assert!(answer.contains("/signals [count]"), "{answer}");
    let refused = reqwest::Client::new().post(&url).body("{}").send().await?;
    assert_eq!(refused.status(), 401);
    bot.stop().await
}
