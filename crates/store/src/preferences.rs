//! Preferences: reading and writing what a trader asked for, in the domain's terms.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use herald_domain::{NotificationHours, Preferences, SignalFormat, SignalKind};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::entity::user_preferences;
use crate::error::user_fk;
use crate::{Store, StoreError};

impl Store {
    /// The user's preferences; the defaults if they never set any.
    pub async fn preferences(&self, user_id: Uuid) -> Result<Preferences, StoreError> {
        match user_preferences::Entity::find_by_id(user_id)
            .one(&self.db)
            .await?
        {
            Some(row) => PreferencesRow::from(row).into_domain(user_id),
            None => Ok(Preferences::default()),
        }
    }

    /// Replaces the user's preferences (the performance-report frequency, which the domain
    /// does not model, is kept).
    pub async fn set_preferences(
        &self,
        user_id: Uuid,
        prefs: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use user_preferences::Column as C;
        user_preferences::Entity::insert(active_model(user_id, prefs, now))
            .on_conflict(
                OnConflict::column(C::UserId)
                    .update_columns([
                        C::SignalTypes,
                        C::ConfidenceThreshold,
                        C::NotificationHoursStart,
                        C::NotificationHoursEnd,
                        C::SignalFormat,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(user_fk(user_id))?;
        Ok(())
    }
}

/// Inserts `prefs` for `user_id` unless the user already has a row.
pub(crate) async fn insert_default_preferences(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    prefs: &Preferences,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    user_preferences::Entity::insert(active_model(user_id, prefs, now))
        .on_conflict(
            OnConflict::column(user_preferences::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(user_fk(user_id))?;
    Ok(())
}

fn active_model(
    user_id: Uuid,
    prefs: &Preferences,
    now: DateTime<Utc>,
) -> user_preferences::ActiveModel {
    let kinds: Vec<&str> = prefs.signal_types.iter().map(|k| k.as_str()).collect();
    user_preferences::ActiveModel {
        user_id: Set(user_id),
        signal_types: Set(serde_json::json!(kinds)),
        confidence_threshold: Set(i32::from(prefs.min_confidence)),
        notification_hours_start: Set(prefs.notification_hours.map(|h| i32::from(h.start_hour))),
        notification_hours_end: Set(prefs.notification_hours.map(|h| i32::from(h.end_hour))),
        signal_format: Set(prefs.format.as_str().to_string()),
        performance_update_frequency: NotSet,
        updated_at: Set(now),
    }
}

/// The stored columns that make up a [`Preferences`], as read from a row or a join.
pub(crate) struct PreferencesRow {
    pub signal_types: serde_json::Value,
    pub confidence_threshold: i32,
    pub notification_hours_start: Option<i32>,
    pub notification_hours_end: Option<i32>,
    pub signal_format: String,
}

impl From<user_preferences::Model> for PreferencesRow {
    fn from(m: user_preferences::Model) -> Self {
        Self {
            signal_types: m.signal_types,
            confidence_threshold: m.confidence_threshold,
            notification_hours_start: m.notification_hours_start,
            notification_hours_end: m.notification_hours_end,
            signal_format: m.signal_format,
        }
    }
}

impl PreferencesRow {
    /// Rebuilds the domain value; a value the domain would reject marks the row corrupt.
    pub fn into_domain(self, user_id: Uuid) -> Result<Preferences, StoreError> {
        let corrupt = |reason: String| StoreError::corrupt("user_preferences", user_id, reason);
        let names: Vec<String> = match self.signal_types {
            // SQLite hands back a JSON column read through a join as its text.
            serde_json::Value::String(text) => serde_json::from_str(&text),
            other => serde_json::from_value(other),
        }
        .map_err(|e| corrupt(format!("signal_types is not an array of names: {e}")))?;
        let signal_types = names
            .iter()
            .map(|n| n.parse::<SignalKind>())
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(corrupt)?;
        let min_confidence = u8::try_from(self.confidence_threshold)
            .ok()
            .filter(|c| *c <= 100)
            .ok_or_else(|| {
                corrupt(format!(
                    "confidence_threshold {} is not 0-100",
                    self.confidence_threshold
                ))
            })?;
        let notification_hours = match (self.notification_hours_start, self.notification_hours_end)
        {
            (Some(start), Some(end)) => {
                let hour = |h: i32| u8::try_from(h).map_err(|_| corrupt(format!("hour {h}")));
                Some(NotificationHours::new(hour(start)?, hour(end)?).map_err(corrupt)?)
            }
            _ => None,
        };
        let format = self
            .signal_format
            .parse::<SignalFormat>()
            .map_err(corrupt)?;
        Ok(Preferences {
            signal_types,
            min_confidence,
            notification_hours,
            format,
        })
    }
}
