//! Who may do what: staff roles for the admin API and scopes for API keys.
//!
//! Traders are not staff; staff are traders (Telegram users of the bot) granted a role with
//! `herald admin grant`. An API key carries scopes rather than a role: it stands for a
//! program (the Signal Engine, a dashboard), not a person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A staff member's role in the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    /// Reads and changes: users' preferences, API keys, the audit log.
    Admin,
    /// Reads users, signals, deliveries and statistics; changes nothing.
    Viewer,
}

impl StaffRole {
    /// The stored and wire form: `admin` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    /// Whether this role may change things (create, update, delete), not only read.
    pub fn may_write(self) -> bool {
        self == Self::Admin
    }
}

impl fmt::Display for StaffRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StaffRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "viewer" => Ok(Self::Viewer),
            other => Err(format!("{other:?} is not a role: use admin or viewer")),
        }
    }
}

/// What an API key may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    /// `POST /api/signals` on ingest-api.
    #[serde(rename = "signals:write")]
    SignalsWrite,
    /// `GET /api/stats` on admin-api.
    #[serde(rename = "stats:read")]
    StatsRead,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 2] = [Scope::SignalsWrite, Scope::StatsRead];

    /// The stored and wire form, e.g. `signals:write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignalsWrite => "signals:write",
            Self::StatsRead => "stats:read",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a scope: use {}",
                    Scope::ALL.map(Scope::as_str).join(" or ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_scopes_round_trip_and_name_the_choices() {
        for role in [StaffRole::Admin, StaffRole::Viewer] {
            assert_eq!(role.as_str().parse::<StaffRole>(), Ok(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(
                serde_json::to_string(&scope).unwrap(),
                format!("\"{scope}\"")
            );
        }
        assert_eq!(
            "root".parse::<StaffRole>().unwrap_err(),
            "\"root\" is not a role: use admin or viewer"
        );
        assert_eq!(
            "signals:read".parse::<Scope>().unwrap_err(),
            "\"signals:read\" is not a scope: use signals:write or stats:read"
        );
    }
}
