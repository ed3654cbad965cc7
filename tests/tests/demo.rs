//! The README's first command: `herald demo` (what `scripts/demo` runs) shows a trader
//! onboarding, subscribing, receiving a signal and marking it read, and exits cleanly.

use herald_tests::bin_dir;

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_a_signal_reaching_a_trader() -> anyhow::Result<()> {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(bin_dir().join("herald"))
            .arg("demo")
            .env_remove("HERALD_CONFIG")
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8(out.stdout)?;
    let stderr = String::from_utf8(out.stderr)?;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for part in [
        "👋 Welcome to Herald, Ada! You are registered.",
        "[trader taps] London",
        "🕒 Time zone set to Europe/London",
        "✅ Subscribed!",
        "202 Accepted",
        "🚨 TRADING SIGNAL: BUY BTC/USD 🚨",
        "[ ✅ Got it ]",
        "Marked as read.",
        "The signal reached the trader.",
    ] {
        assert!(stdout.contains(part), "{part:?} missing from:\n{stdout}");
    }
    Ok(())
}
