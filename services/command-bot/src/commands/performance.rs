//! `/performance`: says plainly that the statistics are not there yet. Herald does not
//! track how signals end until the signal lifecycle is built; it shows no invented numbers.

use herald_domain::Language;

use super::Reply;
use crate::words::t;

/// The answer to `/performance`.
pub fn run(lang: Language) -> Reply {
    Reply::text(t(lang, "performance-coming"))
}
