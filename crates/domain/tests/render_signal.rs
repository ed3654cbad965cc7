//! `render`: the spec example byte for byte, every kind in both formats, escaping, and the
//! message length guarantee.

use chrono::{DateTime, Utc};
use herald_domain::render::visible_len;
use herald_domain::{
    Asset, Confidence, MAX_MESSAGE_CHARS, Price, Signal, SignalFormat, SignalKind, parse_signal,
    render,
};
use serde_json::{Value, json};

/// Product spec §3.1, copied byte for byte (the stopwatch is U+23F1 U+FE0F).
const SPEC_EXAMPLE: &str = "🚨 TRADING SIGNAL: BUY BTC/USD 🚨

📊 Signal Details:
- Direction: BUY
- Asset: BTC/USD
- Entry Price: $45,250
- Target Price: $46,500 (+2.76%)
- Stop Loss: $44,500 (-1.66%)
- Timeframe: 1H

📈 Signal Confidence: 85%
⏱️ Signal Generated: 2023-06-15 14:30:45 UTC

📝 Notes:
- Strong bullish momentum detected
- Breaking above key resistance level
- Increasing volume supporting the move

#BTC #Trading #Signal";

fn now() -> DateTime<Utc> {
    "2023-06-15T16:00:00Z".parse().unwrap()
}

fn signal(v: Value) -> Signal {
    parse_signal(v.to_string().as_bytes(), now()).unwrap_or_else(|e| panic!("{e}"))
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.into(), value);
    v
}

fn spec_buy() -> Value {
    json!({
        "kind": "buy",
        "asset": "BTC/USD",
        "entry_price": "45250",
        "target_price": "46500",
        "stop_loss": "44500",
        "timeframe": "1H",
        "confidence": 85,
        "generated_at": "2023-06-15T14:30:45Z",
        "notes": [
            "Strong bullish momentum detected",
            "Breaking above key resistance level",
            "Increasing volume supporting the move"
        ]
    })
}

fn sell() -> Value {
    json!({
        "kind": "sell",
        "asset": "ETH/USDT",
        "entry_price": 45250,
        "target_price": "44000",
        "stop_loss": "46000",
        "timeframe": "4H",
        "confidence": 72,
        "generated_at": "2023-06-15T14:30:45Z",
        "notes": ["Bearish divergence on RSI"]
    })
}

fn close() -> Value {
    json!({
        "kind": "close",
        "asset": "BTC/USD",
        "entry_price": "46100",
        "closes_signal_id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90",
        "timeframe": "1H",
        "confidence": 90,
        "generated_at": "2023-06-15T15:10:00Z",
        "notes": ["Target nearly reached; locking in profit"]
    })
}

fn alert() -> Value {
    json!({
        "kind": "alert",
        "asset": "BTC/USD",
        "timeframe": "4H",
        "confidence": 70,
        "generated_at": "2023-06-15T12:00:00Z",
        "market_context": "US CPI release at 12:30 UTC.\nExpect high volatility.",
        "notes": ["Consider reducing position sizes"]
    })
}

fn detailed(v: Value) -> String {
    render(&signal(v), SignalFormat::Detailed)
}

fn compact(v: Value) -> String {
    render(&signal(v), SignalFormat::Compact)
}

// ---- every kind, both formats ---------------------------------------------------------------

#[test]
fn detailed_buy_is_the_spec_example_byte_for_byte() {
    assert_eq!(detailed(spec_buy()), SPEC_EXAMPLE);
    assert!(SPEC_EXAMPLE.contains("\u{23F1}\u{FE0F} Signal Generated"));
    // No markup, no entities: the visible text is the text.
    assert_eq!(
        visible_len(SPEC_EXAMPLE),
        SPEC_EXAMPLE.encode_utf16().count()
    );
}

#[test]
fn compact_buy() {
    assert_eq!(
        compact(spec_buy()),
        "🟢 BUY BTC/USD @ $45,250 · 🎯 $46,500 (+2.76%) · 🛑 $44,500 (-1.66%) · 1H · 85%"
    );
}

#[test]
fn detailed_sell_mirrors_the_buy_with_signs_flipped() {
    let expected = "🚨 TRADING SIGNAL: SELL ETH/USDT 🚨

📊 Signal Details:
- Direction: SELL
- Asset: ETH/USDT
- Entry Price: $45,250
- Target Price: $44,000 (-2.76%)
- Stop Loss: $46,000 (+1.66%)
- Timeframe: 4H

📈 Signal Confidence: 72%
⏱️ Signal Generated: 2023-06-15 14:30:45 UTC

📝 Notes:
- Bearish divergence on RSI

#ETH #Trading #Signal";
    assert_eq!(detailed(sell()), expected);
}

#[test]
fn compact_sell() {
    assert_eq!(
        compact(sell()),
        "🔴 SELL ETH/USDT @ $45,250 · 🎯 $44,000 (-2.76%) · 🛑 $46,000 (+1.66%) · 4H · 72%"
    );
}

#[test]
fn detailed_close_with_everything() {
    let expected = "🔒 CLOSE SIGNAL: BTC/USD

📊 Signal Details:
- Action: Close position
- Asset: BTC/USD
- Exit Price: $46,100
- Closes Signal: 0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90
- Timeframe: 1H

📈 Signal Confidence: 90%
⏱️ Signal Generated: 2023-06-15 15:10:00 UTC

📝 Notes:
- Target nearly reached; locking in profit

#BTC #Trading #Close";
    assert_eq!(detailed(close()), expected);
    assert_eq!(compact(close()), "🔒 CLOSE BTC/USD @ $46,100 · 1H · 90%");
}

#[test]
fn a_bare_close_leaves_out_what_it_lacks() {
    let bare = json!({
        "kind": "close", "asset": "SOL", "confidence": 60,
        "generated_at": "2023-06-15T15:10:00Z"
    });
    let expected = "🔒 CLOSE SIGNAL: SOL

📊 Signal Details:
- Action: Close position
- Asset: SOL

📈 Signal Confidence: 60%
⏱️ Signal Generated: 2023-06-15 15:10:00 UTC

#SOL #Trading #Close";
    assert_eq!(detailed(bare.clone()), expected);
    assert_eq!(compact(bare), "🔒 CLOSE SOL · 60%");
}

#[test]
fn detailed_alert_puts_the_market_context_first() {
    let expected = "⚠️ MARKET ALERT: BTC/USD

🌍 Market Context:
US CPI release at 12:30 UTC.
Expect high volatility.

📊 Alert Details:
- Asset: BTC/USD
- Timeframe: 4H

📈 Signal Confidence: 70%
⏱️ Signal Generated: 2023-06-15 12:00:00 UTC

📝 Notes:
- Consider reducing position sizes

#BTC #Trading #Alert";
    assert_eq!(detailed(alert()), expected);
    assert!(expected.starts_with("\u{26A0}\u{FE0F} MARKET ALERT"));
}

#[test]
fn compact_alert_adds_its_context_on_one_line() {
    assert_eq!(
        compact(alert()),
        "⚠️ ALERT BTC/USD · 4H · 70%\nUS CPI release at 12:30 UTC. Expect high volatility."
    );
    let bare = json!({
        "kind": "alert", "asset": "BTC/USD", "confidence": 70,
        "generated_at": "2023-06-15T12:00:00Z"
    });
    assert_eq!(compact(bare.clone()), "⚠️ ALERT BTC/USD · 70%");
    let expected = "⚠️ MARKET ALERT: BTC/USD

📊 Alert Details:
- Asset: BTC/USD

📈 Signal Confidence: 70%
⏱️ Signal Generated: 2023-06-15 12:00:00 UTC

#BTC #Trading #Alert";
    assert_eq!(detailed(bare), expected);
    let long = with(alert(), "market_context", json!("word ".repeat(100)));
    let line = compact(long);
    let second = line.split('\n').nth(1).unwrap();
    assert_eq!(second.chars().count(), 200);
    assert!(second.ends_with(" word word…"), "{second}");
}

#[test]
fn metadata_lines_follow_the_confidence_and_context_gets_a_section() {
    let v = with(
        with(
            with(spec_buy(), "source_model", json!("momentum-v3")),
            "performance_category",
            json!("A"),
        ),
        "market_context",
        json!("Risk-on session.\nETF inflows strong."),
    );
    let expected = "🚨 TRADING SIGNAL: BUY BTC/USD 🚨

📊 Signal Details:
- Direction: BUY
- Asset: BTC/USD
- Entry Price: $45,250
- Target Price: $46,500 (+2.76%)
- Stop Loss: $44,500 (-1.66%)
- Timeframe: 1H

📈 Signal Confidence: 85%
🤖 Model: momentum-v3
🏅 Performance: A
⏱️ Signal Generated: 2023-06-15 14:30:45 UTC

🌍 Market Context:
Risk-on session.
ETF inflows strong.

📝 Notes:
- Strong bullish momentum detected
- Breaking above key resistance level
- Increasing volume supporting the move

#BTC #Trading #Signal";
    assert_eq!(detailed(v.clone()), expected);
    // Compact stays one line for a buy.
    assert_eq!(compact(v), compact(spec_buy()));
    // No notes, no notes section.
    let quiet = detailed(with(spec_buy(), "notes", json!([])));
    assert!(!quiet.contains("Notes"));
    assert!(quiet.ends_with("UTC\n\n#BTC #Trading #Signal"), "{quiet}");
}

#[test]
fn prices_keep_their_own_decimals() {
    let v = json!({
        "kind": "buy", "asset": "PEPE/USD",
        "entry_price": "0.00001234", "target_price": 0.0000125, "stop_loss": "0.0000120",
        "timeframe": "15m", "confidence": 55, "generated_at": "2023-06-15T14:30:45Z"
    });
    let text = detailed(v.clone());
    assert!(text.contains("- Entry Price: $0.00001234\n"), "{text}");
    assert!(
        text.contains("- Target Price: $0.0000125 (+1.30%)\n"),
        "{text}"
    );
    assert!(text.contains("- Stop Loss: $0.000012 (-2.76%)\n"), "{text}");
    assert_eq!(
        compact(v),
        "🟢 BUY PEPE/USD @ $0.00001234 · 🎯 $0.0000125 (+1.30%) · 🛑 $0.000012 (-2.76%) · 15m · 55%"
    );
    let v = with(
        with(spec_buy(), "entry_price", json!(45250.5)),
        "target_price",
        json!("1234567.891"),
    );
    let text = detailed(v);
    assert!(text.contains("- Entry Price: $45,250.5\n"), "{text}");
    assert!(
        text.contains("- Target Price: $1,234,567.891 (+2628.30%)\n"),
        "{text}"
    );
}

// ---- escaping -------------------------------------------------------------------------------

#[test]
fn user_text_is_escaped_in_both_formats() {
    let v = json!({
        "kind": "alert", "asset": "BTC/USD", "confidence": 70,
        "generated_at": "2023-06-15T12:00:00Z",
        "source_model": "<b>model</b>",
        "performance_category": "A&B \"top\"",
        "market_context": "</code><a href=\"x\">click</a> & more",
        "notes": ["1 < 2 && 3 > 2", "🚀 مرحبا שלום <i>x</i>"]
    });
    let text = detailed(v.clone());
    assert!(
        text.contains("🤖 Model: &lt;b&gt;model&lt;/b&gt;\n"),
        "{text}"
    );
    assert!(
        text.contains("🏅 Performance: A&amp;B &quot;top&quot;\n"),
        "{text}"
    );
    assert!(
        text.contains("&lt;/code&gt;&lt;a href=&quot;x&quot;&gt;click&lt;/a&gt; &amp; more"),
        "{text}"
    );
    assert!(text.contains("- 1 &lt; 2 &amp;&amp; 3 &gt; 2\n"), "{text}");
    assert!(
        text.contains("- 🚀 مرحبا שלום &lt;i&gt;x&lt;/i&gt;\n"),
        "{text}"
    );
    // The renderer writes no markup of its own, so no '<' or '>' survives at all.
    assert!(!text.contains(['<', '>']), "{text}");
    let line = compact(v);
    assert!(!line.contains(['<', '>']), "{line}");
    assert!(
        line.ends_with("\n&lt;/code&gt;&lt;a href=&quot;x&quot;&gt;click&lt;/a&gt; &amp; more"),
        "{line}"
    );
}

// ---- length ---------------------------------------------------------------------------------

/// A signal at every parser limit, its text made of `unit` (a short string mixing multi-byte
/// characters with characters that need escaping).
fn maximal(unit: &str) -> Signal {
    let fill = |n: usize| unit.chars().cycle().take(n).collect::<String>();
    signal(json!({
        "kind": "buy", "asset": "ABCDEFGHIJKLMNOP/QRSTUVWXYZ012345",
        "entry_price": "79228162514264337593543950.3", "target_price": "79228162514264337593543950.335",
        "stop_loss": "0.0000000000000000000000000001",
        "timeframe": "12H", "confidence": 100, "generated_at": "2023-06-15T14:30:45.999Z",
        "source_model": fill(64), "performance_category": fill(64),
        "market_context": fill(500),
        "notes": (0..10).map(|_| fill(280)).collect::<Vec<_>>(),
    }))
}

#[test]
fn a_maximal_signal_of_bmp_text_fits_with_every_note() {
    let s = maximal("é&<>ü\"ß");
    for format in [SignalFormat::Detailed, SignalFormat::Compact] {
        let text = render(&s, format);
        assert!(
            visible_len(&text) <= MAX_MESSAGE_CHARS,
            "{}",
            visible_len(&text)
        );
    }
    let text = render(&s, SignalFormat::Detailed);
    assert_eq!(
        text.matches("\n- ").count(),
        6 + 10,
        "every detail and every note"
    );
    assert!(!text.contains("more note"));
    // Escaping makes the HTML far longer than what Telegram counts.
    assert!(text.chars().count() > MAX_MESSAGE_CHARS);
}

#[test]
fn a_maximal_signal_of_astral_text_drops_trailing_notes_to_fit() {
    // Each emoji is two UTF-16 units, so ten 280-emoji notes alone are 5,600 units.
    let s = maximal("😀&🚀<");
    let text = render(&s, SignalFormat::Detailed);
    let len = visible_len(&text);
    assert!(len <= MAX_MESSAGE_CHARS, "{len}");
    assert!(
        len > MAX_MESSAGE_CHARS - 500,
        "no more was dropped than needed: {len}"
    );
    let more = text
        .lines()
        .find(|l| l.starts_with("- … ("))
        .expect("a count of hidden notes");
    let shown = text.lines().filter(|l| l.starts_with("- 😀")).count();
    assert_eq!(more, format!("- … ({} more notes)", 10 - shown));
    assert!(
        text.ends_with("notes)\n\n#ABCDEFGHIJKLMNOP #Trading #Signal"),
        "{text}"
    );
    assert!(visible_len(&render(&s, SignalFormat::Compact)) <= MAX_MESSAGE_CHARS);
}

#[test]
fn even_a_hand_built_oversized_signal_stays_within_the_limit() {
    let mut s = signal(spec_buy());
    s.kind = SignalKind::Alert;
    s.source_model = Some("<".repeat(10_000));
    s.performance_category = Some("😀".repeat(10_000));
    s.market_context = Some("&\n".repeat(50_000));
    s.notes = (0..1000).map(|_| "👍🏽".repeat(3000)).collect();
    s.confidence = Confidence::new(1).unwrap();
    for format in [SignalFormat::Detailed, SignalFormat::Compact] {
        let text = render(&s, format);
        assert!(
            visible_len(&text) <= MAX_MESSAGE_CHARS,
            "{format}: {}",
            visible_len(&text)
        );
    }
    let text = render(&s, SignalFormat::Detailed);
    assert!(
        text.contains(&format!("🤖 Model: {}…\n", "&lt;".repeat(63))),
        "labels are clipped"
    );
    let shown = text.lines().filter(|l| l.starts_with("- 👍🏽")).count();
    assert!(shown < 10);
    assert!(
        text.contains(&format!("\n- … ({} more notes)\n", 1000 - shown)),
        "{text}"
    );
    // A single over-long note is clipped, not dropped.
    s.notes = vec!["x".repeat(1000)];
    let text = render(&s, SignalFormat::Detailed);
    assert!(
        text.contains(&format!("- {}…\n", "x".repeat(279))),
        "{text}"
    );
}

#[test]
fn percentages_are_left_out_rather_than_overflowing() {
    let mut s = signal(spec_buy());
    s.entry_price = Some(Price::new("0.0000000000000000000000000001".parse().unwrap()).unwrap());
    s.target_price = Some(Price::new("79228162514264337593543950335".parse().unwrap()).unwrap());
    s.stop_loss = None;
    s.asset = Asset::parse("x").unwrap();
    let text = render(&s, SignalFormat::Detailed);
    assert!(
        text.contains("- Target Price: $79,228,162,514,264,337,593,543,950,335\n"),
        "{text}"
    );
    assert!(!text.contains("Stop Loss"));
    assert_eq!(
        render(&s, SignalFormat::Compact),
        "🟢 BUY X @ $0.0000000000000000000000000001 · 🎯 $79,228,162,514,264,337,593,543,950,335 · 1H · 85%"
    );
}
