//! `GET /api/stats/performance?window=` (or `?from=&to=`): how the signals generated in a
//! window performed — signals by kind and asset, positions open and closed, win rate,
//! total, average and median return, the best and the worst, per source model — as
//! [`herald_domain::figures`] adds them up. The same callers as `GET /api/stats`: staff, or a
//! program with an API key of scope `stats:read`.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use herald_auth::{Reader, StatsRead};
use herald_domain::{FieldProblem, Window};
use serde::Deserialize;

use crate::extract::Params;
use crate::views::PerformanceView;
use crate::{ApiError, AppState};

/// The window when the request names none.
const DEFAULT_WINDOW: Window = Window::Week;
/// How far back `from` is from `to` when only `to` is given: as long as the default window.
const DEFAULT_RANGE: Duration = Duration::days(7);

/// `?window=` or `?from=&to=`. Read as text and checked here, so that a bad value is a
/// `422` naming the parameter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// `24h`, `7d`, `30d` or `all`, ending now; `7d` when neither this nor `from`/`to` is
    /// given.
    window: Option<String>,
    /// Instead of `window`: the start (RFC 3339, included); 7 days before `to` when absent.
    from: Option<String>,
    /// Instead of `window`: the end (RFC 3339, not included); now when absent.
    to: Option<String>,
}

/// The window a query asks for.
#[derive(Debug, PartialEq, Eq)]
struct Span {
    /// The named window, if one (not for `from`/`to`).
    window: Option<Window>,
    /// `None`: all time.
    from: Option<DateTime<Utc>>,
    to: DateTime<Utc>,
}

/// How the signals generated in a window performed: signals by kind and asset, positions
/// open and closed, wins and losses, the win rate, total, average and median return, the
/// best and the worst position, and the same per source model. Returns are percentages as
/// decimal strings. Staff, or an API key with `stats:read`.
#[utoipa::path(get, path = "/api/stats/performance", tag = "stats", params(Query),
    security(("staff" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the window's figures", body = PerformanceView),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 422, description = "a bad `window`, `from` or `to`, or `from` not before `to`; `details` names each parameter (`invalid`)", body = herald_runtime::ErrorBody),
        (status = 429, description = "too many tries (`rate_limited`); `Retry-After` says when to come back", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn performance(
    State(state): State<AppState>,
    _reader: Reader<StatsRead>,
    Params(query): Params<Query>,
) -> Result<Json<PerformanceView>, ApiError> {
    let span = span(&query, Utc::now()).map_err(|p| ApiError::problems("the query", &p))?;
    let rows = state
        .store
        .performance_rows(None, span.from, span.to)
        .await?;
    let figures = herald_domain::figures(&rows);
    Ok(Json(PerformanceView::new(
        span.window,
        span.from,
        span.to,
        figures,
    )))
}

/// The window `query` asks for at `now`, or every problem with it.
fn span(query: &Query, now: DateTime<Utc>) -> Result<Span, Vec<FieldProblem>> {
    let problem = |field: &str, message: String| FieldProblem {
        field: field.to_string(),
        message,
    };
    if let Some(raw) = &query.window {
        if query.from.is_some() || query.to.is_some() {
            return Err(vec![problem(
                "window",
                "give either window or from/to, not both".into(),
            )]);
        }
        let window = raw
            .parse::<Window>()
            .map_err(|e| vec![problem("window", e)])?;
        return Ok(Span {
            window: Some(window),
            from: window.since(now),
            to: now,
        });
    }
    if query.from.is_none() && query.to.is_none() {
        return Ok(Span {
            window: Some(DEFAULT_WINDOW),
            from: DEFAULT_WINDOW.since(now),
            to: now,
        });
    }
    let time = |field: &str, raw: Option<&str>| {
        raw.map(|raw| {
            DateTime::parse_from_rfc3339(raw.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    problem(
                        field,
                        format!("{raw:?} is not an RFC 3339 time such as 2026-11-30T08:00:00Z"),
                    )
                })
        })
        .transpose()
    };
    let (from, to) = match (
        time("from", query.from.as_deref()),
        time("to", query.to.as_deref()),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (from, to) => return Err(from.err().into_iter().chain(to.err()).collect()),
    };
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - DEFAULT_RANGE);
    if from >= to {
        return Err(vec![problem(
            "from",
            format!(
                "{} is not before to ({})",
                from.to_rfc3339(),
                to.to_rfc3339()
            ),
        )]);
    }
    Ok(Span {
        window: None,
        from: Some(from),
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(window: Option<&str>, from: Option<&str>, to: Option<&str>) -> Query {
        Query {
            window: window.map(String::from),
            from: from.map(String::from),
            to: to.map(String::from),
        }
    }

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn fields(problems: Vec<FieldProblem>) -> Vec<String> {
        problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn windows_and_ranges_are_read_and_checked() {
        let now = at("2026-11-30T12:00:00Z");
        assert_eq!(
            span(&query(None, None, None), now).unwrap(),
            Span {
                window: Some(Window::Week),
                from: Some(at("2026-11-23T12:00:00Z")),
                to: now
            }
        );
        assert_eq!(
            span(&query(Some("all"), None, None), now).unwrap(),
            Span {
                window: Some(Window::All),
                from: None,
                to: now
            }
        );
        assert_eq!(
            span(&query(None, Some("2026-11-01T00:00:00+01:00"), None), now).unwrap(),
            Span {
                window: None,
                from: Some(at("2026-10-31T23:00:00Z")),
                to: now
            }
        );
        assert_eq!(
            span(&query(None, None, Some("2026-11-10T00:00:00Z")), now).unwrap(),
            Span {
                window: None,
                from: Some(at("2026-11-03T00:00:00Z")),
                to: at("2026-11-10T00:00:00Z")
            }
        );

        let refused = |w, f, t| fields(span(&query(w, f, t), now).unwrap_err());
        assert_eq!(refused(Some("1y"), None, None), ["window"]);
        assert_eq!(
            refused(Some("7d"), Some("2026-11-01T00:00:00Z"), None),
            ["window"]
        );
        assert_eq!(
            refused(None, Some("yesterday"), Some("soon")),
            ["from", "to"]
        );
        assert_eq!(refused(None, Some("2026-12-01T00:00:00Z"), None), ["from"]);
        let same = Some("2026-11-01T00:00:00Z");
        assert_eq!(refused(None, same, same), ["from"]);
    }
}
