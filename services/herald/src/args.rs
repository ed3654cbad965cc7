//! Option values the operator's commands share: lists of signal kinds and of assets, each
//! checked by clap's value parser so that its message names the option and the bad value.

use std::collections::BTreeSet;

use herald_domain::{Asset, SignalKind};

/// `--kinds`: a comma-separated list.
#[derive(Debug, Clone)]
pub struct Kinds(pub BTreeSet<SignalKind>);

/// `--assets`: a comma-separated list, or `all` (empty).
#[derive(Debug, Clone)]
pub struct Assets(pub BTreeSet<Asset>);

/// The kinds of a comma-separated list (`buy, SELL`), in any case; empty items are ignored.
pub fn kind_list(s: &str) -> Result<BTreeSet<SignalKind>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::parse)
        .collect()
}

/// `--assets`: `BTC/USD,ETH/USD`, or `all`.
pub fn parse_assets(s: &str) -> Result<Assets, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(Assets(BTreeSet::new()));
    }
    let assets = s
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(Asset::parse)
        .collect::<Result<BTreeSet<_>, _>>()?;
    if assets.is_empty() {
        return Err("expected assets such as BTC/USD,ETH/USD, or all".into());
    }
    Ok(Assets(assets))
}
