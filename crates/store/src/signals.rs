//! Signals: stored once each, as their canonical JSON.

use chrono::{DateTime, Utc};
use herald_domain::{Signal, SignalId, parse_signal};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};

use crate::entity::signals;
use crate::{Store, StoreError};

impl Store {
    /// Stores a signal. Returns `true` if it was new, `false` if a signal with its id was
    /// already stored (the stored one is kept untouched).
    pub async fn insert_signal(
        &self,
        s: &Signal,
        received_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let payload = String::from_utf8(s.to_json())
            .map_err(|e| StoreError::Invalid(format!("signal JSON is not UTF-8: {e}")))?;
        let inserted = signals::Entity::insert(signals::ActiveModel {
            id: Set(s.id.0),
            kind: Set(s.kind.as_str().to_string()),
            asset: Set(s.asset.as_str().to_string()),
            confidence: Set(i32::from(s.confidence.get())),
            generated_at: Set(s.generated_at),
            received_at: Set(received_at),
            payload: Set(payload),
        })
        .on_conflict(
            OnConflict::column(signals::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(inserted == 1)
    }

    /// The stored signal, rebuilt from its payload by the domain parser.
    pub async fn signal(&self, id: SignalId) -> Result<Option<Signal>, StoreError> {
        let Some(row) = signals::Entity::find_by_id(id.0).one(&self.db).await? else {
            return Ok(None);
        };
        let signal = parse_signal(row.payload.as_bytes(), row.received_at)
            .map_err(|e| StoreError::corrupt("signals", id, e))?;
        Ok(Some(signal))
    }

    /// Whether a signal with this id is stored.
    pub async fn signal_exists(&self, id: SignalId) -> Result<bool, StoreError> {
        Ok(signals::Entity::find_by_id(id.0).count(&self.db).await? > 0)
    }
}
