//! API keys: stored by hash, looked up by hash, revoked by id.
//!
//! The store never sees a key, only its SHA-256 hex digest (computed by the caller, see
//! `herald-auth`) and its first 8 characters for people to recognise it by.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::api_keys::{self, Column as C};
use crate::{Store, StoreError};

/// A stored API key (without the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id.
    pub id: Uuid,
    /// What it is for.
    pub name: String,
    /// SHA-256 hex of the key.
    pub key_hash: String,
    /// The key's first 8 characters.
    pub key_prefix: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Last recorded use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_keys::Model> for ApiKeyRecord {
    fn from(m: api_keys::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            key_hash: m.key_hash,
            key_prefix: m.key_prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

impl Store {
    /// Stores a new key by its hash. A hash that is already stored is an error.
    pub async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        let model = api_keys::Model {
            id: Uuid::now_v7(),
            name: name.to_string(),
            key_hash: key_hash.to_string(),
            key_prefix: key_prefix.to_string(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        api_keys::Entity::insert(api_keys::ActiveModel {
            id: Set(model.id),
            name: Set(model.name.clone()),
            key_hash: Set(model.key_hash.clone()),
            key_prefix: Set(model.key_prefix.clone()),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(model.into())
    }

    /// The key with this hash, unless it was revoked.
    pub async fn active_api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(api_keys::Entity::find()
            .filter(C::KeyHash.eq(key_hash))
            .filter(C::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .map(ApiKeyRecord::from))
    }

    /// Revokes a key. Returns `false` if it was already revoked or does not exist.
    pub async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = api_keys::Entity::update_many()
            .col_expr(C::RevokedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Notes that a key was just used.
    pub async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        api_keys::Entity::update_many()
            .col_expr(C::LastUsedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
