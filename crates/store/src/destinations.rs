//! Destinations besides traders' private chats: channels, groups and topics of forum
//! groups, each with its own filters and format; and the groups and channels the bot was
//! added to or removed from, as Telegram told (`my_chat_member`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use herald_domain::{Asset, JobKind, Language, Signal, SignalFormat, SignalKind};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use crate::deliveries::QueuedSignal;
use crate::entity::{bot_chats, destinations, signal_deliveries};
use crate::lifecycle::insert_jobs;
use crate::preferences::string_list;
use crate::{Store, StoreError};

/// The reason a destination stops when the bot leaves its chat (it resumes when the bot is
/// back).
pub const BOT_REMOVED: &str = "the bot was removed from the chat";

/// A registered destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Its id.
    pub id: Uuid,
    /// The chat (negative for groups and channels).
    pub chat_id: i64,
    /// The forum topic, if one.
    pub thread_id: Option<i32>,
    /// The operator's name for it.
    pub name: String,
    /// The kinds it gets.
    pub kinds: BTreeSet<SignalKind>,
    /// The assets it gets; empty: every asset.
    pub assets: BTreeSet<Asset>,
    /// The lowest confidence it gets.
    pub min_confidence: u8,
    /// Detailed or compact.
    pub format: SignalFormat,
    /// The messages' language.
    pub language: Language,
    /// Whether signals go there now.
    pub active: bool,
    /// Why not, when not.
    pub inactive_reason: Option<String>,
    /// Who registered it (`cli`, `staff:<telegram id>`).
    pub created_by: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was removed, if it was (removed ones stay on record for their deliveries).
    pub removed_at: Option<DateTime<Utc>>,
}

impl Destination {
    /// Whether `signal` passes this destination's filters.
    pub fn wants(&self, signal: &Signal) -> bool {
        self.kinds.contains(&signal.kind)
            && signal.confidence.get() >= self.min_confidence
            && (self.assets.is_empty() || self.assets.contains(&signal.asset))
    }
}

/// A destination to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDestination {
    /// The chat.
    pub chat_id: i64,
    /// The forum topic, if one.
    pub thread_id: Option<i32>,
    /// A name for it.
    pub name: String,
    /// The kinds it gets (at least one).
    pub kinds: BTreeSet<SignalKind>,
    /// The assets it gets; empty: every asset.
    pub assets: BTreeSet<Asset>,
    /// The lowest confidence it gets (0–100).
    pub min_confidence: u8,
    /// Detailed or compact.
    pub format: SignalFormat,
    /// The messages' language.
    pub language: Language,
    /// Who registers it.
    pub created_by: String,
}

/// A group or channel the bot is (or was) in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotChat {
    /// The chat.
    pub chat_id: i64,
    /// `group`, `supergroup` or `channel`.
    pub kind: String,
    /// Its title.
    pub title: Option<String>,
    /// A forum (it has topics).
    pub is_forum: bool,
    /// The bot's status there (`member`, `administrator`, `left`, `kicked`, …).
    pub status: String,
    /// The Telegram user who changed it.
    pub changed_by: Option<i64>,
    /// When Telegram told.
    pub updated_at: DateTime<Utc>,
}

impl BotChat {
    /// Whether the bot can post there.
    pub fn bot_is_in(&self) -> bool {
        matches!(
            self.status.as_str(),
            "member" | "administrator" | "creator" | "restricted"
        )
    }
}

impl Store {
    /// Registers a destination. A chat (and topic) already registered is refused with
    /// [`StoreError::Invalid`].
    pub async fn add_destination(
        &self,
        new: &NewDestination,
        now: DateTime<Utc>,
    ) -> Result<Destination, StoreError> {
        if new.kinds.is_empty() {
            return Err(StoreError::Invalid(
                "a destination needs at least one kind of signal".into(),
            ));
        }
        if new.min_confidence > 100 {
            return Err(StoreError::Invalid(
                "the minimum confidence is a percentage, 0 to 100".into(),
            ));
        }
        let taken = self
            .destinations(false)
            .await?
            .into_iter()
            .any(|d| d.chat_id == new.chat_id && d.thread_id == new.thread_id);
        if taken {
            return Err(StoreError::Invalid(format!(
                "chat {}{} is already a destination",
                new.chat_id,
                new.thread_id
                    .map(|t| format!(" topic {t}"))
                    .unwrap_or_default()
            )));
        }
        let kinds: Vec<&str> = new.kinds.iter().map(|k| k.as_str()).collect();
        let assets: Vec<&str> = new.assets.iter().map(|a| a.as_str()).collect();
        let id = Uuid::now_v7();
        destinations::Entity::insert(destinations::ActiveModel {
            id: Set(id),
            chat_id: Set(new.chat_id),
            thread_id: Set(new.thread_id.map(i64::from)),
            name: Set(new.name.clone()),
            signal_types: Set(serde_json::json!(kinds)),
            assets: Set(serde_json::json!(assets)),
            min_confidence: Set(i32::from(new.min_confidence)),
            signal_format: Set(new.format.as_str().to_string()),
            language: Set(new.language.code().to_string()),
            is_active: Set(true),
            inactive_reason: Set(None),
            created_by: Set(new.created_by.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            removed_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        self.destination(id)
            .await?
            .ok_or_else(|| StoreError::Invalid("the destination vanished".into()))
    }

    /// One destination (removed ones included).
    pub async fn destination(&self, id: Uuid) -> Result<Option<Destination>, StoreError> {
        destinations::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(destination_from_row)
            .transpose()
    }

    /// The registered destinations, oldest first; removed ones too with `with_removed`.
    pub async fn destinations(&self, with_removed: bool) -> Result<Vec<Destination>, StoreError> {
        use destinations::Column as C;
        let mut query = destinations::Entity::find().order_by_asc(C::CreatedAt);
        if !with_removed {
            query = query.filter(C::RemovedAt.is_null());
        }
        query
            .all(&self.db)
            .await?
            .into_iter()
            .map(destination_from_row)
            .collect()
    }

    /// Removes a destination: nothing more is sent there (what is queued for it is skipped).
    /// Its deliveries stay on record. Whether it existed and was not removed already.
    pub async fn remove_destination(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use destinations::Column as C;
        let txn = self.db.begin().await?;
        let removed = destinations::Entity::update_many()
            .col_expr(C::RemovedAt, Expr::value(now))
            .col_expr(C::IsActive, Expr::value(false))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::RemovedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if removed {
            skip_waiting(&txn, id, "the destination was removed", now).await?;
        }
        txn.commit().await?;
        Ok(removed)
    }

    /// Stops sending to a destination (the chat is gone, the bot was removed), with why.
    pub async fn deactivate_destination(
        &self,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use destinations::Column as C;
        let txn = self.db.begin().await?;
        destinations::Entity::update_many()
            .col_expr(C::IsActive, Expr::value(false))
            .col_expr(C::InactiveReason, Expr::value(reason))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .exec(&txn)
            .await?;
        skip_waiting(&txn, id, reason, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The active destinations `signal` passes the filters of.
    pub async fn destinations_for(&self, signal: &Signal) -> Result<Vec<Destination>, StoreError> {
        use destinations::Column as C;
        let rows = destinations::Entity::find()
            .filter(C::RemovedAt.is_null())
            .filter(C::IsActive.eq(true))
            .all(&self.db)
            .await?;
        let mut wanted = Vec::new();
        for row in rows {
            let destination = destination_from_row(row)?;
            if destination.wants(signal) {
                wanted.push(destination);
            }
        }
        Ok(wanted)
    }

    /// Queues `signal` for each of `destinations`, due now. Re-running it records nothing
    /// twice. Returns how many jobs were recorded.
    pub async fn record_destination_jobs(
        &self,
        signal: &QueuedSignal,
        destinations: &[Destination],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let jobs = destinations.iter().map(|d| signal_deliveries::ActiveModel {
            id: Set(Uuid::now_v7()),
            job: Set(JobKind::Signal.as_str().to_string()),
            signal_id: Set(Some(signal.id.0)),
            user_id: Set(None),
            destination_id: Set(Some(d.id)),
            chat_id: Set(d.chat_id),
            thread_id: Set(d.thread_id.map(i64::from)),
            format: Set(d.format.as_str().to_string()),
            language: Set(d.language.code().to_string()),
            status: Set("pending".to_string()),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            priority: Set(signal.priority),
            signal_generated_at: Set(Some(signal.generated_at)),
            deadline: Set(signal.deadline),
            next_attempt_at: Set(Some(now)),
            unknown_sends: Set(0),
            silent: Set(false),
            hours: Set(None),
            ..Default::default()
        });
        insert_jobs(&self.db, jobs).await
    }

    /// Records what Telegram told about the bot in a group or channel (`my_chat_member`).
    /// When the bot leaves (or is removed), the chat's destinations stop; when it is back (or
    /// its rights change), the stopped ones resume. Returns the destinations affected.
    pub async fn record_bot_chat(&self, chat: &BotChat) -> Result<u64, StoreError> {
        use bot_chats::Column as B;
        use destinations::Column as C;
        let txn = self.db.begin().await?;
        bot_chats::Entity::insert(bot_chats::ActiveModel {
            chat_id: Set(chat.chat_id),
            kind: Set(chat.kind.clone()),
            title: Set(chat.title.clone()),
            is_forum: Set(chat.is_forum),
            status: Set(chat.status.clone()),
            changed_by: Set(chat.changed_by),
            updated_at: Set(chat.updated_at),
        })
        .on_conflict(
            OnConflict::column(B::ChatId)
                .update_columns([
                    B::Kind,
                    B::Title,
                    B::IsForum,
                    B::Status,
                    B::ChangedBy,
                    B::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let mut update = destinations::Entity::update_many()
            .col_expr(C::UpdatedAt, Expr::value(chat.updated_at))
            .filter(C::ChatId.eq(chat.chat_id))
            .filter(C::RemovedAt.is_null());
        update = if chat.bot_is_in() {
            // Back in the chat: whatever stopped its destinations (the bot's removal, or
            // Telegram refusing it there), they may be tried again.
            update
                .col_expr(C::IsActive, Expr::value(true))
                .col_expr(C::InactiveReason, Expr::value(Option::<String>::None))
                .filter(C::IsActive.eq(false))
        } else {
            update
                .col_expr(C::IsActive, Expr::value(false))
                .col_expr(C::InactiveReason, Expr::value(BOT_REMOVED))
                .filter(C::IsActive.eq(true))
        };
        let affected = update.exec(&txn).await?.rows_affected;
        txn.commit().await?;
        Ok(affected)
    }

    /// The groups and channels the bot is or was in, most recently changed first.
    pub async fn bot_chats(&self) -> Result<Vec<BotChat>, StoreError> {
        Ok(bot_chats::Entity::find()
            .order_by_desc(bot_chats::Column::UpdatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| BotChat {
                chat_id: m.chat_id,
                kind: m.kind,
                title: m.title,
                is_forum: m.is_forum,
                status: m.status,
                changed_by: m.changed_by,
                updated_at: m.updated_at,
            })
            .collect())
    }
}

/// Ends what is waiting for a destination (`skipped`, with why).
async fn skip_waiting(
    db: &impl sea_orm::ConnectionTrait,
    destination: Uuid,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use signal_deliveries::Column as D;
    signal_deliveries::Entity::update_many()
        .col_expr(D::Status, Expr::value("skipped"))
        .col_expr(D::LastError, Expr::value(why))
        .col_expr(D::UpdatedAt, Expr::value(now))
        .filter(D::DestinationId.eq(destination))
        .filter(D::Status.is_in(["pending", "unknown"]))
        .exec(db)
        .await?;
    Ok(())
}

fn destination_from_row(m: destinations::Model) -> Result<Destination, StoreError> {
    let corrupt = |why: String| StoreError::corrupt("destinations", m.id, why);
    let kinds = string_list(m.signal_types.clone())
        .map_err(corrupt)?
        .iter()
        .map(|k| k.parse::<SignalKind>())
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(corrupt)?;
    let assets = string_list(m.assets.clone())
        .map_err(corrupt)?
        .iter()
        .map(|a| Asset::parse(a))
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(corrupt)?;
    Ok(Destination {
        id: m.id,
        chat_id: m.chat_id,
        thread_id: m
            .thread_id
            .map(i32::try_from)
            .transpose()
            .map_err(|_| corrupt("thread_id out of range".into()))?,
        kinds,
        assets,
        min_confidence: u8::try_from(m.min_confidence)
            .map_err(|_| corrupt(format!("min_confidence {}", m.min_confidence)))?,
        format: m.signal_format.parse().map_err(corrupt)?,
        language: m.language.parse().map_err(corrupt)?,
        active: m.is_active,
        inactive_reason: m.inactive_reason.clone(),
        created_by: m.created_by.clone(),
        created_at: m.created_at,
        removed_at: m.removed_at,
        name: m.name,
    })
}
