//! `/filter`: several filters in one line (`confidence:80 types:buy,sell …`), the current
//! ones when given nothing, `reset` for the defaults. The rules are the domain's
//! ([`herald_domain::parse_filters`]); a bad token is named, with a correct example, and
//! nothing changes.

use herald_domain::{FILTER_EXAMPLE, FilterError, FilterProblem, FilterRequest, MAX_ASSETS};
use herald_domain::{Language, Preferences, parse_filters};
use herald_store::StoreError;
use teloxide::utils::html::escape;

use super::{Ctx, Reply};
use crate::words::{self, t, tf};

/// The answer to `/filter …`.
pub async fn run(ctx: &Ctx<'_>, args: &str) -> Result<Reply, StoreError> {
    let lang = ctx.lang();
    let request = match parse_filters(args) {
        Ok(request) => request,
        Err(e) => return Ok(Reply::text(error(lang, &e))),
    };
    let done = match request {
        FilterRequest::Show => {
            return Ok(Reply::text(format!(
                "{}\n\n{}",
                current(lang, &ctx.trader.prefs),
                tf(lang, "filter-usage", &[("example", FILTER_EXAMPLE.into())])
            )));
        }
        FilterRequest::Reset => "filter-reset",
        FilterRequest::Set(_) => "filter-saved",
    };
    let prefs = ctx
        .trader
        .change(ctx.store, ctx.now, |current| request.applied_to(current))
        .await?;
    Ok(Reply::text(format!(
        "{}\n\n{}",
        t(lang, done),
        current(lang, &prefs)
    )))
}

/// The filters as they stand.
pub fn current(lang: Language, prefs: &Preferences) -> String {
    tf(
        lang,
        "filter-current",
        &[
            ("types", words::wanted_kinds(lang, prefs).into()),
            ("confidence", prefs.min_confidence.into()),
            ("assets", words::assets(lang, prefs).into()),
            ("hours", words::hours(lang, prefs).into()),
            ("format", words::format(lang, prefs.format).into()),
        ],
    )
}

fn error(lang: Language, e: &FilterError) -> String {
    let id = format!("filter-problem-{}", e.problem.code());
    let problem = match e.problem {
        FilterProblem::TooManyAssets => tf(lang, &id, &[("max", MAX_ASSETS.into())]),
        _ => t(lang, &id),
    };
    tf(
        lang,
        "filter-error",
        &[
            ("token", escape(&e.token).into()),
            ("problem", problem.into()),
            ("example", e.example.into()),
        ],
    )
}
