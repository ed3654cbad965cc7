//! Preferences: reading and writing what a trader asked for, in the domain's terms.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use herald_domain::{
    Asset, Language, NotificationHours, NotifyMode, OutsideHours, Preferences, ReportFrequency,
    SignalFormat, SignalKind, TimeZone, next_report,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
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

    /// The user's preferences and their version (raised by every change; 0 while the user
    /// has never had any stored): what [`Store::update_preferences`] expects back.
    pub async fn preferences_versioned(
        &self,
        user_id: Uuid,
    ) -> Result<(Preferences, i64), StoreError> {
        match user_preferences::Entity::find_by_id(user_id)
            .one(&self.db)
            .await?
        {
            Some(row) => {
                let version = row.version;
                Ok((PreferencesRow::from(row).into_domain(user_id)?, version))
            }
            None => Ok((Preferences::default(), 0)),
        }
    }

    /// Replaces the user's preferences if they are still at `version` (as read with
    /// [`Store::preferences_versioned`]); `false`, changing nothing, if another change came
    /// first — a menu pressed twice at once, a `/filter` racing a button on another replica.
    pub async fn update_preferences(
        &self,
        user_id: Uuid,
        version: i64,
        prefs: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use user_preferences::Column as C;
        let row = active_model(user_id, prefs, now);
        let mut update = user_preferences::Entity::update_many();
        for column in updated_columns() {
            if let Some(value) = row.get(column).into_value() {
                update = update.col_expr(column, Expr::value(value));
            }
        }
        let result = update
            .col_expr(C::Version, Expr::col(C::Version).add(1))
            .filter(C::UserId.eq(user_id))
            .filter(C::Version.eq(version))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 1 {
            return Ok(true);
        }
        if version == 0 {
            // Never stored: the first write wins.
            let inserted = user_preferences::Entity::insert(row)
                .on_conflict(OnConflict::column(C::UserId).do_nothing().to_owned())
                .exec_without_returning(&self.db)
                .await
                .map_err(user_fk(user_id))?;
            return Ok(inserted == 1);
        }
        Ok(false)
    }

    /// Replaces the user's preferences, whatever they were.
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
                    .update_columns(updated_columns())
                    .value(
                        C::Version,
                        Expr::col((user_preferences::Entity, C::Version)).add(1),
                    )
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(user_fk(user_id))?;
        Ok(())
    }
}

/// The columns a change of preferences writes: the preferences and `updated_at` (not the
/// key, nor the version, which the write raises).
fn updated_columns() -> impl Iterator<Item = user_preferences::Column> {
    PREFERENCE_COLUMNS.into_iter().chain([
        user_preferences::Column::NextReportAt,
        user_preferences::Column::UpdatedAt,
    ])
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

/// The name a silent performance report has in `silent_types`.
const REPORT: &str = "report";

fn active_model(
    user_id: Uuid,
    prefs: &Preferences,
    now: DateTime<Utc>,
) -> user_preferences::ActiveModel {
    let kinds: Vec<&str> = prefs.wanted_kinds().iter().map(|k| k.as_str()).collect();
    let mut silent: Vec<&str> = SignalKind::ALL
        .into_iter()
        .filter(|k| prefs.mode(*k) == NotifyMode::Silent)
        .map(|k| k.as_str())
        .collect();
    if prefs.reports_silent {
        silent.push(REPORT);
    }
    let assets: Vec<&str> = prefs.assets.iter().map(|a| a.as_str()).collect();
    user_preferences::ActiveModel {
        user_id: Set(user_id),
        signal_types: Set(serde_json::json!(kinds)),
        silent_types: Set(serde_json::json!(silent)),
        confidence_threshold: Set(i32::from(prefs.min_confidence)),
        assets: Set(serde_json::json!(assets)),
        notification_hours_start: Set(prefs.notification_hours.map(|h| i32::from(h.start_hour))),
        notification_hours_end: Set(prefs.notification_hours.map(|h| i32::from(h.end_hour))),
        time_zone: Set(prefs.time_zone.to_string()),
        outside_hours: Set(prefs.outside_hours.as_str().to_string()),
        signal_format: Set(prefs.format.as_str().to_string()),
        language: Set(prefs.language.code().to_string()),
        performance_update_frequency: Set(prefs.reports.as_str().to_string()),
        report_hour: Set(i16::from(prefs.report_hour)),
        // Changed preferences move the next report to their first slot from now on. (A
        // change in the few seconds between a slot and the scheduler's next pass skips that
        // one report.)
        next_report_at: Set(
            next_report(prefs.reports, prefs.report_hour, prefs.time_zone, now).map(|s| s.at),
        ),
        updated_at: Set(now),
        version: Set(1),
    }
}

/// The stored columns that make up a [`Preferences`], as read from a row or a join.
pub(crate) struct PreferencesRow {
    pub signal_types: serde_json::Value,
    pub silent_types: serde_json::Value,
    pub confidence_threshold: i32,
    pub assets: serde_json::Value,
    pub notification_hours_start: Option<i32>,
    pub notification_hours_end: Option<i32>,
    pub time_zone: String,
    pub outside_hours: String,
    pub signal_format: String,
    pub language: String,
    pub performance_update_frequency: String,
    pub report_hour: i16,
}

/// The preference columns, in the order [`PreferencesRow::read`] expects (for joins).
pub(crate) const PREFERENCE_COLUMNS: [user_preferences::Column; 12] = [
    user_preferences::Column::SignalTypes,
    user_preferences::Column::SilentTypes,
    user_preferences::Column::ConfidenceThreshold,
    user_preferences::Column::Assets,
    user_preferences::Column::NotificationHoursStart,
    user_preferences::Column::NotificationHoursEnd,
    user_preferences::Column::TimeZone,
    user_preferences::Column::OutsideHours,
    user_preferences::Column::SignalFormat,
    user_preferences::Column::Language,
    user_preferences::Column::PerformanceUpdateFrequency,
    user_preferences::Column::ReportHour,
];

impl From<user_preferences::Model> for PreferencesRow {
    fn from(m: user_preferences::Model) -> Self {
        Self {
            signal_types: m.signal_types,
            silent_types: m.silent_types,
            confidence_threshold: m.confidence_threshold,
            assets: m.assets,
            notification_hours_start: m.notification_hours_start,
            notification_hours_end: m.notification_hours_end,
            time_zone: m.time_zone,
            outside_hours: m.outside_hours,
            signal_format: m.signal_format,
            language: m.language,
            performance_update_frequency: m.performance_update_frequency,
            report_hour: m.report_hour,
        }
    }
}

/// A JSON array of strings, as stored (SQLite hands back a JSON column read through a join
/// as its text).
pub(crate) fn string_list(value: serde_json::Value) -> Result<Vec<String>, String> {
    match value {
        serde_json::Value::String(text) => serde_json::from_str(&text),
        other => serde_json::from_value(other),
    }
    .map_err(|e| format!("not an array of names: {e}"))
}

impl PreferencesRow {
    /// Reads the columns of [`PREFERENCE_COLUMNS`] from a joined row.
    pub fn read(row: &sea_orm::QueryResult) -> Result<Self, StoreError> {
        Ok(Self {
            signal_types: row.try_get("", "signal_types")?,
            silent_types: row.try_get("", "silent_types")?,
            confidence_threshold: row.try_get("", "confidence_threshold")?,
            assets: row.try_get("", "assets")?,
            notification_hours_start: row.try_get("", "notification_hours_start")?,
            notification_hours_end: row.try_get("", "notification_hours_end")?,
            time_zone: row.try_get("", "time_zone")?,
            outside_hours: row.try_get("", "outside_hours")?,
            signal_format: row.try_get("", "signal_format")?,
            language: row.try_get("", "language")?,
            performance_update_frequency: row.try_get("", "performance_update_frequency")?,
            report_hour: row.try_get("", "report_hour")?,
        })
    }

    /// Rebuilds the domain value; a value the domain would reject marks the row corrupt.
    pub fn into_domain(self, user_id: Uuid) -> Result<Preferences, StoreError> {
        let corrupt = |reason: String| StoreError::corrupt("user_preferences", user_id, reason);
        let kinds = |value, column: &str| -> Result<BTreeSet<String>, StoreError> {
            string_list(value)
                .map(|v| v.into_iter().collect())
                .map_err(|e| corrupt(format!("{column} is {e}")))
        };
        let wanted = kinds(self.signal_types, "signal_types")?;
        let silent = kinds(self.silent_types, "silent_types")?;
        for name in wanted.iter().chain(silent.iter().filter(|n| *n != REPORT)) {
            name.parse::<SignalKind>().map_err(corrupt)?;
        }
        let modes = SignalKind::ALL
            .into_iter()
            .map(|k| {
                let mode = match (wanted.contains(k.as_str()), silent.contains(k.as_str())) {
                    (false, _) => NotifyMode::Off,
                    (true, true) => NotifyMode::Silent,
                    (true, false) => NotifyMode::On,
                };
                (k, mode)
            })
            .collect();
        let assets = string_list(self.assets)
            .map_err(|e| corrupt(format!("assets is {e}")))?
            .iter()
            .map(|a| Asset::parse(a))
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
        Ok(Preferences {
            modes,
            min_confidence,
            assets,
            notification_hours,
            time_zone: self.time_zone.parse::<TimeZone>().map_err(corrupt)?,
            outside_hours: self
                .outside_hours
                .parse::<OutsideHours>()
                .map_err(corrupt)?,
            format: self
                .signal_format
                .parse::<SignalFormat>()
                .map_err(corrupt)?,
            language: self.language.parse::<Language>().map_err(corrupt)?,
            reports: self
                .performance_update_frequency
                .parse::<ReportFrequency>()
                .map_err(corrupt)?,
            reports_silent: silent.contains(REPORT),
            report_hour: u8::try_from(self.report_hour)
                .ok()
                .filter(|h| *h < 24)
                .ok_or_else(|| corrupt(format!("report_hour {} is not 0-23", self.report_hour)))?,
        })
    }
}
