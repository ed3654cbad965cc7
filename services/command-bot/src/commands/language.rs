//! `/language`: the languages Herald speaks, as buttons; `/language es` switches at once.

use herald_domain::{Callback, Language, Preferences};
use herald_store::{Store, StoreError};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::utils::html::escape;

use super::{Ctx, Reply, Trader};
use crate::words::{t, tf};

/// The answer to `/language [code]`.
pub async fn run(ctx: &Ctx<'_>, args: &str) -> Result<Reply, StoreError> {
    let lang = ctx.lang();
    let code = args.split_whitespace().next();
    let Some(code) = code else {
        return Ok(Reply::with_keyboard(t(lang, "language-pick"), keyboard()));
    };
    match code.parse::<Language>() {
        Ok(chosen) => Ok(Reply::text(
            choose(ctx.store, &ctx.trader, chosen, ctx.now).await?,
        )),
        Err(_) => {
            let available: Vec<String> = Language::ALL
                .iter()
                .map(|l| format!("{} ({})", l.native_name(), l.code()))
                .collect();
            Ok(Reply::with_keyboard(
                tf(
                    lang,
                    "language-unknown",
                    &[
                        ("code", escape(code).into()),
                        ("available", available.join(", ").into()),
                    ],
                ),
                keyboard(),
            ))
        }
    }
}

/// One button per language, each in its own name.
pub fn keyboard() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([Language::ALL
        .map(|l| InlineKeyboardButton::callback(l.native_name(), Callback::Language(l).encode()))])
}

/// Saves `chosen` as the trader's language; the confirmation, in that language.
pub async fn choose(
    store: &Store,
    trader: &Trader,
    chosen: Language,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, StoreError> {
    trader
        .change(store, now, |current| Preferences {
            language: chosen,
            ..current.clone()
        })
        .await?;
    Ok(t(chosen, "language-set"))
}
