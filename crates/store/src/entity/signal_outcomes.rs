//! `signal_outcomes`: how each position (a buy or sell) ended. Prices and the return are
//! exact decimals written as text.

use sea_orm::entity::prelude::*;

/// One ended position.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_outcomes")]
pub struct Model {
    /// The buy or sell.
    #[sea_orm(primary_key, auto_increment = false)]
    pub signal_id: Uuid,
    /// The close that ended it.
    #[sea_orm(unique)]
    pub close_signal_id: Uuid,
    /// `buy` or `sell`.
    pub kind: String,
    /// The asset.
    pub asset: String,
    /// The position signal's model.
    pub source_model: Option<String>,
    /// Entry price (decimal text).
    pub entry_price: Option<String>,
    /// Exit price (decimal text).
    pub exit_price: Option<String>,
    /// Return in percent (decimal text).
    pub return_pct: Option<String>,
    /// `target`, `stop`, `manual` or `expired`.
    pub reason: Option<String>,
    /// The position signal's `generated_at`.
    pub opened_at: DateTimeUtc,
    /// The close's `generated_at`.
    pub closed_at: DateTimeUtc,
    /// When Herald recorded it.
    pub recorded_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
