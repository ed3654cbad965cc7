//! API keys: stored by hash, looked up by hash, listed and revoked by id.
//!
//! The store never sees a key, only its SHA-256 hex digest (computed by the caller, see
//! `herald-auth`) and its first 8 characters for people to recognise it by. Each key carries
//! its scopes, the networks it may be used from and its rate limit.

use chrono::{DateTime, Utc};
use herald_domain::Scope;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
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
    /// Last recorded use (kept in batches: up to a minute behind).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The networks (CIDRs) it may be used from; empty for any.
    pub allowed_ips: Vec<String>,
    /// Requests per second on each replica; `None` for no limit.
    pub rate_limit: Option<u32>,
    /// The admin who created it; `None` when made with the CLI.
    pub created_by: Option<Uuid>,
}

/// What a new key is stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// What it is for.
    pub name: String,
    /// SHA-256 hex of the key.
    pub key_hash: String,
    /// The key's first 8 characters.
    pub key_prefix: String,
    /// What it may do; at least one.
    pub scopes: Vec<Scope>,
    /// Networks (CIDRs, already checked) it may be used from; empty for any.
    pub allowed_ips: Vec<String>,
    /// Requests per second on each replica; `None` for no limit.
    pub rate_limit: Option<u32>,
    /// The admin creating it; `None` from the CLI.
    pub created_by: Option<Uuid>,
}

impl NewApiKey {
    /// A key for the Signal Engine: `signals:write` only, from anywhere, without a limit
    /// (what `herald api-key create --name NAME` makes).
    pub fn ingest(name: &str, key_hash: &str, key_prefix: &str) -> Self {
        Self {
            name: name.to_string(),
            key_hash: key_hash.to_string(),
            key_prefix: key_prefix.to_string(),
            scopes: vec![Scope::SignalsWrite],
            allowed_ips: Vec::new(),
            rate_limit: None,
            created_by: None,
        }
    }
}

impl TryFrom<api_keys::Model> for ApiKeyRecord {
    type Error = StoreError;

    fn try_from(m: api_keys::Model) -> Result<Self, StoreError> {
        let scopes = serde_json::from_value(m.scopes)
            .map_err(|e| StoreError::corrupt("api_keys", m.id, format!("scopes: {e}")))?;
        let allowed_ips = serde_json::from_value(m.allowed_ips)
            .map_err(|e| StoreError::corrupt("api_keys", m.id, format!("allowed_ips: {e}")))?;
        Ok(Self {
            id: m.id,
            name: m.name,
            key_hash: m.key_hash,
            key_prefix: m.key_prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
            scopes,
            allowed_ips,
            rate_limit: m.rate_limit.and_then(|r| u32::try_from(r).ok()),
            created_by: m.created_by,
        })
    }
}

impl Store {
    /// Stores a new key by its hash. A hash that is already stored is an error.
    pub async fn create_api_key(
        &self,
        key: NewApiKey,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        if key.scopes.is_empty() {
            return Err(StoreError::Invalid(
                "an API key needs at least one scope".into(),
            ));
        }
        let mut scopes = key.scopes;
        scopes.sort();
        scopes.dedup();
        let rate_limit = key
            .rate_limit
            .map(|r| {
                i32::try_from(r)
                    .map_err(|_| StoreError::Invalid(format!("rate limit {r} is too large")))
            })
            .transpose()?;
        let model = api_keys::Model {
            id: Uuid::now_v7(),
            name: key.name,
            key_hash: key.key_hash,
            key_prefix: key.key_prefix,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            scopes: serde_json::json!(scopes),
            allowed_ips: serde_json::json!(key.allowed_ips),
            rate_limit,
            created_by: key.created_by,
        };
        api_keys::Entity::insert(api_keys::ActiveModel {
            id: Set(model.id),
            name: Set(model.name.clone()),
            key_hash: Set(model.key_hash.clone()),
            key_prefix: Set(model.key_prefix.clone()),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
            scopes: Set(model.scopes.clone()),
            allowed_ips: Set(model.allowed_ips.clone()),
            rate_limit: Set(model.rate_limit),
            created_by: Set(model.created_by),
        })
        .exec_without_returning(&self.db)
        .await?;
        model.try_into()
    }

    /// The key with this hash, unless it was revoked.
    pub async fn active_api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        api_keys::Entity::find()
            .filter(C::KeyHash.eq(key_hash))
            .filter(C::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .map(ApiKeyRecord::try_from)
            .transpose()
    }

    /// One key by id, revoked or not.
    pub async fn api_key(&self, id: Uuid) -> Result<Option<ApiKeyRecord>, StoreError> {
        api_keys::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(ApiKeyRecord::try_from)
            .transpose()
    }

    /// Every key, oldest first; revoked ones only when `include_revoked`.
    pub async fn list_api_keys(
        &self,
        include_revoked: bool,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut query = api_keys::Entity::find();
        if !include_revoked {
            query = query.filter(C::RevokedAt.is_null());
        }
        query
            .order_by_asc(C::CreatedAt)
            .order_by_asc(C::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ApiKeyRecord::try_from)
            .collect()
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

    /// Notes when keys were last used, in one transaction; a time older than the stored one
    /// changes nothing (batches from several replicas may arrive in any order).
    pub async fn touch_api_keys(&self, uses: &[(Uuid, DateTime<Utc>)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        for (id, at) in uses {
            api_keys::Entity::update_many()
                .col_expr(C::LastUsedAt, Expr::value(*at))
                .filter(C::Id.eq(*id))
                .filter(
                    Condition::any()
                        .add(C::LastUsedAt.is_null())
                        .add(C::LastUsedAt.lt(*at)),
                )
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
