//! `signals`: every accepted signal, once. `payload` is the source of truth.

use sea_orm::entity::prelude::*;

/// A stored signal. The indexed columns are copies of fields of `payload`, kept for queries.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signals")]
pub struct Model {
    /// The signal's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `buy`, `sell`, `close` or `alert`.
    pub kind: String,
    /// E.g. `BTC/USD`.
    pub asset: String,
    /// 0–100.
    pub confidence: i32,
    /// When the engine generated it.
    pub generated_at: DateTimeUtc,
    /// When Herald received it.
    pub received_at: DateTimeUtc,
    /// The canonical `SignalV1` JSON; prices are decimal strings inside it.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// After this nothing of the signal is sent (null: stored before deadlines were kept).
    pub deadline: Option<DateTimeUtc>,
    /// The last user id the fan-out has recorded deliveries up to (user-id order).
    pub fanout_cursor: Option<Uuid>,
    /// When the fan-out finished.
    pub fanout_done_at: Option<DateTimeUtc>,
    /// The payload's `source_model`, for the performance figures.
    pub source_model: Option<String>,
    /// The W3C `traceparent` of the signal's fan-out, when traces were on.
    pub trace_context: Option<String>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
