//! The JSON shapes admin-api answers with. Field names are the contract (see
//! `docs/admin-guide.md`); internal types never reach the wire directly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_domain::{AssetReturn, DeliveryStatus, Figures, PreferencesDoc, StaffRole, Window};
use herald_store::{
    ApiKeyRecord, AuditRecord, BotChat, Delivery, DeliveryCounts, Destination, Stats, StoredSignal,
    Subscription, User, UserDetail, UserSummary,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user in a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub telegram_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub is_active: bool,
    pub is_admin: bool,
    pub staff_role: Option<StaffRole>,
    pub language_code: Option<String>,
    pub subscription: Option<SubscriptionView>,
}

/// A user's signals subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub current: bool,
    pub started_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub tier: Option<String>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        Self {
            current: s.current,
            started_at: s.started_at,
            expires_at: s.expires_at,
            tier: s.tier,
        }
    }
}

impl UserView {
    pub fn new(user: User, subscription: Option<Subscription>) -> Self {
        Self {
            id: user.id,
            telegram_id: user.telegram_id,
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            created_at: user.created_at,
            is_active: user.is_active,
            is_admin: user.is_admin,
            staff_role: user.staff_role,
            language_code: user.language_code,
            subscription: subscription.map(SubscriptionView::from),
        }
    }
}

impl From<UserSummary> for UserView {
    fn from(s: UserSummary) -> Self {
        Self::new(s.user, s.subscription)
    }
}

/// Deliveries by status, every status present.
pub fn counts(c: &DeliveryCounts) -> BTreeMap<&'static str, u64> {
    c.iter().map(|(status, n)| (status.as_str(), n)).collect()
}

/// One user in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetailView {
    #[serde(flatten)]
    pub user: UserView,
    pub preferences: PreferencesDoc,
    pub preferences_version: i64,
    /// Deliveries by status.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub deliveries: BTreeMap<&'static str, u64>,
    pub last_delivery: Option<LastDeliveryView>,
}

/// A user's newest delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastDeliveryView {
    pub id: Uuid,
    pub signal_id: Uuid,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<UserDetail> for UserDetailView {
    fn from(d: UserDetail) -> Self {
        Self {
            user: d.summary.into(),
            preferences: PreferencesDoc::of(&d.preferences.0),
            preferences_version: d.preferences.1,
            deliveries: counts(&d.deliveries),
            last_delivery: d.last_delivery.map(|l| LastDeliveryView {
                id: l.id,
                signal_id: l.signal_id,
                status: l.status,
                created_at: l.created_at,
                delivered_at: l.delivered_at,
            }),
        }
    }
}

/// A stored signal: the signal as the engine sent it (canonical form) and Herald's facts.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalView {
    pub id: Uuid,
    pub kind: &'static str,
    pub asset: String,
    pub confidence: u8,
    pub generated_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub fanout_done_at: Option<DateTime<Utc>>,
    /// The signal as Herald stores it (see `proto/signal.v1.schema.json`).
    #[schema(value_type = Object)]
    pub signal: serde_json::Value,
}

impl From<StoredSignal> for SignalView {
    fn from(s: StoredSignal) -> Self {
        Self {
            id: s.signal.id.0,
            kind: s.signal.kind.as_str(),
            asset: s.signal.asset.as_str().to_string(),
            confidence: s.signal.confidence.get(),
            generated_at: s.signal.generated_at,
            received_at: s.received_at,
            deadline: s.deadline,
            fanout_done_at: s.fanout_done_at,
            signal: serde_json::to_value(herald_domain::SignalV1::from(&s.signal))
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

/// One signal and its deliveries counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalDetailView {
    #[serde(flatten)]
    pub signal: SignalView,
    /// Deliveries by status.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub deliveries: BTreeMap<&'static str, u64>,
}

/// One delivery of a signal: to a trader or a destination; for a close, also the edits of
/// the copies of the position it ended (`job: outcome`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub job: herald_domain::JobKind,
    /// The trader; null for a destination's delivery.
    pub user_id: Option<Uuid>,
    /// The destination (channel, group, topic); null for a trader's.
    pub destination_id: Option<Uuid>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub telegram_message_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub silent: bool,
    pub format: &'static str,
    pub language: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            job: d.job,
            user_id: d.user_id,
            destination_id: d.destination_id,
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            telegram_message_id: d.telegram_message_id,
            created_at: d.created_at,
            updated_at: d.updated_at,
            delivered_at: d.delivered_at,
            read_at: d.read_at,
            silent: d.silent,
            format: d.format.as_str(),
            language: d.language.to_string(),
        }
    }
}

/// An API key, never with its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<herald_domain::Scope>,
    pub allowed_ips: Vec<String>,
    pub rate_limit: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for KeyView {
    fn from(k: ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.key_prefix,
            scopes: k.scopes,
            allowed_ips: k.allowed_ips,
            rate_limit: k.rate_limit,
            created_at: k.created_at,
            created_by: k.created_by,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `user:<id>`, `telegram:<id>`, `key:<id>`, `cli` or `anonymous`.
    pub actor: String,
    /// E.g. `preferences.update`, `key.create`, `auth.failed`.
    pub action: String,
    pub target: Option<String>,
    /// The client's address.
    pub source: Option<String>,
    /// Before and after, a reason, a count.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// How many times it happened: 1, but for refusals coalesced into one event.
    pub occurrences: u64,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            source: r.source,
            details: r.details,
            occurrences: r.occurrences,
        }
    }
}

/// The OpenAPI schema of one listing's page: [`crate::extract::Page`] of that item, which is
/// what the handler answers (the same two fields).
macro_rules! page_schema {
    ($($name:ident of $item:ty),* $(,)?) => {$(
        #[doc = concat!("A page of ", stringify!($item), "; `next_cursor` is absent on the last page.")]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page.
            pub next_cursor: Option<String>,
        }
    )*};
}

page_schema!(
    UserPage of UserView,
    SignalPage of SignalView,
    DeliveryPage of DeliveryView,
    AuditPage of AuditView,
);

/// A window's statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub users: UsersStats,
    pub signals: SignalsStats,
    pub deliveries: DeliveriesStats,
    pub errors: ErrorStats,
}

/// Users, as they are now (and new in the window).
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersStats {
    pub total: u64,
    pub active: u64,
    pub subscribed: u64,
    pub new: u64,
}

/// Signals received in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalsStats {
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
}

/// The deliveries of the window's signals.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesStats {
    #[schema(value_type = BTreeMap<String, u64>)]
    pub by_status: BTreeMap<&'static str, u64>,
    /// Sent out of those that ended (sent, failed, blocked, expired); null when none ended.
    pub success_rate: Option<f64>,
    /// Signal received → Telegram accepted, milliseconds.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

/// What went wrong in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorStats {
    pub failed_deliveries: u64,
    pub retried_deliveries: u64,
    pub auth_failures: u64,
}

impl StatsView {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, s: Stats) -> Self {
        Self {
            from,
            to,
            users: UsersStats {
                total: s.users_total,
                active: s.users_active,
                subscribed: s.users_subscribed,
                new: s.users_new,
            },
            signals: SignalsStats {
                total: s.signals_by_kind.values().sum(),
                by_kind: s.signals_by_kind,
            },
            deliveries: DeliveriesStats {
                by_status: counts(&s.deliveries),
                success_rate: s.success_rate,
                latency_p50_ms: s.latency_p50_ms,
                latency_p95_ms: s.latency_p95_ms,
            },
            errors: ErrorStats {
                failed_deliveries: s.deliveries.failed,
                retried_deliveries: s.retried,
                auth_failures: s.auth_failures,
            },
        }
    }
}

/// How the signals generated in a window performed. Returns are percentages of the entry
/// price, per position, without fees, written as exact decimal strings (`"6.25"`, `"-5"`);
/// sums add returns, they do not compound them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerformanceView {
    /// `24h`, `7d`, `30d` or `all`; null when the window was given as `from`/`to`.
    pub window: Option<&'static str>,
    /// The window's start (included); null for all time.
    pub from: Option<DateTime<Utc>>,
    /// The window's end (not included).
    pub to: DateTime<Utc>,
    /// Whether any position closed with a known return: without one, every return and
    /// rate is null.
    pub enough_data: bool,
    pub signals: PerformanceSignals,
    pub positions: PerformancePositions,
    pub returns: PerformanceReturns,
    /// Per source model (signals without one under `unnamed`), most signals first, then by
    /// name.
    pub models: Vec<ModelPerformance>,
}

/// The window's signals, of every kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerformanceSignals {
    pub total: u64,
    /// Every kind, zeros included.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Most signals first, then by name.
    pub by_asset: Vec<AssetSignals>,
}

/// How many signals one asset had.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetSignals {
    #[schema(examples("BTC/USD"))]
    pub asset: String,
    pub signals: u64,
}

/// The positions the window's buys and sells opened, and how those that closed ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerformancePositions {
    /// Buys and sells.
    pub total: u64,
    /// Closed by a close signal (whenever it came).
    pub closed: u64,
    /// Not closed yet.
    pub open: u64,
    /// Closed with a known return (an exit price, or the target or stop the close names).
    pub measured: u64,
    /// Measured with a return above zero.
    pub wins: u64,
    /// Measured with a return below zero.
    pub losses: u64,
    /// Measured with a return of exactly zero.
    pub flat: u64,
    /// Wins in percent of the measured positions, a decimal string; null without any.
    #[schema(examples("66.666666666666666666666666667"))]
    pub win_rate: Option<String>,
}

/// The returns of the measured positions, in percent, as decimal strings; null without any.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerformanceReturns {
    /// Their sum (not compounded).
    #[schema(examples("25"))]
    pub total: Option<String>,
    /// Their mean.
    #[schema(examples("6.25"))]
    pub average: Option<String>,
    /// Their median (of an even count, the mean of the middle two).
    #[schema(examples("5"))]
    pub median: Option<String>,
    /// The highest (the earliest to close, on a tie).
    pub best: Option<AssetReturnView>,
    /// The lowest (the earliest to close, on a tie).
    pub worst: Option<AssetReturnView>,
}

/// One position's asset and return.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetReturnView {
    #[schema(examples("BTC/USD"))]
    pub asset: String,
    /// Percent, a decimal string.
    #[schema(examples("2.76"))]
    pub return_pct: String,
}

/// The figures of one source model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelPerformance {
    /// The model's name, or `unnamed`.
    pub model: String,
    /// Its signals, of every kind.
    pub signals: u64,
    /// Its closed positions.
    pub closed: u64,
    /// Wins in percent of its measured positions, a decimal string; null without any.
    pub win_rate: Option<String>,
    /// The mean return of those positions, a decimal string; null without any.
    pub average_return: Option<String>,
}

/// A decimal as its exact text.
fn text<D: ToString>(d: Option<D>) -> Option<String> {
    d.map(|d| d.to_string())
}

impl PerformanceView {
    pub fn new(
        window: Option<Window>,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
        f: Figures,
    ) -> Self {
        let n = |count: usize| count as u64;
        let asset_return = |r: AssetReturn| AssetReturnView {
            asset: r.asset,
            return_pct: r.return_pct.to_string(),
        };
        Self {
            window: window.map(Window::as_str),
            from,
            to,
            enough_data: f.has_enough_data(),
            signals: PerformanceSignals {
                total: n(f.signals),
                by_kind: f.by_kind.iter().map(|(k, c)| (k.as_str(), n(*c))).collect(),
                by_asset: f
                    .by_asset
                    .iter()
                    .map(|a| AssetSignals {
                        asset: a.asset.clone(),
                        signals: n(a.signals),
                    })
                    .collect(),
            },
            positions: PerformancePositions {
                total: n(f.positions),
                closed: n(f.closed),
                open: n(f.open),
                measured: n(f.measured()),
                wins: n(f.wins),
                losses: n(f.losses),
                flat: n(f.flat),
                win_rate: text(f.win_rate),
            },
            returns: PerformanceReturns {
                total: text(f.total_return),
                average: text(f.average_return),
                median: text(f.median_return),
                best: f.best.map(asset_return),
                worst: f.worst.map(asset_return),
            },
            models: f
                .models
                .into_iter()
                .map(|m| ModelPerformance {
                    model: m.model,
                    signals: n(m.signals),
                    closed: n(m.closed),
                    win_rate: text(m.win_rate),
                    average_return: text(m.average_return),
                })
                .collect(),
        }
    }
}

/// A channel, group or forum topic signals go to besides traders' private chats.
#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationView {
    pub id: Uuid,
    /// The group's or channel's chat id (negative).
    #[schema(examples(-1001234567890_i64))]
    pub chat_id: i64,
    /// The forum topic (`message_thread_id`); null for the whole chat.
    pub thread_id: Option<i32>,
    pub name: String,
    /// The kinds of signal it gets.
    pub kinds: Vec<&'static str>,
    /// The assets it gets; empty: every asset.
    pub assets: Vec<String>,
    /// Signals under this confidence are not sent there.
    pub min_confidence: u8,
    /// `detailed` or `compact`.
    pub format: &'static str,
    /// `en` or `es`.
    pub language: &'static str,
    /// Whether signals go there now.
    pub active: bool,
    /// Why not, when Herald stopped it (e.g. `the bot was removed from the chat`; it resumes
    /// when the bot is back).
    pub inactive_reason: Option<String>,
    /// Removed by an admin (listed only with `?all=true`): nothing goes there any more.
    pub removed: bool,
    /// When it was removed.
    pub removed_at: Option<DateTime<Utc>>,
    /// Who registered it: `cli` or `staff:<telegram id>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl DestinationView {
    pub fn new(d: Destination) -> Self {
        Self {
            id: d.id,
            chat_id: d.chat_id,
            thread_id: d.thread_id,
            name: d.name,
            kinds: d.kinds.iter().map(|k| k.as_str()).collect(),
            assets: d.assets.iter().map(|a| a.as_str().to_string()).collect(),
            min_confidence: d.min_confidence,
            format: d.format.as_str(),
            language: d.language.code(),
            active: d.active,
            inactive_reason: d.inactive_reason,
            removed: d.removed_at.is_some(),
            removed_at: d.removed_at,
            created_by: d.created_by,
            created_at: d.created_at,
        }
    }
}

/// A group or channel the bot is or was in, as Telegram last told.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotChatView {
    #[schema(examples(-1001234567890_i64))]
    pub chat_id: i64,
    /// `group`, `supergroup` or `channel`.
    pub kind: String,
    pub title: Option<String>,
    /// A forum: it has topics, each a destination of its own.
    pub is_forum: bool,
    /// The bot's status there: `member`, `administrator`, `left`, `kicked`, …
    pub status: String,
    /// Whether the bot can post there now.
    pub bot_is_in: bool,
    /// The Telegram user who added or removed the bot.
    pub changed_by: Option<i64>,
    /// When Telegram told.
    pub updated_at: DateTime<Utc>,
}

impl From<BotChat> for BotChatView {
    fn from(c: BotChat) -> Self {
        Self {
            bot_is_in: c.bot_is_in(),
            chat_id: c.chat_id,
            kind: c.kind,
            title: c.title,
            is_forum: c.is_forum,
            status: c.status,
            changed_by: c.changed_by,
            updated_at: c.updated_at,
        }
    }
}
