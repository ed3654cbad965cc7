//! The audit log: every administrative change and every authentication failure, with who,
//! what, to what, from where and when.
//!
//! It is also what the admin login's rate limit counts ([`Store::count_audit_since`]): the
//! failures of the last minutes per account and per address, the same on every replica.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use crate::entity::audit_log::{self, Column as C};
use crate::{Store, StoreError};

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Who: `user:<id>`, `telegram:<id>`, `key:<id>`, `cli` or `anonymous`.
    pub actor: String,
    /// What, e.g. `preferences.update`.
    pub action: String,
    /// What it was done to, e.g. `user:<id>`.
    pub target: Option<String>,
    /// The client's address, when it came over HTTP.
    pub source: Option<String>,
    /// Before and after, reasons and the like.
    pub details: Option<serde_json::Value>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Its id (UUID v7: newer events have greater ids).
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// From where.
    pub source: Option<String>,
    /// Before and after, reasons and the like.
    pub details: Option<serde_json::Value>,
    /// How many times it happened (1 but for coalesced refusals).
    pub occurrences: u64,
}

impl From<audit_log::Model> for AuditRecord {
    fn from(m: audit_log::Model) -> Self {
        Self {
            id: m.id,
            at: m.at,
            actor: m.actor,
            action: m.action,
            target: m.target,
            source: m.source,
            details: m.details,
            occurrences: u64::try_from(m.occurrences).unwrap_or(1),
        }
    }
}

/// Which events a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action, or every action under it when it ends with `.` (`auth.`).
    pub action: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// What [`Store::count_audit_since`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSubject<'a> {
    /// Events of this actor.
    Actor(&'a str),
    /// Events from this address.
    Source(&'a str),
    /// Events of this actor from this address.
    ActorFrom {
        /// The actor.
        actor: &'a str,
        /// The address.
        source: &'a str,
    },
}

impl Store {
    /// Records an event at `now`.
    pub async fn record_audit(
        &self,
        event: AuditEvent,
        now: DateTime<Utc>,
    ) -> Result<AuditRecord, StoreError> {
        self.record_audit_times(event, 1, now).await
    }

    /// Records an event that happened `occurrences` times up to `now` (refusals coalesced).
    pub async fn record_audit_times(
        &self,
        event: AuditEvent,
        occurrences: u64,
        now: DateTime<Utc>,
    ) -> Result<AuditRecord, StoreError> {
        let model = audit_log::Model {
            id: Uuid::now_v7(),
            at: now,
            actor: event.actor,
            action: event.action,
            target: event.target,
            source: event.source,
            details: event.details,
            occurrences: i64::try_from(occurrences).unwrap_or(i64::MAX),
        };
        audit_log::Entity::insert(audit_log::ActiveModel {
            id: Set(model.id),
            at: Set(model.at),
            actor: Set(model.actor.clone()),
            action: Set(model.action.clone()),
            target: Set(model.target.clone()),
            source: Set(model.source.clone()),
            details: Set(model.details.clone()),
            occurrences: Set(model.occurrences),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(model.into())
    }

    /// Events matching `filter`, newest first, `limit` at most, after the event `before`
    /// (the last id of the previous page).
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut query = audit_log::Entity::find();
        if let Some(actor) = &filter.actor {
            query = query.filter(C::Actor.eq(actor.as_str()));
        }
        match filter.action.as_deref() {
            Some(family) if family.ends_with('.') => {
                // `_` and `%` in the family are themselves, not wildcards.
                let prefix = format!("{}%", crate::directory::like_literal(family));
                query = query.filter(C::Action.like(LikeExpr::new(prefix).escape('\\')));
            }
            Some(action) => query = query.filter(C::Action.eq(action)),
            None => {}
        }
        if let Some(since) = filter.since {
            query = query.filter(C::At.gte(since));
        }
        if let Some(until) = filter.until {
            query = query.filter(C::At.lt(until));
        }
        if let Some(before) = before {
            query = query.filter(C::Id.lt(before));
        }
        Ok(query
            .order_by_desc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(AuditRecord::from)
            .collect())
    }

    /// How many `action` events of `subject` were recorded at or after `since`.
    pub async fn count_audit_since(
        &self,
        action: &str,
        subject: AuditSubject<'_>,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.count_audits_since(&[action], subject, since).await
    }

    /// How many events of any of `actions` of `subject` were recorded at or after `since`.
    pub async fn count_audits_since(
        &self,
        actions: &[&str],
        subject: AuditSubject<'_>,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let query = audit_log::Entity::find()
            .filter(C::Action.is_in(actions.iter().copied()))
            .filter(C::At.gte(since));
        let query = match subject {
            AuditSubject::Actor(actor) => query.filter(C::Actor.eq(actor)),
            AuditSubject::Source(source) => query.filter(C::Source.eq(source)),
            AuditSubject::ActorFrom { actor, source } => query
                .filter(C::Actor.eq(actor))
                .filter(C::Source.eq(source)),
        };
        Ok(query.count(&self.db).await?)
    }
}
