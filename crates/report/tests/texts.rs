//! The performance texts in every language: the figures they show, what they say without
//! enough data, Telegram HTML that parses, and Telegram's length limits.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{
    CloseReason, Language, MAX_MESSAGE_CHARS, PerfRow, RowOutcome, SignalKind, Window, figures,
    visible_len,
};
use herald_report::{MAX_CAPTION_CHARS, Scope, outcome_line, performance_text, report_caption};
use herald_testkit::telegram::visible_text;
use rust_decimal::Decimal;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    at("2026-11-30T12:00:00Z")
}

fn row(kind: SignalKind, asset: &str, model: Option<&str>) -> PerfRow {
    PerfRow {
        kind,
        asset: asset.into(),
        source_model: model.map(str::to_string),
        generated_at: at("2026-11-30T09:00:00Z"),
        outcome: None,
    }
}

fn closed(mut row: PerfRow, ret: Option<&str>, closed_at: &str) -> PerfRow {
    row.outcome = Some(RowOutcome {
        return_pct: ret.map(d),
        closed_at: at(closed_at),
        reason: Some(CloseReason::Manual),
    });
    row
}

/// Eight signals: returns of +3, -2, +1 and 0, a close without a return, one open position.
fn period() -> Vec<PerfRow> {
    use SignalKind::*;
    vec![
        closed(
            row(Buy, "BTC/USD", Some("m1")),
            Some("3"),
            "2026-11-30T10:00:00Z",
        ),
        closed(
            row(Sell, "ETH/USD", Some("m1")),
            Some("-2"),
            "2026-11-30T11:00:00Z",
        ),
        closed(
            row(Buy, "BTC/USD", Some("m2")),
            Some("1"),
            "2026-11-30T09:30:00Z",
        ),
        row(Buy, "SOL/USD", None),
        closed(
            row(Sell, "BTC/USD", Some("m2")),
            None,
            "2026-11-30T09:45:00Z",
        ),
        row(Close, "BTC/USD", Some("m1")),
        row(Alert, "ETH/USD", None),
        closed(
            row(Buy, "ETH/USD", Some("m2")),
            Some("0"),
            "2026-11-30T12:00:00Z",
        ),
    ]
}

/// What a trader sees of `html`; panics if Telegram would refuse it.
fn seen(html: &str) -> String {
    visible_text(html).unwrap_or_else(|e| panic!("Telegram would refuse {html:?}: {e}"))
}

#[test]
fn english_performance_shows_every_figure() {
    let html = performance_text(
        &figures(&period()),
        Scope::Mine,
        Window::Week,
        Language::En,
        now(),
    );
    assert!(html.starts_with("📊 <b>Performance</b>"), "{html}");
    assert_eq!(
        seen(&html),
        "📊 Performance · your signals · last 7 days

📨 8 signals: Buy 4 · Sell 2 · Close 1 · Alert 1
📂 6 positions (buys and sells): 5 closed · 1 open

✅ 2 won · ❌ 1 lost · ⏹ 1 flat
🎯 Win rate: 50.0% (2 of 4)
📈 Average return: +0.50% · median +0.50%
➕ Sum of returns: +2.00%
🏆 Best: BTC/USD +3.00%
📉 Worst: ETH/USD -2.00%

By asset
• BTC/USD: 4 signals
• ETH/USD: 3 signals
• SOL/USD: 1 signal

By model
• m1: 3 signals, 2 closed · win rate 50.0% · average +0.50%
• m2: 3 signals, 3 closed · win rate 50.0% · average +0.50%
• unnamed: 2 signals, 0 closed

As of 2026-11-30 12:00 UTC. Returns run from entry to exit price, before fees; the sum adds them up without compounding. Past results do not guarantee future ones."
    );
}

#[test]
fn spanish_performance_shows_every_figure() {
    let html = performance_text(
        &figures(&period()),
        Scope::All,
        Window::Month,
        Language::Es,
        now(),
    );
    let text = seen(&html);
    for line in [
        "📊 Rendimiento · todas las señales · últimos 30 días",
        "📨 8 señales: Compra 4 · Venta 2 · Cierre 1 · Alerta 1",
        "📂 6 posiciones (compras y ventas): 5 cerradas · 1 abierta",
        "✅ 2 ganadoras · ❌ 1 perdedora · ⏹ 1 neutra",
        "🎯 Tasa de acierto: 50.0% (2 de 4)",
        "📈 Rentabilidad media: +0.50% · mediana +0.50%",
        "➕ Suma de rentabilidades: +2.00%",
        "🏆 Mejor: BTC/USD +3.00%",
        "📉 Peor: ETH/USD -2.00%",
        "Por activo\n• BTC/USD: 4 señales\n• ETH/USD: 3 señales\n• SOL/USD: 1 señal",
        "• m1: 3 señales, 2 cerradas · acierto 50.0% · media +0.50%",
        "• sin nombre: 2 señales, 0 cerradas",
        "Datos a 2026-11-30 12:00 UTC.",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn without_a_closed_position_it_says_so_and_still_counts() {
    let rows = vec![
        row(SignalKind::Buy, "BTC/USD", Some("m1")),
        row(SignalKind::Alert, "BTC/USD", Some("m1")),
    ];
    let f = figures(&rows);
    let en = seen(&performance_text(
        &f,
        Scope::Mine,
        Window::Day,
        Language::En,
        now(),
    ));
    assert!(
        en.contains(
            "⏳ No position has closed in this period yet, so there are no returns to show."
        ),
        "{en}"
    );
    assert!(
        en.contains("📨 2 signals: Buy 1 · Sell 0 · Close 0 · Alert 1"),
        "{en}"
    );
    assert!(
        en.contains("📂 1 position (buys and sells): 0 closed · 1 open"),
        "{en}"
    );
    assert!(en.contains("• m1: 2 signals, 0 closed"), "{en}");
    assert!(!en.contains("Win rate") && !en.contains("Best"), "{en}");
    let es = seen(&performance_text(
        &f,
        Scope::Mine,
        Window::Day,
        Language::Es,
        now(),
    ));
    assert!(
        es.contains("⏳ Todavía no se ha cerrado ninguna posición en este periodo"),
        "{es}"
    );
    assert!(
        es.contains("📂 1 posición (compras y ventas): 0 cerradas · 1 abierta"),
        "{es}"
    );
}

#[test]
fn closes_without_an_exit_price_are_not_returns() {
    let rows = vec![closed(
        row(SignalKind::Sell, "BTC/USD", None),
        None,
        "2026-11-30T10:00:00Z",
    )];
    let en = seen(&performance_text(
        &figures(&rows),
        Scope::All,
        Window::All,
        Language::En,
        now(),
    ));
    assert!(en.contains("all signals · all time"), "{en}");
    assert!(
        en.contains("No position that closed in this period has a known exit price"),
        "{en}"
    );
}

#[test]
fn without_signals_it_says_so() {
    for (language, words) in [
        (Language::En, "No signals in this period yet."),
        (Language::Es, "Todavía no hay señales en este periodo."),
    ] {
        let text = seen(&performance_text(
            &figures(&[]),
            Scope::Mine,
            Window::Day,
            language,
            now(),
        ));
        assert!(text.contains(words), "{text}");
        assert!(!text.contains("📨"), "{text}");
    }
}

/// 300 assets and 120 models with long names full of markup.
fn crowded() -> Vec<PerfRow> {
    (0..300)
        .map(|i| {
            let model = format!("<model & \"co\"> {i:03} {}", "x".repeat(80));
            let asset = format!("{}{i:03}/USD", "LONGNAME".repeat(2));
            closed(
                row(SignalKind::Buy, &asset, Some(&model[..model.len() - i % 3])),
                Some(if i % 2 == 0 { "1.5" } else { "-0.25" }),
                "2026-11-30T10:00:00Z",
            )
        })
        .chain((0..120).map(|i| row(SignalKind::Alert, "BTC/USD", Some(&format!("m{i}")))))
        .collect()
}

#[test]
fn crowded_periods_stay_within_telegram_limits() {
    let f = figures(&crowded());
    for language in Language::ALL {
        for window in Window::ALL {
            for scope in [Scope::Mine, Scope::All] {
                let html = performance_text(&f, scope, window, language, now());
                let text = seen(&html);
                assert!(
                    visible_len(&html) <= MAX_MESSAGE_CHARS / 2,
                    "{}",
                    visible_len(&html)
                );
                assert!(!html.contains("<model"), "unescaped: {html}");
                assert!(text.contains("<model & \"co\"> 004"), "{text}");
                let caption = report_caption(&f, window, language);
                seen(&caption);
                assert!(visible_len(&caption) <= MAX_CAPTION_CHARS / 2, "{caption}");
            }
        }
    }
    let en = seen(&performance_text(
        &f,
        Scope::All,
        Window::All,
        Language::En,
        now(),
    ));
    assert!(en.contains("… and 296 more assets"), "{en}");
    assert!(en.contains("… and 415 more models"), "{en}");
    assert!(en.contains("• BTC/USD: 120 signals"), "{en}");
    assert!(
        en.contains("• <model & \"co\"> 000 xxxxxxxxxxxxxxxxxxxx…: 1 signal"),
        "{en}"
    );
    let es = seen(&performance_text(
        &f,
        Scope::All,
        Window::All,
        Language::Es,
        now(),
    ));
    assert!(
        es.contains("… y 296 activos más") && es.contains("… y 415 modelos más"),
        "{es}"
    );
}

#[test]
fn one_more_is_singular() {
    let rows: Vec<PerfRow> = (0..6)
        .map(|i| row(SignalKind::Alert, &format!("A{i}"), Some(&format!("m{i}"))))
        .collect();
    let en = seen(&performance_text(
        &figures(&rows),
        Scope::All,
        Window::All,
        Language::En,
        now(),
    ));
    assert!(en.contains("… and 1 more asset\n"), "{en}");
    assert!(en.contains("… and 1 more model\n"), "{en}");
}

#[test]
fn report_captions_in_both_languages() {
    let f = figures(&period());
    let en = report_caption(&f, Window::Week, Language::En);
    assert_eq!(
        seen(&en),
        "📊 Performance report · last 7 days
5 positions closed: ✅ 2 · ❌ 1 · ⏹ 1
🎯 Win rate: 50.0% (2 of 4)
📈 Sum of returns: +2.00% · average +0.50%
🏆 Best: BTC/USD +3.00%
📉 Worst: ETH/USD -2.00%
Chart: the running sum of returns, position by position."
    );
    let es = seen(&report_caption(&f, Window::Day, Language::Es));
    for line in [
        "📊 Informe de rendimiento · últimas 24 horas",
        "5 posiciones cerradas: ✅ 2 · ❌ 1 · ⏹ 1",
        "🎯 Tasa de acierto: 50.0% (2 de 4)",
        "📈 Suma de rentabilidades: +2.00% · media +0.50%",
        "🏆 Mejor: BTC/USD +3.00%",
        "📉 Peor: ETH/USD -2.00%",
        "Gráfico: la suma acumulada",
    ] {
        assert!(es.contains(line), "missing {line:?} in:\n{es}");
    }
}

#[test]
fn report_captions_without_enough_data() {
    let rows = vec![row(SignalKind::Buy, "BTC/USD", None)];
    let en = seen(&report_caption(&figures(&rows), Window::Day, Language::En));
    assert_eq!(
        en,
        "📊 Performance report · last 24 hours
⏳ No position closed with a known return in this period. 1 signal was sent."
    );
    let es = seen(&report_caption(&figures(&[]), Window::Week, Language::Es));
    assert!(es.ends_with("Se enviaron 0 señales."), "{es}");
}

#[test]
fn one_position_has_a_best_and_no_worst() {
    let rows = vec![closed(
        row(SignalKind::Buy, "BTC/USD", None),
        Some("-1.005"),
        "2026-11-30T10:00:00Z",
    )];
    let en = seen(&report_caption(&figures(&rows), Window::Day, Language::En));
    assert!(en.contains("🏆 Best: BTC/USD -1.01%"), "{en}");
    assert!(!en.contains("Worst"), "{en}");
}

#[test]
fn outcome_lines_in_both_languages() {
    let gain = herald_domain::performance::return_pct(SignalKind::Buy, d("42000"), d("43260.5"));
    let open = TimeDelta::minutes(135);
    let line = |kind, exit: Option<&str>, ret, reason, language| {
        outcome_line(kind, exit.map(d), ret, reason, open, language)
    };
    assert_eq!(
        line(
            SignalKind::Buy,
            Some("43260.50"),
            gain,
            Some(CloseReason::Target),
            Language::En
        ),
        "✅ Long closed at $43,260.5 · +3.00% · target hit · open 2 h 15 min"
    );
    assert_eq!(
        line(
            SignalKind::Buy,
            Some("43260.50"),
            gain,
            Some(CloseReason::Target),
            Language::Es
        ),
        "✅ Posición larga cerrada a $43,260.5 · +3.00% · objetivo alcanzado · abierta durante 2 h 15 min"
    );
    assert_eq!(
        line(
            SignalKind::Sell,
            Some("2010"),
            Some(d("-0.5")),
            Some(CloseReason::Stop),
            Language::En
        ),
        "❌ Short closed at $2,010 · -0.50% · stop loss hit · open 2 h 15 min"
    );
    assert_eq!(
        line(
            SignalKind::Sell,
            Some("2000"),
            Some(Decimal::ZERO),
            Some(CloseReason::Expired),
            Language::Es
        ),
        "⏹ Posición corta cerrada a $2,000 · +0.00% · caducada · abierta durante 2 h 15 min"
    );
    // Nothing known but the time.
    assert_eq!(
        line(SignalKind::Buy, None, None, None, Language::En),
        "⏹ Long closed · open 2 h 15 min"
    );
    assert_eq!(
        line(
            SignalKind::Close,
            Some("0"),
            None,
            Some(CloseReason::Manual),
            Language::Es
        ),
        "⏹ Posición cerrada · cerrada manualmente · abierta durante 2 h 15 min"
    );
    let quick = outcome_line(
        SignalKind::Buy,
        Some(d("0.00001234")),
        Some(d("12.5")),
        Some(CloseReason::Manual),
        TimeDelta::seconds(20),
        Language::En,
    );
    assert_eq!(
        seen(&quick),
        "✅ Long closed at $0.00001234 · +12.50% · closed manually · open < 1 min"
    );
}
