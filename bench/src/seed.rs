//! Seeding many subscribed traders fast: rows written a thousand at a time, straight through
//! the entities (registering a million traders one `/start` at a time would take longer than
//! the benchmark).

use chrono::{DateTime, Utc};
use herald_store::Store;
use herald_store::entity::{user_subscriptions, users};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

/// Registers and subscribes `count` traders with chat ids `first_chat..first_chat + count`,
/// all as of `now`.
pub async fn traders(
    store: &Store,
    first_chat: i64,
    count: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let chats: Vec<i64> = (first_chat..first_chat + count).collect();
    for chunk in chats.chunks(1000) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        users::Entity::insert_many(chunk.iter().zip(&ids).map(|(chat, id)| users::ActiveModel {
            id: Set(*id),
            telegram_id: Set(*chat),
            chat_id: Set(*chat),
            username: Set(None),
            first_name: Set(Some("Trader".into())),
            last_name: Set(None),
            created_at: Set(now),
            is_active: Set(true),
            is_admin: Set(false),
            language_code: Set(None),
            staff_role: Set(None),
            staff_since: Set(None),
            totp_secret: Set(None),
            totp_last_step: Set(None),
        }))
        .exec_without_returning(store.connection())
        .await?;
        user_subscriptions::Entity::insert_many(ids.iter().map(|id| {
            user_subscriptions::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(*id),
                subscription_type: Set(herald_store::SIGNALS_SUBSCRIPTION.into()),
                started_at: Set(now),
                expires_at: Set(None),
                is_active: Set(true),
                tier: Set(None),
            }
        }))
        .exec_without_returning(store.connection())
        .await?;
    }
    Ok(())
}
