//! Exact decimal numbers from JSON text, never through `f64`.
//!
//! Both price strings (`"45250.50"`) and JSON number literals (`45250.5`, `4.5e4`) go through
//! [`exact_decimal`], which accepts the JSON number grammar, moves the decimal point by the
//! exponent as text and hands the result to [`Decimal::from_str_exact`], so a value is either
//! kept exactly or rejected (rust_decimal's own `from_scientific` rounds long mantissas).

use rust_decimal::Decimal;

/// Why a piece of text is not an exact decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumberError {
    /// Not a number at all: `"abc"`, `"1,5"`, `"NaN"`, `"Infinity"`, `".5"`.
    Syntax,
    /// A number, but too large or too precise for a `Decimal` (28 decimal places, ~7.9e28).
    Unrepresentable,
}

/// Parses `text`, written as a JSON number (`-?digits(.digits)?([eE][+-]?digits)?`), exactly.
pub(super) fn exact_decimal(text: &str) -> Result<Decimal, NumberError> {
    let parts = split(text).ok_or(NumberError::Syntax)?;
    // value = digits × 10^exp, with `digits` free of leading and trailing zeros.
    let all_digits = format!("{}{}", parts.int, parts.frac);
    let trimmed_front = all_digits.trim_start_matches('0');
    if trimmed_front.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let digits = trimmed_front.trim_end_matches('0');
    let trailing_zeros = (trimmed_front.len() - digits.len()) as i64;
    // An exponent with more than six digits cannot give a representable non-zero value.
    let exp_digits = parts.exp_digits.trim_start_matches('0');
    if exp_digits.len() > 6 {
        return Err(NumberError::Unrepresentable);
    }
    let magnitude: i64 = exp_digits.parse().unwrap_or(0);
    let written_exp = if parts.exp_negative {
        -magnitude
    } else {
        magnitude
    };
    let exp = written_exp - parts.frac.len() as i64 + trailing_zeros;

    let plain = if exp >= 0 {
        if digits.len() as i64 + exp > 29 {
            return Err(NumberError::Unrepresentable);
        }
        format!("{digits}{}", "0".repeat(exp as usize))
    } else {
        let scale = (-exp) as usize;
        if scale > 28 {
            return Err(NumberError::Unrepresentable);
        }
        if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            format!("{whole}.{fraction}")
        } else {
            format!("0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    };
    let sign = if parts.negative { "-" } else { "" };
    Decimal::from_str_exact(&format!("{sign}{plain}")).map_err(|_| NumberError::Unrepresentable)
}

struct Parts<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
    exp_negative: bool,
    /// The exponent's digits, or empty.
    exp_digits: &'a str,
}

/// Splits `text` into its parts if it follows the JSON number grammar (leading zeros allowed).
fn split(text: &str) -> Option<Parts<'_>> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp_negative, exp_digits) = match rest.find(['e', 'E']) {
        Some(i) => {
            let exp = &rest[i + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if !all_digits(digits) {
                return None;
            }
            (&rest[..i], exp.starts_with('-'), digits)
        }
        None => (rest, false, ""),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) if all_digits(frac) => (int, frac),
        Some(_) => return None,
        None => (mantissa, ""),
    };
    if !all_digits(int) {
        return None;
    }
    Some(Parts {
        negative,
        int,
        frac,
        exp_negative,
        exp_digits,
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn plain_numbers_are_kept_exactly() {
        assert_eq!(exact_decimal("0.1"), Ok(dec("0.1")));
        assert_eq!(exact_decimal("45250.50"), Ok(dec("45250.5")));
        assert_eq!(exact_decimal("45250.123456789"), Ok(dec("45250.123456789")));
        assert_eq!(exact_decimal("0.00001234"), Ok(dec("0.00001234")));
        assert_eq!(exact_decimal("007"), Ok(dec("7")));
        assert_eq!(exact_decimal("-12.5"), Ok(dec("-12.5")));
        assert_eq!(exact_decimal("-0"), Ok(Decimal::ZERO));
        assert_eq!(exact_decimal("0.000"), Ok(Decimal::ZERO));
    }

    #[test]
    fn scientific_notation_moves_the_point() {
        assert_eq!(exact_decimal("4.5e4"), Ok(dec("45000")));
        assert_eq!(exact_decimal("4.5E+4"), Ok(dec("45000")));
        assert_eq!(exact_decimal("1234e-8"), Ok(dec("0.00001234")));
        assert_eq!(exact_decimal("1.5e-1"), Ok(dec("0.15")));
        assert_eq!(exact_decimal("12.5e1"), Ok(dec("125")));
        assert_eq!(exact_decimal("0e999999999"), Ok(Decimal::ZERO));
        assert_eq!(exact_decimal("1e0000000005"), Ok(dec("100000")));
        // rust_decimal's from_scientific would round this 29-digit mantissa; we keep it.
        assert_eq!(
            exact_decimal("1.2345678901234567890123456789e1"),
            Ok(dec("12.345678901234567890123456789"))
        );
    }

    #[test]
    fn longest_exact_values_fit_and_one_more_digit_does_not() {
        assert_eq!(
            exact_decimal("0.0000000000000000000000000001"),
            Ok(dec("0.0000000000000000000000000001"))
        );
        assert_eq!(
            exact_decimal("0.00000000000000000000000000001"),
            Err(NumberError::Unrepresentable)
        );
        assert_eq!(
            exact_decimal("1e28"),
            Ok(dec("10000000000000000000000000000"))
        );
        assert_eq!(exact_decimal("1e29"), Err(NumberError::Unrepresentable));
        assert_eq!(exact_decimal("8e28"), Err(NumberError::Unrepresentable));
        assert_eq!(
            exact_decimal("1e-9999999"),
            Err(NumberError::Unrepresentable)
        );
        // 30 significant digits cannot be held exactly; rounding silently is not allowed.
        assert_eq!(
            exact_decimal("1.23456789012345678901234567891"),
            Err(NumberError::Unrepresentable)
        );
        // Trailing zeros beyond 28 places are not precision.
        assert_eq!(
            exact_decimal("1.500000000000000000000000000000000"),
            Ok(dec("1.5"))
        );
    }

    #[test]
    fn anything_but_the_json_number_grammar_is_a_syntax_error() {
        for bad in [
            "", "-", "abc", "NaN", "Infinity", "-inf", ".5", "5.", "1,5", "1_000", "+5", " 5",
            "5 ", "0x10", "1e", "1e+", "1e+-2", "1e--2", "1.2.3", "--1", "1e2.5", "١٢",
        ] {
            assert_eq!(exact_decimal(bad), Err(NumberError::Syntax), "{bad:?}");
        }
    }
}
