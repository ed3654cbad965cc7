//! How a close is judged against the position it names, and the outcome it records.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use herald_domain::{
    CloseReason, Position, Rejection, Signal, SignalId, SignalKind, judge_close, parse_signal,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

fn signal(v: Value) -> Signal {
    parse_signal(v.to_string().as_bytes(), now()).unwrap()
}

fn buy() -> Signal {
    signal(json!({
        "id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90",
        "kind": "buy", "asset": "BTC/USD", "entry_price": "42000", "target_price": "44000",
        "stop_loss": "41000", "timeframe": "1H", "confidence": 80,
        "generated_at": "2026-11-30T09:00:00Z", "source_model": "momentum-v3"
    }))
}

fn sell() -> Signal {
    signal(json!({
        "id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a91",
        "kind": "sell", "asset": "ETH/USD", "entry_price": "3000", "target_price": "2800",
        "stop_loss": "3100", "timeframe": "4H", "confidence": 70,
        "generated_at": "2026-11-30T09:00:00Z"
    }))
}

fn close_of(position: &Signal, extra: Value) -> Signal {
    let mut v = json!({
        "id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6aa0",
        "kind": "close", "asset": position.asset.as_str(), "confidence": 90,
        "generated_at": "2026-11-30T11:15:00Z", "closes_signal_id": position.id.0.to_string()
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    signal(v)
}

fn known(signal: &Signal, closed_by: Option<SignalId>) -> Position {
    Position::Known {
        signal: Box::new(signal.clone()),
        closed_by,
    }
}

fn refusal(result: Result<Option<herald_domain::PositionOutcome>, Rejection>) -> (String, String) {
    match result {
        Err(Rejection::Invalid(errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            (errors[0].field.clone(), errors[0].code.to_string())
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_buy_closed_higher_gains_and_a_sell_closed_higher_loses_exactly() {
    let buy = buy();
    let close = close_of(&buy, json!({"entry_price": "43260.5", "reason": "manual"}));
    let outcome = judge_close(&close, &known(&buy, None)).unwrap().unwrap();
    assert_eq!(outcome.signal_id, buy.id);
    assert_eq!(outcome.close_signal_id, close.id);
    assert_eq!(outcome.entry_price, Some(d("42000")));
    assert_eq!(outcome.exit_price, Some(d("43260.5")));
    assert_eq!(
        outcome.return_pct,
        Some(d("3.0011904761904761904761904762"))
    );
    assert_eq!(outcome.reason, Some(CloseReason::Manual));
    assert_eq!(outcome.source_model.as_deref(), Some("momentum-v3"));
    assert_eq!(outcome.open_for(), chrono::TimeDelta::minutes(135));

    let sell = sell();
    let close = close_of(&sell, json!({"entry_price": "3150"}));
    let outcome = judge_close(&close, &known(&sell, None)).unwrap().unwrap();
    assert_eq!(outcome.kind, SignalKind::Sell);
    assert_eq!(outcome.return_pct, Some(d("-5")));
    // A sell closed lower gains.
    let close = close_of(&sell, json!({"entry_price": "2850.75"}));
    let outcome = judge_close(&close, &known(&sell, None)).unwrap().unwrap();
    assert_eq!(outcome.return_pct, Some(d("4.975")));
    // A buy closed lower loses.
    let close = close_of(&buy, json!({"entry_price": "41580"}));
    let outcome = judge_close(&close, &known(&buy, None)).unwrap().unwrap();
    assert_eq!(outcome.return_pct, Some(d("-1")));
}

#[test]
fn a_close_without_a_price_exits_where_its_reason_says_or_at_an_unknown_price() {
    let buy = buy();
    let at_target = close_of(&buy, json!({"reason": "target"}));
    let outcome = judge_close(&at_target, &known(&buy, None))
        .unwrap()
        .unwrap();
    assert_eq!(outcome.exit_price, Some(d("44000")));
    assert_eq!(
        outcome.return_pct,
        Some(d("4.7619047619047619047619047619"))
    );
    let at_stop = close_of(&buy, json!({"reason": "stop"}));
    let outcome = judge_close(&at_stop, &known(&buy, None)).unwrap().unwrap();
    assert_eq!(outcome.exit_price, Some(d("41000")));
    assert_eq!(
        outcome.return_pct,
        Some(d("-2.3809523809523809523809523810"))
    );
    let expired = close_of(&buy, json!({"reason": "expired"}));
    let outcome = judge_close(&expired, &known(&buy, None)).unwrap().unwrap();
    assert_eq!((outcome.exit_price, outcome.return_pct), (None, None));
    // A price given wins over the reason's.
    let priced = close_of(&buy, json!({"reason": "target", "entry_price": "43990"}));
    let outcome = judge_close(&priced, &known(&buy, None)).unwrap().unwrap();
    assert_eq!(outcome.exit_price, Some(d("43990")));
}

#[test]
fn closes_that_cannot_end_the_position_are_refused_with_their_reason() {
    let buy = buy();
    let close = close_of(&buy, json!({"entry_price": "43000"}));
    assert_eq!(
        refusal(judge_close(&close, &Position::Unknown)),
        ("closes_signal_id".into(), "unknown_signal".into())
    );
    let other_close = signal(json!({
        "id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6aa1", "kind": "close", "asset": "BTC/USD",
        "confidence": 90, "generated_at": "2026-11-30T10:00:00Z"
    }));
    assert_eq!(
        refusal(judge_close(&close, &known(&other_close, None))),
        ("closes_signal_id".into(), "not_a_position".into())
    );
    let mut eth = buy.clone();
    eth.asset = herald_domain::Asset::parse("ETH/USD").unwrap();
    assert_eq!(
        refusal(judge_close(&close, &known(&eth, None))),
        ("asset".into(), "asset_mismatch".into())
    );
    let first = SignalId(uuid::Uuid::from_u128(7));
    let (field, code) = refusal(judge_close(&close, &known(&buy, Some(first))));
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("closes_signal_id", "already_closed")
    );
    let early = close_of(&buy, json!({"generated_at": "2026-11-30T08:59:59Z"}));
    assert_eq!(
        refusal(judge_close(&early, &known(&buy, None))),
        ("generated_at".into(), "out_of_order".into())
    );
}

#[test]
fn the_same_close_judged_again_is_not_refused_and_a_close_naming_nothing_has_no_outcome() {
    let buy = buy();
    let close = close_of(&buy, json!({"entry_price": "43000"}));
    let again = judge_close(&close, &known(&buy, Some(close.id))).unwrap();
    assert!(again.is_some());
    let bare = signal(json!({
        "kind": "close", "asset": "BTC/USD", "confidence": 90,
        "generated_at": "2026-11-30T11:00:00Z"
    }));
    assert_eq!(judge_close(&bare, &Position::Unknown).unwrap(), None);
}

#[test]
fn reason_is_a_close_field_only() {
    let mut v = json!({
        "kind": "buy", "asset": "BTC/USD", "entry_price": "42000", "target_price": "44000",
        "stop_loss": "41000", "timeframe": "1H", "confidence": 80,
        "generated_at": "2026-11-30T09:00:00Z", "reason": "target"
    });
    let Err(Rejection::Invalid(errors)) = parse_signal(v.to_string().as_bytes(), now()) else {
        panic!("a buy with a reason is refused");
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code),
        ("reason", "not_allowed")
    );
    v["kind"] = json!("close");
    for field in ["target_price", "stop_loss", "timeframe"] {
        v.as_object_mut().unwrap().remove(field);
    }
    v["reason"] = json!("moon");
    let Err(Rejection::Invalid(errors)) = parse_signal(v.to_string().as_bytes(), now()) else {
        panic!("an unknown reason is refused");
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code),
        ("reason", "invalid_value")
    );
    v["reason"] = json!("STOP");
    let close = parse_signal(v.to_string().as_bytes(), now()).unwrap();
    assert_eq!(close.reason, Some(CloseReason::Stop));
}
