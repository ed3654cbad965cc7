//! sea-orm entities, one file per table, matching `herald-migrations` column for column.
//!
//! These are the storage shapes. The rest of the crate turns them into the plain records and
//! domain types that callers see; code outside this crate should rarely need them (an admin
//! query the [`Store`](crate::Store) does not offer yet is the exception).
//!
//! The derives generate undocumented public items (`Column`, `ActiveModel`, …), hence the
//! `missing_docs` allowance on each module.

#[allow(missing_docs)]
pub mod admin_login_codes;
#[allow(missing_docs)]
pub mod api_keys;
#[allow(missing_docs)]
pub mod audit_log;
#[allow(missing_docs)]
pub mod bot_chats;
#[allow(missing_docs)]
pub mod destinations;
#[allow(missing_docs)]
pub mod server_secrets;
#[allow(missing_docs)]
pub mod service_heartbeats;
#[allow(missing_docs)]
pub mod signal_deliveries;
#[allow(missing_docs)]
pub mod signal_outcomes;
#[allow(missing_docs)]
pub mod signals;
#[allow(missing_docs)]
pub mod subscription_tiers;
#[allow(missing_docs)]
pub mod user_preferences;
#[allow(missing_docs)]
pub mod user_subscriptions;
#[allow(missing_docs)]
pub mod users;
