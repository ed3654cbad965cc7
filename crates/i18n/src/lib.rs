//! Herald's message catalog: every text a trader reads — command replies, menus, errors and
//! the signal messages themselves — in every language Herald speaks, as
//! [Project Fluent](https://projectfluent.org) files in `locales/` (one `<code>.ftl` per
//! [`Language`]), compiled into the binary.
//!
//! ```
//! use herald_i18n::{catalog, Arg};
//! use herald_domain::Language;
//!
//! let text = catalog().format(Language::Es, "zone-set", &[("zone", Arg::from("Europe/Madrid")),
//!     ("time", Arg::from("14:05"))]);
//! assert!(text.contains("Europe/Madrid"));
//! ```
//!
//! Rules for the catalog:
//!
//! - Replies are Telegram HTML: a message may use tags (`<b>`), and every argument that
//!   came from a trader must be escaped by the caller before it is passed in.
//! - Prices, percentages and times are formatted by Herald (the spec's format, the same in
//!   every language) and passed in as text; only counts are numbers (for plurals).
//! - Every language has every message with the same arguments: a test fails otherwise.
//!   A message missing at run time falls back to English, then to its id, and is logged.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use herald_domain::{Labels, Language};

/// The catalog's sources, by language.
const SOURCES: [(Language, &str); 2] = [
    (Language::En, include_str!("../locales/en.ftl")),
    (Language::Es, include_str!("../locales/es.ftl")),
];

/// An argument of a message: text (already escaped for HTML where it came from a trader) or
/// a count.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    /// Inserted as it is.
    Text(Cow<'a, str>),
    /// A count: selects plural forms, printed without grouping.
    Count(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(Cow::Borrowed(s))
    }
}

impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Text(Cow::Owned(s))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(Cow::Borrowed(s.as_str()))
    }
}

macro_rules! count_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(n: $t) -> Self {
                Arg::Count(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
count_from!(i64, i32, u8, u32, u64, usize);

/// One language's compiled messages, and its signal labels.
struct Locale {
    bundle: FluentBundle<FluentResource>,
    labels: BTreeMap<&'static str, String>,
}

/// Every language's messages. Build once ([`catalog`]); cheap to share.
pub struct Catalog {
    locales: Vec<(Language, Locale)>,
}

/// The catalog, compiled on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::build().expect("the built-in message catalog is valid"))
}

/// The message id of each signal label, by [`Labels`] field.
const LABEL_IDS: [&str; 27] = [
    "signal-trading-signal",
    "signal-close-signal",
    "signal-market-alert",
    "signal-buy",
    "signal-sell",
    "signal-close",
    "signal-alert",
    "signal-details",
    "signal-alert-details",
    "signal-direction",
    "signal-asset",
    "signal-entry-price",
    "signal-target-price",
    "signal-stop-loss",
    "signal-timeframe",
    "signal-action",
    "signal-close-position",
    "signal-exit-price",
    "signal-closes-signal",
    "signal-confidence",
    "signal-model",
    "signal-performance",
    "signal-generated",
    "signal-market-context",
    "signal-notes",
    "signal-one-more-note",
    "signal-more-notes",
];

impl Catalog {
    /// Parses and compiles every language; an error names the language and the problem.
    pub fn build() -> Result<Self, String> {
        let mut locales = Vec::new();
        for (language, source) in SOURCES {
            let resource = FluentResource::try_new(source.to_string()).map_err(|(_, errors)| {
                format!("{}.ftl does not parse: {errors:?}", language.code())
            })?;
            let id = language
                .code()
                .parse()
                .map_err(|e| format!("language code {}: {e}", language.code()))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Unicode isolation marks would show up in Telegram's text and break copy-paste
            // of prices and commands.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|errors| format!("{}.ftl: {errors:?}", language.code()))?;
            let mut locale = Locale {
                bundle,
                labels: BTreeMap::new(),
            };
            // The count of `signal-more-notes` is filled in by the renderer, as `{n}`.
            let mut placeholder = FluentArgs::new();
            placeholder.set("n", FluentValue::from("{n}"));
            for id in LABEL_IDS {
                let text = Self::format_in(&locale, id, Some(&placeholder))
                    .ok_or_else(|| format!("{}.ftl has no {id}", language.code()))?;
                locale.labels.insert(id, text);
            }
            locales.push((language, locale));
        }
        Ok(Self { locales })
    }

    fn locale(&self, language: Language) -> &Locale {
        self.locales
            .iter()
            .find(|(l, _)| *l == language)
            .or_else(|| self.locales.first())
            .map(|(_, locale)| locale)
            .expect("the catalog has English")
    }

    fn format_in(locale: &Locale, id: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
        let message = locale.bundle.get_message(id)?;
        let pattern = message.value()?;
        let mut errors = Vec::new();
        let text = locale.bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::error!(id, ?errors, "a catalog message did not format cleanly");
            debug_assert!(false, "message {id} did not format: {errors:?}");
        }
        Some(text.into_owned())
    }

    /// The message `id` in `language`, without arguments.
    pub fn get(&self, language: Language, id: &str) -> String {
        self.format(language, id, &[])
    }

    /// The message `id` in `language` with `args`. A message missing in `language` falls
    /// back to English, then to its id (logged; a test keeps the languages in step).
    pub fn format(&self, language: Language, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Text(text) => fluent.set(*name, FluentValue::from(text.as_ref())),
                Arg::Count(n) => fluent.set(*name, FluentValue::from(*n)),
            }
        }
        let fluent = (!args.is_empty()).then_some(&fluent);
        if let Some(text) = Self::format_in(self.locale(language), id, fluent) {
            return text;
        }
        tracing::error!(id, language = language.code(), "no such catalog message");
        debug_assert!(false, "no catalog message {id} in {}", language.code());
        Self::format_in(self.locale(Language::En), id, fluent).unwrap_or_else(|| id.to_string())
    }

    /// The words of a signal message in `language`, for [`herald_domain::render_in`].
    pub fn labels(&self, language: Language) -> Labels<'_> {
        let l = &self.locale(language).labels;
        let get = |id: &str| l.get(id).map(String::as_str).unwrap_or_default();
        Labels {
            trading_signal: get("signal-trading-signal"),
            close_signal: get("signal-close-signal"),
            market_alert: get("signal-market-alert"),
            buy: get("signal-buy"),
            sell: get("signal-sell"),
            close: get("signal-close"),
            alert: get("signal-alert"),
            signal_details: get("signal-details"),
            alert_details: get("signal-alert-details"),
            direction: get("signal-direction"),
            asset: get("signal-asset"),
            entry_price: get("signal-entry-price"),
            target_price: get("signal-target-price"),
            stop_loss: get("signal-stop-loss"),
            timeframe: get("signal-timeframe"),
            action: get("signal-action"),
            close_position: get("signal-close-position"),
            exit_price: get("signal-exit-price"),
            closes_signal: get("signal-closes-signal"),
            confidence: get("signal-confidence"),
            model: get("signal-model"),
            performance: get("signal-performance"),
            generated: get("signal-generated"),
            market_context: get("signal-market-context"),
            notes: get("signal-notes"),
            one_more_note: get("signal-one-more-note"),
            more_notes: get("signal-more-notes"),
        }
    }
}

/// Each message id of a language's source, with the variables it uses: what the tests
/// compare between languages.
pub fn message_variables(language: Language) -> BTreeMap<String, BTreeSet<String>> {
    let source = SOURCES
        .iter()
        .find(|(l, _)| *l == language)
        .map(|(_, s)| *s)
        .unwrap_or_default();
    let resource = match fluent_syntax::parser::parse(source) {
        Ok(resource) => resource,
        Err((resource, _)) => resource,
    };
    let mut out = BTreeMap::new();
    for entry in resource.body {
        if let ast::Entry::Message(message) = entry {
            let mut vars = BTreeSet::new();
            if let Some(pattern) = &message.value {
                pattern_vars(pattern, &mut vars);
            }
            out.insert(message.id.name.to_string(), vars);
        }
    }
    out
}

fn pattern_vars(pattern: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(expression: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for variant in variants {
                pattern_vars(&variant.value, vars);
            }
        }
        ast::Expression::Inline(inline) => inline_vars(inline, vars),
    }
}

fn inline_vars(inline: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for arg in &arguments.positional {
                inline_vars(arg, vars);
            }
            for arg in &arguments.named {
                inline_vars(&arg.value, vars);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_builds() {
        Catalog::build().unwrap();
    }

    #[test]
    fn every_language_has_every_message_with_the_same_arguments() {
        let english = message_variables(Language::En);
        assert!(english.len() > 50, "{}", english.len());
        for language in Language::ALL {
            let other = message_variables(language);
            let missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}: missing {missing:?}, not in English {extra:?}",
                language.code()
            );
            for (id, vars) in &english {
                assert_eq!(
                    &other[id],
                    vars,
                    "{} uses other arguments in {id}",
                    language.code()
                );
            }
        }
    }

    #[test]
    fn english_signal_labels_are_the_specs() {
        assert_eq!(catalog().labels(Language::En), Labels::ENGLISH);
    }

    #[test]
    fn spanish_labels_are_spanish_and_complete() {
        let es = catalog().labels(Language::Es);
        assert_ne!(es.trading_signal, Labels::ENGLISH.trading_signal);
        assert!(es.more_notes.contains("{n}"));
        assert!(!es.one_more_note.is_empty() && !es.notes.is_empty());
    }

    #[test]
    fn arguments_and_plurals() {
        let one = catalog().format(Language::En, "signals-title", &[("count", 1.into())]);
        let many = catalog().format(Language::En, "signals-title", &[("count", 3.into())]);
        assert_ne!(one, many);
        assert!(many.contains('3'));
    }
}
