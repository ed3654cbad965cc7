//! Heartbeats: each running service instance says it is alive every few seconds, so that
//! `/status` can tell traders what is running without reaching into every process.
//!
//! A service runs [`spawn`] next to its work; `/status` reads [`Store::heartbeats`] and asks
//! [`alive`] about each service.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::entity::service_heartbeats;
use crate::{Store, StoreError};

/// One service instance's last beat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// `ingest-api`, `dispatcher`, `command-bot`, `admin-api`.
    pub service: String,
    /// The instance (host and process).
    pub instance: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last beat.
    pub beat_at: DateTime<Utc>,
}

/// Instances silent for longer than this are forgotten (a replica scaled away, a crash).
const FORGET_AFTER: Duration = Duration::days(1);

impl Store {
    /// Records that `instance` of `service` (started at `started_at`) is alive at `now`, and
    /// forgets instances of any service silent for a day.
    pub async fn beat(
        &self,
        service: &str,
        instance: &str,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use service_heartbeats::Column as C;
        service_heartbeats::Entity::insert(service_heartbeats::ActiveModel {
            service: Set(service.to_string()),
            instance: Set(instance.to_string()),
            started_at: Set(started_at),
            beat_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([C::Service, C::Instance])
                .update_columns([C::StartedAt, C::BeatAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        service_heartbeats::Entity::delete_many()
            .filter(C::BeatAt.lt(now - FORGET_AFTER))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Every instance heard from in the last day, by service then instance.
    pub async fn heartbeats(&self) -> Result<Vec<Heartbeat>, StoreError> {
        use service_heartbeats::Column as C;
        Ok(service_heartbeats::Entity::find()
            .order_by_asc(C::Service)
            .order_by_asc(C::Instance)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| Heartbeat {
                service: m.service,
                instance: m.instance,
                started_at: m.started_at,
                beat_at: m.beat_at,
            })
            .collect())
    }

    /// Removes an instance's beat (a clean shutdown: it is not running any more).
    pub async fn forget_instance(&self, service: &str, instance: &str) -> Result<(), StoreError> {
        use service_heartbeats::Column as C;
        service_heartbeats::Entity::delete_many()
            .filter(C::Service.eq(service))
            .filter(C::Instance.eq(instance))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// How often a running instance beats.
pub const HEARTBEAT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// How many intervals may pass without a beat before a service counts as down.
const MISSED_BEATS: u32 = 3;

/// The service names instances beat under.
pub const INGEST_API: &str = "ingest-api";
/// See [`INGEST_API`].
pub const DISPATCHER: &str = "dispatcher";
/// See [`INGEST_API`].
pub const COMMAND_BOT: &str = "command-bot";
/// See [`INGEST_API`].
pub const ADMIN_API: &str = "admin-api";

/// Whether `service` has an instance whose last beat is at most three
/// [`HEARTBEAT_INTERVAL`]s before `now`.
pub fn alive(beats: &[Heartbeat], service: &str, now: DateTime<Utc>) -> bool {
    let window = Duration::from_std(HEARTBEAT_INTERVAL * MISSED_BEATS).unwrap_or(Duration::MAX);
    beats
        .iter()
        .any(|b| b.service == service && now - b.beat_at <= window)
}

/// This process's instance name: `<hostname>-<pid>`.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    format!("{host}-{}", std::process::id())
}

/// Starts beating for `service` as [`instance_name`]: at once, then every
/// [`HEARTBEAT_INTERVAL`]; each beat also sets the pool's gauges
/// ([`crate::gauges::record_pool`]). A failed beat is logged (a warning for the first of a streak) and
/// the next one tried on time. Once `shutdown` is cancelled the task removes this instance's
/// beat, so a cleanly stopped instance is not reported running, and ends: await the handle
/// on the way out.
pub fn spawn(store: Store, service: &'static str, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(beat_until(store, service, instance_name(), shutdown))
}

async fn beat_until(
    store: Store,
    service: &'static str,
    instance: String,
    shutdown: CancellationToken,
) {
    let started_at = Utc::now();
    let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        crate::gauges::record_pool(&store, service);
        // Not abandoned on shutdown (a write cut short could land after the forget below),
        // but bounded, so a hung database holds the way out for one interval at most.
        let beat = tokio::time::timeout(
            HEARTBEAT_INTERVAL,
            store.beat(service, &instance, started_at, Utc::now()),
        )
        .await;
        let error = match beat {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!(
                "no answer within {} s",
                HEARTBEAT_INTERVAL.as_secs()
            )),
        };
        match (error, failing) {
            (None, true) => {
                failing = false;
                tracing::info!(service, instance, "heartbeat recorded again");
            }
            (None, false) => {}
            (Some(error), false) => {
                failing = true;
                tracing::warn!(
                    service,
                    instance,
                    error,
                    "heartbeat not recorded; /status may show this service down until it is (retrying every {} s, logged once)",
                    HEARTBEAT_INTERVAL.as_secs()
                );
            }
            (Some(error), true) => {
                tracing::debug!(service, instance, error, "heartbeat still not recorded");
            }
        }
    }
    match tokio::time::timeout(
        HEARTBEAT_INTERVAL,
        store.forget_instance(service, &instance),
    )
    .await
    {
        Ok(Ok(())) => tracing::debug!(service, instance, "heartbeat removed on shutdown"),
        Ok(Err(e)) => tracing::warn!(
            service,
            instance,
            error = e.to_string(),
            "could not remove the heartbeat on shutdown; it ages out by itself"
        ),
        Err(_) => tracing::warn!(
            service,
            instance,
            "the database did not answer removing the heartbeat on shutdown; it ages out by itself"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(service: &str, at: DateTime<Utc>) -> Heartbeat {
        Heartbeat {
            service: service.into(),
            instance: "host-1".into(),
            started_at: at - Duration::hours(1),
            beat_at: at,
        }
    }

    #[test]
    fn alive_within_three_intervals_of_a_beat() {
        let now: DateTime<Utc> = "2026-03-08T12:00:00Z".parse().unwrap();
        let beats = [
            beat(DISPATCHER, now - Duration::seconds(15)),
            beat(INGEST_API, now - Duration::seconds(16)),
            beat(ADMIN_API, now),
        ];
        assert!(alive(&beats, DISPATCHER, now), "15 s is three intervals");
        assert!(!alive(&beats, INGEST_API, now), "16 s is too long");
        assert!(alive(&beats, ADMIN_API, now));
        assert!(!alive(&beats, COMMAND_BOT, now), "no beat at all");
        assert!(!alive(&[], DISPATCHER, now));
    }

    #[test]
    fn any_live_instance_keeps_a_service_alive() {
        let now: DateTime<Utc> = "2026-03-08T12:00:00Z".parse().unwrap();
        let mut fresh = beat(DISPATCHER, now - Duration::seconds(2));
        fresh.instance = "host-2".into();
        let beats = [beat(DISPATCHER, now - Duration::minutes(10)), fresh];
        assert!(alive(&beats, DISPATCHER, now));
        // A beat a little ahead of this clock (another host's) still counts.
        assert!(alive(
            &[beat(DISPATCHER, now + Duration::seconds(1))],
            DISPATCHER,
            now
        ));
    }

    #[test]
    fn instance_names_end_in_the_pid() {
        let name = instance_name();
        let pid = format!("-{}", std::process::id());
        assert!(name.ends_with(&pid) && name.len() > pid.len(), "{name}");
    }
}
