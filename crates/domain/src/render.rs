//! Telegram messages for signals, in HTML parse mode.
//!
//! No tags are used, only escaping: every free-text field (`source_model`,
//! `performance_category`, `market_context`, notes; the asset too, although it cannot hold
//! markup) has `&`, `<`, `>` and `"` escaped, so what a trader sees is exactly the text.
//! Prices keep their own decimals with thousands separators (`$45,250.5`, `$0.00001234`);
//! percentages are relative to the entry price, two decimals, rounded half away from zero and
//! always signed. Times are UTC, to the second.
//!
//! # Detailed layout
//!
//! Sections are separated by a blank line; a line or section whose value is absent is left
//! out (no notes, no `📝 Notes:` section). A buy is exactly the product spec §3.1 example; a
//! sell reads `SELL` and its percentages flip sign. Model and performance follow the
//! confidence line; market context gets a section of its own before the notes (on an alert,
//! right under the header):
//!
//! ```text
//! 🚨 TRADING SIGNAL: BUY BTC/USD 🚨
//!
//! 📊 Signal Details:
//! - Direction: BUY
//! - Asset: BTC/USD
//! - Entry Price: $45,250
//! - Target Price: $46,500 (+2.76%)
//! - Stop Loss: $44,500 (-1.66%)
//! - Timeframe: 1H
//!
//! 📈 Signal Confidence: 85%
//! 🤖 Model: momentum-v3
//! 🏅 Performance: A
//! ⏱️ Signal Generated: 2023-06-15 14:30:45 UTC
//!
//! 🌍 Market Context:
//! Risk-on session.
//! ETF inflows strong.
//!
//! 📝 Notes:
//! - Strong bullish momentum detected
//!
//! #BTC #Trading #Signal
//! ```
//!
//! A close (exit price, closed signal and timeframe each only if given):
//!
//! ```text
//! 🔒 CLOSE SIGNAL: BTC/USD
//!
//! 📊 Signal Details:
//! - Action: Close position
//! - Asset: BTC/USD
//! - Exit Price: $46,100
//! - Closes Signal: 0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90
//! - Timeframe: 1H
//!
//! 📈 Signal Confidence: 90%
//! ⏱️ Signal Generated: 2023-06-15 15:10:00 UTC
//!
//! 📝 Notes:
//! - Target nearly reached; locking in profit
//!
//! #BTC #Trading #Close
//! ```
//!
//! A close sent as a reply to the reader's copy of the signal it closes leaves out the
//! `Closes Signal` line (Telegram shows the copy above it); one sent to a reader who never
//! got that signal describes it instead: `- Closes Signal: BUY BTC/USD @ $45,250 ·
//! 2023-06-15 14:30:45 UTC` (see [`CloseRef`]).
//!
//! An alert:
//!
//! ```text
//! ⚠️ MARKET ALERT: BTC/USD
//!
//! 🌍 Market Context:
//! US CPI release at 12:30 UTC.
//! Expect high volatility.
//!
//! 📊 Alert Details:
//! - Asset: BTC/USD
//! - Timeframe: 4H
//!
//! 📈 Signal Confidence: 70%
//! ⏱️ Signal Generated: 2023-06-15 12:00:00 UTC
//!
//! 📝 Notes:
//! - Consider reducing position sizes
//!
//! #BTC #Trading #Alert
//! ```
//!
//! # Compact layout
//!
//! One line; an alert adds its market context below, on one line of at most 200 characters.
//!
//! ```text
//! 🟢 BUY BTC/USD @ $45,250 · 🎯 $46,500 (+2.76%) · 🛑 $44,500 (-1.66%) · 1H · 85%
//! 🔴 SELL ETH/USDT @ $45,250 · 🎯 $44,000 (-2.76%) · 🛑 $46,000 (+1.66%) · 4H · 72%
//! 🔒 CLOSE BTC/USD @ $46,100 · 1H · 90%
//! ⚠️ ALERT BTC/USD · 4H · 70%
//! US CPI release at 12:30 UTC. Expect high volatility.
//! ```
//!
//! # Length
//!
//! A message never shows more than [`MAX_MESSAGE_CHARS`] UTF-16 units (see [`visible_len`]).
//! Text is clipped (with `…`) to the parser's limits, at most 10 notes are shown, and when
//! the message is still too long (notes of emoji can make it so: each is two UTF-16 units)
//! trailing notes give way to one line `- … (n more notes)`. As a last resort, which the
//! layouts above never reach, the text is cut at the limit.

mod text;

use chrono::{DateTime, Utc};

use crate::parse::{MAX_CONTEXT_CHARS, MAX_LABEL_CHARS, MAX_NOTE_CHARS, MAX_NOTES};
use crate::preferences::SignalFormat;
use crate::signal::{Price, Signal, SignalKind};
pub use text::{clip, escape, money, signed_percent, visible_len};
use text::{fit, percent};

/// Telegram's limit on a message's text, in characters after entity parsing.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Longest market context shown in the compact layout, in characters.
const COMPACT_CONTEXT_CHARS: usize = 200;

/// The words of a signal message in one language. [`Labels::ENGLISH`] is the spec's own
/// layout; other languages come from the message catalog (`herald-i18n`), which fills every
/// field. Prices, percentages, times and hashtags are the same in every language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    /// `TRADING SIGNAL` (buy and sell headers).
    pub trading_signal: &'a str,
    /// `CLOSE SIGNAL`.
    pub close_signal: &'a str,
    /// `MARKET ALERT`.
    pub market_alert: &'a str,
    /// `BUY`, the direction word.
    pub buy: &'a str,
    /// `SELL`.
    pub sell: &'a str,
    /// `CLOSE`, the compact layout's lead.
    pub close: &'a str,
    /// `ALERT`, the compact layout's lead.
    pub alert: &'a str,
    /// `Signal Details`.
    pub signal_details: &'a str,
    /// `Alert Details`.
    pub alert_details: &'a str,
    /// `Direction`.
    pub direction: &'a str,
    /// `Asset`.
    pub asset: &'a str,
    /// `Entry Price`.
    pub entry_price: &'a str,
    /// `Target Price`.
    pub target_price: &'a str,
    /// `Stop Loss`.
    pub stop_loss: &'a str,
    /// `Timeframe`.
    pub timeframe: &'a str,
    /// `Action`.
    pub action: &'a str,
    /// `Close position`.
    pub close_position: &'a str,
    /// `Exit Price`.
    pub exit_price: &'a str,
    /// `Closes Signal`.
    pub closes_signal: &'a str,
    /// `Signal Confidence`.
    pub confidence: &'a str,
    /// `Model`.
    pub model: &'a str,
    /// `Performance`.
    pub performance: &'a str,
    /// `Signal Generated`.
    pub generated: &'a str,
    /// `Market Context`.
    pub market_context: &'a str,
    /// `Notes`.
    pub notes: &'a str,
    /// `1 more note`.
    pub one_more_note: &'a str,
    /// `{n} more notes` (`{n}` is replaced by the count).
    pub more_notes: &'a str,
}

impl Labels<'static> {
    /// The spec's English words.
    pub const ENGLISH: Labels<'static> = Labels {
        trading_signal: "TRADING SIGNAL",
        close_signal: "CLOSE SIGNAL",
        market_alert: "MARKET ALERT",
        buy: "BUY",
        sell: "SELL",
        close: "CLOSE",
        alert: "ALERT",
        signal_details: "Signal Details",
        alert_details: "Alert Details",
        direction: "Direction",
        asset: "Asset",
        entry_price: "Entry Price",
        target_price: "Target Price",
        stop_loss: "Stop Loss",
        timeframe: "Timeframe",
        action: "Action",
        close_position: "Close position",
        exit_price: "Exit Price",
        closes_signal: "Closes Signal",
        confidence: "Signal Confidence",
        model: "Model",
        performance: "Performance",
        generated: "Signal Generated",
        market_context: "Market Context",
        notes: "Notes",
        one_more_note: "1 more note",
        more_notes: "{n} more notes",
    };
}

impl Default for Labels<'static> {
    fn default() -> Self {
        Self::ENGLISH
    }
}

/// Renders `signal` in `format` as Telegram HTML, in English.
pub fn render(signal: &Signal, format: SignalFormat) -> String {
    render_in(signal, format, &Labels::ENGLISH)
}

/// Renders `signal` in `format` as Telegram HTML, in the language of `labels`. A close
/// names the signal it closes by id ([`CloseRef::Id`]).
pub fn render_in(signal: &Signal, format: SignalFormat, labels: &Labels<'_>) -> String {
    render_close_in(signal, CloseRef::Id, format, labels)
}

/// How a close's message refers to the position it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseRef<'a> {
    /// By the closed signal's id (`- Closes Signal: 0189c3a2-…`): a history, or a close
    /// whose signal is not stored.
    Id,
    /// Not at all: the message is a reply to the reader's copy of that signal, which
    /// Telegram shows above it.
    Reply,
    /// By what the position was (`- Closes Signal: BUY BTC/USD @ $45,250 · 2023-06-15
    /// 14:30:45 UTC`): for a reader who never got that signal.
    Position(&'a Signal),
}

/// [`render_in`], with a close referring to its position as `closes` says (other kinds
/// ignore it).
pub fn render_close_in(
    signal: &Signal,
    closes: CloseRef<'_>,
    format: SignalFormat,
    labels: &Labels<'_>,
) -> String {
    render_within(signal, closes, format, labels, MAX_MESSAGE_CHARS)
}

/// [`render_close_in`] in at most `max` visible characters (to leave room for a line added
/// below it).
pub fn render_within(
    signal: &Signal,
    closes: CloseRef<'_>,
    format: SignalFormat,
    labels: &Labels<'_>,
    max: usize,
) -> String {
    let html = match format {
        SignalFormat::Detailed => detailed(signal, closes, labels, max),
        SignalFormat::Compact => compact(signal, closes, labels),
    };
    fit(html, max)
}

/// The detailed layout with as many notes as fit in `max` visible characters.
fn detailed(signal: &Signal, closes: CloseRef<'_>, l: &Labels<'_>, max: usize) -> String {
    let most = signal.notes.len().min(MAX_NOTES);
    for shown in (1..=most).rev() {
        let html = detailed_with_notes(signal, closes, l, shown);
        if visible_len(&html) <= max {
            return html;
        }
    }
    detailed_with_notes(signal, closes, l, 0)
}

/// `BUY BTC/USD @ $45,250 · 2023-06-15 14:30:45 UTC`: a position, for a close that stands
/// alone.
fn position_line(position: &Signal, l: &Labels<'_>) -> String {
    let mut line = format!(
        "{} {}",
        direction(position.kind, l),
        escape(position.asset.as_str())
    );
    if let Some(entry) = position.entry_price {
        line.push_str(&format!(" @ {}", money(entry)));
    }
    line.push_str(&format!(" · {}", utc(position.generated_at)));
    line
}

fn direction<'a>(kind: SignalKind, l: &Labels<'a>) -> &'a str {
    match kind {
        SignalKind::Buy => l.buy,
        SignalKind::Sell => l.sell,
        SignalKind::Close => l.close,
        SignalKind::Alert => l.alert,
    }
}

fn detailed_with_notes(
    signal: &Signal,
    closes: CloseRef<'_>,
    l: &Labels<'_>,
    shown_notes: usize,
) -> String {
    let asset = escape(signal.asset.as_str());
    let mut sections = Vec::new();
    match signal.kind {
        SignalKind::Buy | SignalKind::Sell => {
            let kind = direction(signal.kind, l);
            sections.push(format!("🚨 {}: {kind} {asset} 🚨", l.trading_signal));
            sections.push(trade_details(signal, l, kind, &asset));
        }
        SignalKind::Close => {
            sections.push(format!("🔒 {}: {asset}", l.close_signal));
            sections.push(close_details(signal, closes, l, &asset));
        }
        SignalKind::Alert => {
            sections.push(format!("\u{26A0}\u{FE0F} {}: {asset}", l.market_alert));
            sections.extend(market_context(signal, l));
            let mut details = vec![
                format!("📊 {}:", l.alert_details),
                format!("- {}: {asset}", l.asset),
            ];
            details.extend(
                signal
                    .timeframe
                    .map(|tf| format!("- {}: {tf}", l.timeframe)),
            );
            sections.push(details.join("\n"));
        }
    }
    sections.push(metadata(signal, l));
    if signal.kind != SignalKind::Alert {
        sections.extend(market_context(signal, l));
    }
    sections.extend(notes(&signal.notes, l, shown_notes));
    let tag = match signal.kind {
        SignalKind::Buy | SignalKind::Sell => "Signal",
        SignalKind::Close => "Close",
        SignalKind::Alert => "Alert",
    };
    sections.push(format!("#{} #Trading #{tag}", escape(signal.asset.base())));
    sections.join("\n\n")
}

fn trade_details(signal: &Signal, l: &Labels<'_>, kind: &str, asset: &str) -> String {
    let mut lines = vec![
        format!("📊 {}:", l.signal_details),
        format!("- {}: {kind}", l.direction),
        format!("- {}: {asset}", l.asset),
    ];
    let entry = signal.entry_price;
    lines.extend(entry.map(|p| format!("- {}: {}", l.entry_price, money(p))));
    lines.extend(
        signal
            .target_price
            .map(|p| format!("- {}: {}", l.target_price, priced(p, entry))),
    );
    lines.extend(
        signal
            .stop_loss
            .map(|p| format!("- {}: {}", l.stop_loss, priced(p, entry))),
    );
    lines.extend(
        signal
            .timeframe
            .map(|tf| format!("- {}: {tf}", l.timeframe)),
    );
    lines.join("\n")
}

fn close_details(signal: &Signal, closes: CloseRef<'_>, l: &Labels<'_>, asset: &str) -> String {
    let mut lines = vec![
        format!("📊 {}:", l.signal_details),
        format!("- {}: {}", l.action, l.close_position),
        format!("- {}: {asset}", l.asset),
    ];
    lines.extend(
        signal
            .entry_price
            .map(|p| format!("- {}: {}", l.exit_price, money(p))),
    );
    lines.extend(match closes {
        CloseRef::Id => signal
            .closes_signal_id
            .map(|id| format!("- {}: {id}", l.closes_signal)),
        CloseRef::Reply => None,
        CloseRef::Position(position) => Some(format!(
            "- {}: {}",
            l.closes_signal,
            position_line(position, l)
        )),
    });
    lines.extend(
        signal
            .timeframe
            .map(|tf| format!("- {}: {tf}", l.timeframe)),
    );
    lines.join("\n")
}

/// `$46,500 (+2.76%)`, or just the price when there is no entry to compare with.
fn priced(price: Price, entry: Option<Price>) -> String {
    match entry.and_then(|entry| percent(entry, price)) {
        Some(change) => format!("{} ({change})", money(price)),
        None => money(price),
    }
}

fn metadata(signal: &Signal, l: &Labels<'_>) -> String {
    let label = |text: &Option<String>| text.as_deref().map(|t| escape(&clip(t, MAX_LABEL_CHARS)));
    let mut lines = vec![format!("📈 {}: {}%", l.confidence, signal.confidence.get())];
    lines.extend(label(&signal.source_model).map(|m| format!("🤖 {}: {m}", l.model)));
    lines.extend(label(&signal.performance_category).map(|p| format!("🏅 {}: {p}", l.performance)));
    lines.push(format!(
        "\u{23F1}\u{FE0F} {}: {}",
        l.generated,
        utc(signal.generated_at)
    ));
    lines.join("\n")
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn market_context(signal: &Signal, l: &Labels<'_>) -> Option<String> {
    let context = signal.market_context.as_deref()?;
    Some(format!(
        "🌍 {}:\n{}",
        l.market_context,
        escape(&clip(context, MAX_CONTEXT_CHARS))
    ))
}

/// The notes section with the first `shown` notes, and a count of the rest.
fn notes(notes: &[String], l: &Labels<'_>, shown: usize) -> Option<String> {
    if notes.is_empty() {
        return None;
    }
    let mut lines = vec![format!("📝 {}:", l.notes)];
    for note in notes.iter().take(shown) {
        lines.push(format!("- {}", escape(&clip(note, MAX_NOTE_CHARS))));
    }
    match notes.len().saturating_sub(shown) {
        0 => {}
        1 => lines.push(format!("- … ({})", l.one_more_note)),
        more => lines.push(format!(
            "- … ({})",
            l.more_notes.replace("{n}", &more.to_string())
        )),
    }
    Some(lines.join("\n"))
}

fn compact(signal: &Signal, closes: CloseRef<'_>, l: &Labels<'_>) -> String {
    let icon = match signal.kind {
        SignalKind::Buy => "🟢",
        SignalKind::Sell => "🔴",
        SignalKind::Close => "🔒",
        SignalKind::Alert => "\u{26A0}\u{FE0F}",
    };
    let lead = direction(signal.kind, l);
    let mut first = format!("{icon} {lead} {}", escape(signal.asset.as_str()));
    if let Some(entry) = signal.entry_price {
        first.push_str(&format!(" @ {}", money(entry)));
    }
    let entry = signal.entry_price;
    let mut parts = vec![first];
    parts.extend(
        signal
            .target_price
            .map(|p| format!("🎯 {}", priced(p, entry))),
    );
    parts.extend(signal.stop_loss.map(|p| format!("🛑 {}", priced(p, entry))));
    parts.extend(signal.timeframe.map(|tf| tf.to_string()));
    parts.push(format!("{}%", signal.confidence.get()));
    let mut html = parts.join(" · ");
    if signal.kind == SignalKind::Alert
        && let Some(context) = &signal.market_context
    {
        let one_line = context.split_whitespace().collect::<Vec<_>>().join(" ");
        html.push('\n');
        html.push_str(&escape(&clip(&one_line, COMPACT_CONTEXT_CHARS)));
    }
    if signal.kind == SignalKind::Close
        && let CloseRef::Position(position) = closes
    {
        html.push_str(&format!("\n↩️ {}", position_line(position, l)));
    }
    html
}
