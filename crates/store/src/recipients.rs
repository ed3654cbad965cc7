//! Fan-out: who should receive a signal.

use chrono::{DateTime, Duration, Utc};
use herald_domain::{HoursRule, Language, Preferences, Signal, SignalFormat};
use sea_orm::sea_query::{Cond, Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::entity::{user_preferences as prefs, user_subscriptions as subs, users};
use crate::preferences::{PREFERENCE_COLUMNS, PreferencesRow};
use crate::subscriptions::{SIGNALS_SUBSCRIPTION, is_current};
use crate::{Store, StoreError};

/// One trader a signal goes to, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// The trader.
    pub user_id: Uuid,
    /// Their chat.
    pub chat_id: i64,
    /// The format they chose.
    pub format: SignalFormat,
    /// Their language.
    pub language: Language,
    /// They take this kind silently (`disable_notification`).
    pub silent: bool,
    /// Their notification hours, checked when the message goes out (`None`: any time).
    pub hours: Option<HoursRule>,
    /// Their tier's delay after the signal: the message is not sent before `not_before`,
    /// and its deadline moves by this much.
    pub delay: Duration,
    /// The signal's arrival plus the tier's delay, when there is a delay.
    pub not_before: Option<DateTime<Utc>>,
}

impl Recipient {
    /// A recipient who gets the signal at once, with a sound, in English.
    pub fn new(user_id: Uuid, chat_id: i64, format: SignalFormat) -> Self {
        Self {
            user_id,
            chat_id,
            format,
            language: Language::En,
            silent: false,
            hours: None,
            delay: Duration::zero(),
            not_before: None,
        }
    }
}

/// One page of a fan-out: the recipients among the next users in user-id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientsPage {
    /// Those of the page's users whom the signal is for, in user-id order.
    pub recipients: Vec<Recipient>,
    /// The last user id the page looked at (the next page starts after it); `None` if the
    /// page was empty.
    pub last_scanned: Option<Uuid>,
    /// No users after this page: the fan-out is complete.
    pub exhausted: bool,
}

impl Store {
    /// Everyone who should get `s` as of `at`, read page by page (see
    /// [`Store::recipients_page`]): for tests and tools; the dispatcher streams pages.
    pub async fn recipients(
        &self,
        s: &Signal,
        at: DateTime<Utc>,
    ) -> Result<Vec<Recipient>, StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.recipients_page(s, at, after, 1000).await?;
            all.extend(page.recipients);
            if page.exhausted {
                return Ok(all);
            }
            after = page.last_scanned;
        }
    }

    /// The recipients of `s` among the `limit` users after `after` (user-id order) who are
    /// candidates at all: active users with an active, unexpired signals subscription that
    /// started by `at` (the signal's arrival: traders who subscribe while a long fan-out runs
    /// are not half-included), whom [`Preferences::admit`] lets the signal reach on their tier
    /// (users without a preferences row get the defaults; those without a tier, the default
    /// tier). Their notification hours go with them, to be checked when each message goes
    /// out ([`herald_domain::HoursRule`]).
    ///
    /// One indexed query per page (`users.id > after ORDER BY users.id LIMIT limit`), so a
    /// fan-out to a million traders holds one page in memory at a time, and the first page
    /// comes back as fast as for ten traders. The confidence threshold is applied in SQL,
    /// which removes most of the uninterested; the rest of the decision and the expiry run
    /// here. The tiers are read once per page (a handful of rows).
    pub async fn recipients_page(
        &self,
        s: &Signal,
        at: DateTime<Utc>,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<RecipientsPage, StoreError> {
        let confidence = i32::from(s.confidence.get());
        let mut stmt = Query::select()
            .expr_as(Expr::col((users::Entity, users::Column::Id)), "user_id")
            .expr_as(Expr::col((users::Entity, users::Column::ChatId)), "chat_id")
            .expr_as(
                Expr::col((subs::Entity, subs::Column::ExpiresAt)),
                "expires_at",
            )
            .expr_as(
                Expr::col((prefs::Entity, prefs::Column::UserId)),
                "prefs_user_id",
            )
            .expr_as(Expr::col((subs::Entity, subs::Column::Tier)), "tier")
            .columns(PREFERENCE_COLUMNS.map(|c| (prefs::Entity, c)))
            .from(users::Entity)
            .join(
                JoinType::InnerJoin,
                subs::Entity,
                Cond::all()
                    .add(
                        Expr::col((subs::Entity, subs::Column::UserId))
                            .equals((users::Entity, users::Column::Id)),
                    )
                    .add(
                        Expr::col((subs::Entity, subs::Column::SubscriptionType))
                            .eq(SIGNALS_SUBSCRIPTION),
                    )
                    .add(Expr::col((subs::Entity, subs::Column::IsActive)).eq(true))
                    .add(Expr::col((subs::Entity, subs::Column::StartedAt)).lte(at)),
            )
            .join(
                JoinType::LeftJoin,
                prefs::Entity,
                Expr::col((prefs::Entity, prefs::Column::UserId))
                    .equals((users::Entity, users::Column::Id)),
            )
            .and_where(Expr::col((users::Entity, users::Column::IsActive)).eq(true))
            .cond_where(
                Cond::any()
                    .add(Expr::col((prefs::Entity, prefs::Column::UserId)).is_null())
                    .add(
                        Expr::col((prefs::Entity, prefs::Column::ConfidenceThreshold))
                            .lte(confidence),
                    ),
            )
            .order_by((users::Entity, users::Column::Id), Order::Asc)
            .limit(limit)
            .to_owned();
        if let Some(after) = after {
            stmt.and_where(Expr::col((users::Entity, users::Column::Id)).gt(after));
        }

        let tiers = self.tiers().await?;
        let rows = self.db.query_all(&stmt).await?;
        let exhausted = (rows.len() as u64) < limit;
        let defaults = Preferences::default();
        let mut last_scanned = None;
        let mut recipients = Vec::new();
        for row in rows {
            let candidate = Candidate::read(&row)?;
            let repeated = last_scanned == Some(candidate.user_id);
            last_scanned = Some(candidate.user_id);
            if repeated || !is_current(true, candidate.expires_at, at) {
                continue;
            }
            let prefs = match candidate.prefs {
                Some(stored) => match stored.into_domain(candidate.user_id) {
                    Ok(prefs) => prefs,
                    // One unreadable row must not hold up every signal for everyone: that
                    // trader is skipped (and said so) until the row is repaired.
                    Err(e) => {
                        tracing::error!(user_id = %candidate.user_id, error = %e,
                            "unreadable preferences; trader skipped for this signal");
                        continue;
                    }
                },
                None => defaults.clone(),
            };
            let tier = tiers.get(candidate.tier.as_deref());
            let Ok(silent) = prefs.admit(tier, s) else {
                continue;
            };
            let due = at + tier.delay;
            recipients.push(Recipient {
                user_id: candidate.user_id,
                chat_id: candidate.chat_id,
                format: prefs.format,
                language: prefs.language,
                silent,
                hours: prefs.hours_rule(),
                delay: tier.delay,
                not_before: (tier.delay > Duration::zero()).then_some(due),
            });
        }
        Ok(RecipientsPage {
            recipients,
            last_scanned,
            exhausted,
        })
    }
}

/// One row of the recipients query.
struct Candidate {
    user_id: Uuid,
    chat_id: i64,
    expires_at: Option<DateTime<Utc>>,
    tier: Option<String>,
    prefs: Option<PreferencesRow>,
}

impl Candidate {
    fn read(row: &QueryResult) -> Result<Self, StoreError> {
        let has_prefs = row.try_get::<Option<Uuid>>("", "prefs_user_id")?.is_some();
        let prefs = if has_prefs {
            Some(PreferencesRow::read(row)?)
        } else {
            None
        };
        Ok(Self {
            user_id: row.try_get("", "user_id")?,
            chat_id: row.try_get("", "chat_id")?,
            expires_at: row.try_get("", "expires_at")?,
            tier: row.try_get("", "tier")?,
            prefs,
        })
    }
}
