//! How Herald shows performance to traders: texts from the message catalog and a chart, made
//! from the figures `herald-domain` computes ([`herald_domain::performance`]). Pure: no I/O,
//! no clock (the caller passes `now`).
//!
//! - [`performance_text`]: the `/performance` reply, for the trader's own signals or all of
//!   them ([`Scope`]), over a [`Window`](herald_domain::Window).
//! - [`outcome_line`]: the line added to a signal's message when its position ends
//!   (`✅ Long closed at $43,260.5 · +3.00% · target hit · open 2 h 15 min`).
//! - [`report_caption`]: the caption of a daily or weekly report's photo.
//! - [`cumulative_return_png`]: that photo, the running sum of returns as an 800×400 PNG,
//!   drawn without any text (the caption carries the numbers).
//!
//! Every text is Telegram HTML. Numbers are formatted here, the same in every language:
//! prices as the signal messages show them (`$45,250.5`), returns signed with two decimals
//! (`+3.00%`, `-2.30%`, like a signal's target and stop), win rates with one (`66.7%`).

mod caption;
mod chart;
mod outcome;
mod performance;
mod text;

pub use caption::{MAX_CAPTION_CHARS, report_caption};
pub use chart::{HEIGHT, WIDTH, cumulative_return_png};
pub use outcome::outcome_line;
pub use performance::{Scope, performance_text};
