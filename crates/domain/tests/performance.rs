//! Performance figures: a position's return, the windows, and what a period's signals add up
//! to — all exact decimals.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::performance::{UNNAMED_MODEL, return_pct};
use herald_domain::{
    AssetCount, AssetReturn, CloseReason, ModelFigures, PerfRow, RowOutcome, SignalKind, Window,
    cumulative_returns, figures,
};
use rust_decimal::Decimal;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A signal generated at 09:00 with no outcome.
fn row(kind: SignalKind, asset: &str, model: Option<&str>) -> PerfRow {
    PerfRow {
        kind,
        asset: asset.into(),
        source_model: model.map(str::to_string),
        generated_at: at("2026-11-30T09:00:00Z"),
        outcome: None,
    }
}

/// `row` closed at `closed_at` with `ret` (or no known return).
fn closed(mut row: PerfRow, ret: Option<&str>, closed_at: &str, reason: CloseReason) -> PerfRow {
    row.outcome = Some(RowOutcome {
        return_pct: ret.map(d),
        closed_at: at(closed_at),
        reason: Some(reason),
    });
    row
}

#[test]
fn a_buy_gains_when_the_price_rises_exactly() {
    let ret = return_pct(SignalKind::Buy, d("42000"), d("43260.5")).unwrap();
    // 1260.5 / 42000 * 100 = 3.00119047619… (repeating), to Decimal's 28 places.
    assert_eq!(ret, d("3.0011904761904761904761904762"));
    assert_eq!(ret.to_string(), "3.0011904761904761904761904762");
    assert_eq!(
        return_pct(SignalKind::Buy, d("45250"), d("46500")).unwrap(),
        d("2.7624309392265193370165745856")
    );
    // Terminating ratios come out exact and normalised.
    let ten = return_pct(SignalKind::Buy, d("100"), d("110")).unwrap();
    assert_eq!(ten.to_string(), "10");
    assert_eq!(
        return_pct(SignalKind::Buy, d("0.1"), d("0.3"))
            .unwrap()
            .to_string(),
        "200"
    );
}

#[test]
fn a_buy_loses_when_the_price_falls() {
    assert_eq!(
        return_pct(SignalKind::Buy, d("100"), d("97.7")).unwrap(),
        d("-2.3")
    );
    assert_eq!(
        return_pct(SignalKind::Buy, d("0.00001234"), d("0.00001200")).unwrap(),
        d("-2.7552674230145867098865478120")
    );
    // Everything lost.
    assert_eq!(
        return_pct(SignalKind::Buy, d("50"), d("0")).unwrap(),
        d("-100")
    );
}

#[test]
fn a_sell_gains_when_the_price_falls_and_loses_when_it_rises() {
    assert_eq!(
        return_pct(SignalKind::Sell, d("2000"), d("1950")).unwrap(),
        d("2.5")
    );
    assert_eq!(
        return_pct(SignalKind::Sell, d("2000"), d("2010")).unwrap(),
        d("-0.5")
    );
    assert_eq!(
        return_pct(SignalKind::Sell, d("42000"), d("43260.5")).unwrap(),
        d("-3.0011904761904761904761904762")
    );
    assert_eq!(
        return_pct(SignalKind::Sell, d("3"), d("3.000")).unwrap(),
        Decimal::ZERO
    );
}

#[test]
fn no_return_without_a_position_or_a_sound_price() {
    assert_eq!(return_pct(SignalKind::Close, d("100"), d("110")), None);
    assert_eq!(return_pct(SignalKind::Alert, d("100"), d("110")), None);
    assert_eq!(return_pct(SignalKind::Buy, d("0"), d("110")), None);
    assert_eq!(return_pct(SignalKind::Sell, d("-5"), d("110")), None);
    // A ratio too large for a Decimal has no return rather than a panic.
    let tiny = d("0.0000000000000000000000000001");
    assert_eq!(return_pct(SignalKind::Buy, tiny, Decimal::MAX), None);
}

#[test]
fn close_reasons_read_and_write_their_names() {
    for reason in CloseReason::ALL {
        assert_eq!(reason.as_str().parse::<CloseReason>().unwrap(), reason);
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(json, format!("\"{}\"", reason.as_str()));
        assert_eq!(serde_json::from_str::<CloseReason>(&json).unwrap(), reason);
    }
    assert_eq!(
        "TARGET".parse::<CloseReason>().unwrap(),
        CloseReason::Target
    );
    assert!("profit".parse::<CloseReason>().is_err());
}

#[test]
fn windows_reach_back_from_now() {
    let now = at("2026-11-30T12:00:00Z");
    assert_eq!(Window::Day.since(now), Some(at("2026-11-29T12:00:00Z")));
    assert_eq!(Window::Week.since(now), Some(at("2026-11-23T12:00:00Z")));
    assert_eq!(Window::Month.since(now), Some(at("2026-10-31T12:00:00Z")));
    assert_eq!(Window::All.since(now), None);
    assert_eq!(Window::Week.length(), Some(TimeDelta::days(7)));
    for window in Window::ALL {
        assert_eq!(window.as_str().parse::<Window>().unwrap(), window);
        assert_eq!(window.to_string(), window.as_str());
    }
    assert_eq!("24H".parse::<Window>().unwrap(), Window::Day);
    assert_eq!("week".parse::<Window>().unwrap(), Window::Week);
    assert!("1y".parse::<Window>().is_err());
}

/// Eight signals: four buys, two sells, a close and an alert, from two named models and
/// none. Returns of +3, -2, +1 and 0; one close without a return; one position still open.
fn period() -> Vec<PerfRow> {
    use CloseReason::*;
    use SignalKind::*;
    vec![
        closed(
            row(Buy, "BTC/USD", Some("m1")),
            Some("3"),
            "2026-11-30T10:00:00Z",
            Target,
        ),
        closed(
            row(Sell, "ETH/USD", Some("m1")),
            Some("-2"),
            "2026-11-30T11:00:00Z",
            Stop,
        ),
        closed(
            row(Buy, "BTC/USD", Some("m2")),
            Some("1"),
            "2026-11-30T09:30:00Z",
            Manual,
        ),
        row(Buy, "SOL/USD", None),
        closed(
            row(Sell, "BTC/USD", Some("m2")),
            None,
            "2026-11-30T09:45:00Z",
            Manual,
        ),
        row(Close, "BTC/USD", Some("m1")),
        // An outcome on an alert opens no position and is ignored.
        closed(
            row(Alert, "ETH/USD", None),
            Some("50"),
            "2026-11-30T09:10:00Z",
            Manual,
        ),
        closed(
            row(Buy, "ETH/USD", Some("m2")),
            Some("0"),
            "2026-11-30T12:00:00Z",
            Expired,
        ),
    ]
}

#[test]
fn figures_count_signals_positions_and_outcomes() {
    let f = figures(&period());
    assert_eq!(f.signals, 8);
    assert_eq!(
        f.by_kind,
        [
            (SignalKind::Buy, 4),
            (SignalKind::Sell, 2),
            (SignalKind::Close, 1),
            (SignalKind::Alert, 1),
        ]
    );
    assert_eq!(f.kind_count(SignalKind::Sell), 2);
    let assets: Vec<(&str, usize)> = f
        .by_asset
        .iter()
        .map(|a| (a.asset.as_str(), a.signals))
        .collect();
    assert_eq!(assets, [("BTC/USD", 4), ("ETH/USD", 3), ("SOL/USD", 1)]);
    assert_eq!((f.positions, f.closed, f.open), (6, 5, 1));
}

#[test]
fn figures_measure_returns_exactly() {
    let f = figures(&period());
    assert_eq!((f.wins, f.losses, f.flat), (2, 1, 1));
    assert_eq!(f.measured(), 4);
    assert!(f.has_enough_data());
    assert_eq!(f.win_rate, Some(d("50")));
    assert_eq!(f.total_return, Some(d("2")));
    assert_eq!(f.average_return, Some(d("0.5")));
    // -2, 0, 1, 3: the mean of the middle two.
    assert_eq!(f.median_return, Some(d("0.5")));
    assert_eq!(
        f.best,
        Some(AssetReturn {
            asset: "BTC/USD".into(),
            return_pct: d("3")
        })
    );
    assert_eq!(
        f.worst,
        Some(AssetReturn {
            asset: "ETH/USD".into(),
            return_pct: d("-2")
        })
    );
}

#[test]
fn figures_per_model_group_unnamed_ones() {
    let f = figures(&period());
    assert_eq!(
        f.models,
        [
            ModelFigures {
                model: "m1".into(),
                signals: 3,
                closed: 2,
                win_rate: Some(d("50")),
                average_return: Some(d("0.5")),
            },
            ModelFigures {
                model: "m2".into(),
                signals: 3,
                closed: 3,
                win_rate: Some(d("50")),
                average_return: Some(d("0.5")),
            },
            ModelFigures {
                model: UNNAMED_MODEL.into(),
                signals: 2,
                closed: 0,
                win_rate: None,
                average_return: None,
            },
        ]
    );
}

#[test]
fn medians_of_odd_and_even_counts() {
    let measured = |returns: &[&str]| {
        let rows: Vec<PerfRow> = returns
            .iter()
            .map(|r| {
                closed(
                    row(SignalKind::Buy, "BTC/USD", None),
                    Some(r),
                    "2026-11-30T10:00:00Z",
                    CloseReason::Target,
                )
            })
            .collect();
        figures(&rows)
    };
    assert_eq!(measured(&["1", "5", "2"]).median_return, Some(d("2")));
    assert_eq!(measured(&["1", "2"]).median_return, Some(d("1.5")));
    assert_eq!(
        measured(&["10", "1", "3", "2"]).median_return,
        Some(d("2.5"))
    );
    assert_eq!(measured(&["-0.01"]).median_return, Some(d("-0.01")));
    // Averages and win rates keep Decimal's precision.
    let thirds = measured(&["1", "1", "-1"]);
    assert_eq!(thirds.win_rate, Some(d("66.666666666666666666666666667")));
    assert_eq!(
        thirds.average_return,
        Some(d("0.3333333333333333333333333333"))
    );
    assert_eq!(thirds.total_return, Some(d("1")));
}

#[test]
fn ties_for_best_and_worst_go_to_the_earliest_close() {
    let rows = vec![
        closed(
            row(SignalKind::Buy, "LATE", None),
            Some("2"),
            "2026-11-30T11:00:00Z",
            CloseReason::Target,
        ),
        closed(
            row(SignalKind::Buy, "EARLY", None),
            Some("2"),
            "2026-11-30T10:00:00Z",
            CloseReason::Target,
        ),
    ];
    let f = figures(&rows);
    assert_eq!(f.best.unwrap().asset, "EARLY");
    assert_eq!(f.worst.unwrap().asset, "EARLY");
}

#[test]
fn no_rows_give_zero_counts_and_no_returns() {
    let f = figures(&[]);
    assert_eq!(f.signals, 0);
    assert!(f.by_kind.iter().all(|(_, n)| *n == 0));
    assert_eq!(f.by_kind.map(|(k, _)| k), SignalKind::ALL);
    assert!(f.by_asset.is_empty() && f.models.is_empty());
    assert_eq!((f.positions, f.closed, f.open), (0, 0, 0));
    assert!(!f.has_enough_data());
    assert_eq!(f.win_rate, None);
    assert_eq!(f.total_return, None);
    assert_eq!(f.average_return, None);
    assert_eq!(f.median_return, None);
    assert_eq!((f.best, f.worst), (None, None));
    assert!(cumulative_returns(&[]).is_empty());
}

#[test]
fn closes_without_a_return_are_not_enough_data() {
    let rows = vec![
        closed(
            row(SignalKind::Sell, "BTC/USD", None),
            None,
            "2026-11-30T10:00:00Z",
            CloseReason::Manual,
        ),
        row(SignalKind::Buy, "BTC/USD", None),
    ];
    let f = figures(&rows);
    assert_eq!((f.positions, f.closed, f.open), (2, 1, 1));
    assert!(!f.has_enough_data());
    assert_eq!(f.win_rate, None);
}

#[test]
fn assets_with_the_same_count_are_in_name_order() {
    let rows: Vec<PerfRow> = ["ETH/USD", "BTC/USD", "AAPL", "ETH/USD"]
        .into_iter()
        .map(|a| row(SignalKind::Alert, a, None))
        .collect();
    assert_eq!(
        figures(&rows).by_asset,
        [
            AssetCount {
                asset: "ETH/USD".into(),
                signals: 2
            },
            AssetCount {
                asset: "AAPL".into(),
                signals: 1
            },
            AssetCount {
                asset: "BTC/USD".into(),
                signals: 1
            },
        ]
    );
}

#[test]
fn cumulative_returns_add_up_in_closing_order() {
    assert_eq!(
        cumulative_returns(&period()),
        [
            (at("2026-11-30T09:30:00Z"), d("1")),
            (at("2026-11-30T10:00:00Z"), d("4")),
            (at("2026-11-30T11:00:00Z"), d("2")),
            (at("2026-11-30T12:00:00Z"), d("2")),
        ]
    );
    // A sum, not compounded: +10 % then -10 % is back to zero.
    let rows = vec![
        closed(
            row(SignalKind::Buy, "BTC/USD", None),
            Some("10"),
            "2026-11-30T10:00:00Z",
            CloseReason::Target,
        ),
        closed(
            row(SignalKind::Buy, "BTC/USD", None),
            Some("-10"),
            "2026-11-30T11:00:00Z",
            CloseReason::Stop,
        ),
    ];
    assert_eq!(cumulative_returns(&rows).last().unwrap().1, Decimal::ZERO);
}
