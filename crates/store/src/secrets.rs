//! Secrets Herald generates once and every replica then reads: the admin JWT key when the
//! operator set none, so that `herald all` works out of the box and tokens one admin-api
//! replica signs are accepted by the others.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::entity::server_secrets;
use crate::{Store, StoreError};

impl Store {
    /// The secret named `name`; when there is none yet, `generate`'s is stored and returned.
    /// Safe when several processes start at once: the first insert wins and all read it.
    pub async fn server_secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        if let Some(found) = server_secrets::Entity::find_by_id(name)
            .one(&self.db)
            .await?
        {
            return Ok(found.value);
        }
        server_secrets::Entity::insert(server_secrets::ActiveModel {
            name: Set(name.to_string()),
            value: Set(generate()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(server_secrets::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        server_secrets::Entity::find_by_id(name)
            .one(&self.db)
            .await?
            .map(|found| found.value)
            .ok_or_else(|| StoreError::Invalid(format!("secret {name} vanished as it was made")))
    }
}
