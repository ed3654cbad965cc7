//! Text helpers for the renderer: HTML escaping, Telegram's visible length, clipping, and
//! price and percentage formatting (all in `Decimal`, never `f64`).

use std::borrow::Cow;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::signal::Price;

/// Escapes text for Telegram's HTML parse mode.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, ending in `…` when cut.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    Cow::Owned(clipped)
}

/// The length of `html` as Telegram counts it: tags removed, entities decoded, in UTF-16
/// code units.
pub fn visible_len(html: &str) -> usize {
    let mut rest = html;
    let mut units = 0;
    while !rest.is_empty() {
        let (bytes, shown) = next_piece(rest);
        units += shown;
        rest = &rest[bytes..];
    }
    units
}

/// `html` cut to at most `max` visible UTF-16 units (with a closing `…`), never inside an
/// entity or a tag. A last resort: layouts keep within the limit on their own.
pub(super) fn fit(html: String, max: usize) -> String {
    if visible_len(&html) <= max {
        return html;
    }
    let budget = max.saturating_sub(1);
    let (mut end, mut units) = (0, 0);
    while end < html.len() {
        let (bytes, shown) = next_piece(&html[end..]);
        if units + shown > budget {
            break;
        }
        units += shown;
        end += bytes;
    }
    format!("{}…", &html[..end])
}

/// The first piece of `html`: (its length in bytes, its visible length in UTF-16 units).
/// A piece is a tag (invisible), an entity (one character) or one plain character.
fn next_piece(html: &str) -> (usize, usize) {
    let bytes = html.as_bytes();
    if bytes[0] == b'<'
        && let Some(end) = html.find('>')
    {
        return (end + 1, 0);
    }
    if bytes[0] == b'&'
        && let Some(end) = bytes.iter().take(12).position(|&b| b == b';')
        && let Some(decoded) = decode_entity(&html[1..end])
    {
        return (end + 1, decoded.len_utf16());
    }
    let c = html.chars().next().unwrap_or_default();
    (c.len_utf8(), c.len_utf16())
}

/// The character an entity name (between `&` and `;`) stands for, if Telegram knows it:
/// the four named entities it supports, or a numeric one.
fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// `$45,250.5`: thousands separators, the price's own decimals, no trailing zeros. How every
/// message shows a price.
pub fn money(price: Price) -> String {
    let text = price.value().normalize().to_string();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text.as_str(), None),
    };
    let mut out = String::from("$");
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// The move from `entry` to `price` in percent: two decimals, rounded half away from zero,
/// always signed (`+2.76%`, `-1.66%`). `None` only if the ratio does not fit a `Decimal`.
pub(super) fn percent(entry: Price, price: Price) -> Option<String> {
    let (entry, price) = (entry.value(), price.value());
    let change = price.checked_sub(entry)?;
    let ratio = change
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| c.checked_div(entry))
        .or_else(|| change.checked_div(entry)?.checked_mul(Decimal::ONE_HUNDRED))?;
    Some(signed_percent(ratio))
}

/// A percentage as Herald shows it: always signed, two decimals rounded half away from zero
/// (`+2.76%`, `-1.66%`, `+0.00%`; a value that rounds to zero keeps its sign: `-0.00%`).
pub fn signed_percent(value: Decimal) -> String {
    let mut magnitude = value
        .abs()
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    magnitude.rescale(2);
    let sign = if value < Decimal::ZERO { '-' } else { '+' };
    format!("{sign}{magnitude}%")
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn price(s: &str) -> Price {
        Price::new(Decimal::from_str(s).unwrap()).unwrap()
    }

    #[test]
    fn money_groups_thousands_and_keeps_the_price_decimals() {
        assert_eq!(money(price("45250")), "$45,250");
        assert_eq!(money(price("45250.5")), "$45,250.5");
        assert_eq!(money(price("45250.50")), "$45,250.5");
        assert_eq!(money(price("0.00001234")), "$0.00001234");
        assert_eq!(money(price("999")), "$999");
        assert_eq!(money(price("1000")), "$1,000");
        assert_eq!(money(price("1234567.891")), "$1,234,567.891");
        assert_eq!(money(price("100000")), "$100,000");
        assert_eq!(
            money(price("79228162514264337593543950335")),
            "$79,228,162,514,264,337,593,543,950,335"
        );
    }

    #[test]
    fn percent_is_signed_two_decimals_rounded_half_away_from_zero() {
        assert_eq!(percent(price("45250"), price("46500")).unwrap(), "+2.76%");
        assert_eq!(percent(price("45250"), price("44500")).unwrap(), "-1.66%");
        assert_eq!(percent(price("100"), price("110")).unwrap(), "+10.00%");
        // Exact midpoints: 0.005% rounds away from zero on both sides.
        assert_eq!(percent(price("100000"), price("100005")).unwrap(), "+0.01%");
        assert_eq!(percent(price("100000"), price("99995")).unwrap(), "-0.01%");
        assert_eq!(
            percent(price("100000"), price("100004.9")).unwrap(),
            "+0.00%"
        );
        assert_eq!(percent(price("100000"), price("99999")).unwrap(), "-0.00%");
        assert_eq!(percent(price("0.5"), price("2")).unwrap(), "+300.00%");
        // A ratio too large for a Decimal has no percentage rather than a panic.
        let tiny = price("0.0000000000000000000000000001");
        assert_eq!(percent(tiny, price("79228162514264337593543950335")), None);
    }

    #[test]
    fn visible_len_decodes_entities_drops_tags_and_counts_utf16() {
        assert_eq!(visible_len("abc"), 3);
        assert_eq!(visible_len("&amp;&lt;&gt;&quot;"), 4);
        assert_eq!(visible_len("<b>bold</b>"), 4);
        assert_eq!(visible_len("é"), 1);
        assert_eq!(visible_len("😀"), 2);
        assert_eq!(visible_len("\u{23F1}\u{FE0F}"), 2);
        assert_eq!(visible_len("&#128512;&#x41;"), 3);
        assert_eq!(visible_len("a & b; &unknown; <"), 18);
        assert_eq!(visible_len(&escape("<b>&\"")), 5);
    }

    #[test]
    fn fit_cuts_between_pieces_and_marks_the_cut() {
        assert_eq!(fit("short".into(), 10), "short");
        assert_eq!(fit("abcdef".into(), 4), "abc…");
        // Never inside an entity: "&amp;" is one visible character.
        assert_eq!(fit("ab&amp;cd".into(), 4), "ab&amp;…");
        assert_eq!(fit("ab&amp;cd".into(), 3), "ab…");
        // Never inside a surrogate pair's character.
        assert_eq!(fit("a😀b".into(), 3), "a…");
        assert_eq!(visible_len(&fit("😀".repeat(5000), 4096)), 4095);
    }

    #[test]
    fn escape_and_clip() {
        assert_eq!(
            escape("a<b>&\"c\"</code>"),
            "a&lt;b&gt;&amp;&quot;c&quot;&lt;/code&gt;"
        );
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo!", 5), "héll…");
    }
}
