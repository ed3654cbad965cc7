//! Connecting to NATS: one server or a cluster, with or without credentials, and errors that
//! name the setting to fix — never the secret in it.
//!
//! Herald authenticates in one of three ways, each from its own setting:
//!
//! | setting | what | NATS server side |
//! |---|---|---|
//! | `HERALD_NATS_URL` `nats://user:password@host:4222` | user and password | `authorization { users = [{user, password}] }` |
//! | `HERALD_NATS_URL` `nats://token@host:4222` | a token | `authorization { token }` |
//! | `HERALD_NATS_CREDS` | a `.creds` file (user JWT and nkey seed) | decentralised auth (operator, accounts) |
//! | `HERALD_NATS_NKEY_SEED` | an nkey seed (`SU…`) | `authorization { users = [{nkey: U…}] }` |
//!
//! async-nats 0.51 does not read credentials out of a URL (it would connect without them, and
//! its debug logs print the URL whole), so [`NatsOptions`] takes them out of every server
//! address and hands them to the client as options.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, ServerAddr};
use secrecy::{ExposeSecret, SecretString};

use crate::bus::BusError;

/// The setting that lists the servers (and may carry a user and password or a token).
pub const URL_SETTING: &str = "HERALD_NATS_URL";
/// The setting naming a `.creds` file.
pub const CREDS_SETTING: &str = "HERALD_NATS_CREDS";
/// The setting holding an nkey seed.
pub const NKEY_SEED_SETTING: &str = "HERALD_NATS_NKEY_SEED";

/// Where NATS is and how to prove who we are to it.
#[derive(Clone, Default)]
pub struct NatsOptions {
    /// One server URL or several, comma-separated (a cluster); each may carry
    /// `user:password@` or `token@` (percent-encoded), the same on every one that does.
    pub url: String,
    /// A NATS credentials file (user JWT and nkey seed).
    pub credentials_file: Option<PathBuf>,
    /// An nkey seed (`SU…`).
    pub nkey_seed: Option<SecretString>,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("url", &redact_url(&self.url))
            .field("credentials_file", &self.credentials_file)
            .field("nkey_seed", &self.nkey_seed.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl From<&str> for NatsOptions {
    fn from(url: &str) -> Self {
        Self {
            url: url.to_string(),
            ..Self::default()
        }
    }
}

impl From<&String> for NatsOptions {
    fn from(url: &String) -> Self {
        url.as_str().into()
    }
}

impl From<String> for NatsOptions {
    fn from(url: String) -> Self {
        Self {
            url,
            ..Self::default()
        }
    }
}

/// Which credentials a connection presents, to name the setting when NATS refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented {
    Nothing,
    UrlUserPassword,
    UrlToken,
    CredsFile,
    NkeySeed,
}

impl Presented {
    fn setting(self) -> &'static str {
        match self {
            Self::Nothing | Self::UrlUserPassword | Self::UrlToken => URL_SETTING,
            Self::CredsFile => CREDS_SETTING,
            Self::NkeySeed => NKEY_SEED_SETTING,
        }
    }
}

/// Credentials found in a server URL.
#[derive(PartialEq, Eq)]
enum UrlAuth {
    UserPassword(String, String),
    Token(String),
}

/// Whether, in a list of servers, every one that carries credentials names its scheme
/// before them (`nats://user:password@host`). If not, the list was most likely cut inside a
/// password holding a raw comma (`nats://user:pa,ss@host`), and its pieces cannot be told
/// apart from the secret.
fn credentials_stay_in_their_server(url: &str) -> bool {
    let pieces: Vec<&str> = url.split(',').collect();
    pieces.len() < 2
        || pieces.iter().all(|piece| match piece.rfind('@') {
            Some(at) => piece.find("://").is_some_and(|scheme| scheme < at),
            None => true,
        })
}

/// The server addresses without credentials, and the credentials they carried.
fn split_url(url: &str) -> Result<(Vec<ServerAddr>, Option<UrlAuth>), BusError> {
    let invalid = |problem: String| BusError::Config {
        setting: URL_SETTING,
        problem,
    };
    let mut servers = Vec::new();
    let mut auth: Option<UrlAuth> = None;
    if !credentials_stay_in_their_server(url) {
        return Err(invalid(
            "a server in the list carries credentials without its scheme: write each as \
             nats://user:password@host, and a comma inside a user name or password as %2C"
                .into(),
        ));
    }
    let with_credentials = url.contains('@');
    for (n, server) in url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let addr = ServerAddr::from_str(server).map_err(|e| {
            if with_credentials {
                // A comma inside a password splits the list there: the piece may hold part
                // of the secret, so it is not shown.
                invalid(format!(
                    "server {} of the list is not an address; a comma inside a user name or \
                     password must be written %2C",
                    n + 1
                ))
            } else {
                invalid(format!("{server}: {e}"))
            }
        })?;
        let found = match (addr.username(), addr.password()) {
            (Some(user), Some(password)) => {
                Some(UrlAuth::UserPassword(decode(user), decode(password)))
            }
            (Some(token), None) => Some(UrlAuth::Token(decode(token))),
            _ => None,
        };
        if let Some(found) = found {
            if auth.as_ref().is_some_and(|a| *a != found) {
                return Err(invalid(
                    "the servers carry different credentials: give the same user:password@ \
                     (or token@) on every server, or on none"
                        .into(),
                ));
            }
            auth = Some(found);
        }
        let mut bare = addr.into_inner();
        // Both only fail for URLs that cannot have credentials, which these just had.
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        servers.push(
            ServerAddr::from_url(bare)
                .map_err(|e| invalid(format!("{}: {e}", redact_url(server))))?,
        );
    }
    if servers.is_empty() {
        return Err(invalid("names no server".into()));
    }
    Ok((servers, auth))
}

/// Percent-decodes a URL's user or password (`p%40ss` is `p@ss`); malformed escapes stay as
/// they are.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl NatsOptions {
    /// The options the settings `HERALD_NATS_URL`, `HERALD_NATS_CREDS` and
    /// `HERALD_NATS_NKEY_SEED` give.
    pub fn new(
        url: &str,
        credentials_file: Option<&PathBuf>,
        nkey_seed: Option<&SecretString>,
    ) -> Self {
        Self {
            url: url.to_string(),
            credentials_file: credentials_file.cloned(),
            nkey_seed: nkey_seed.cloned(),
        }
    }

    /// The client options carrying these credentials, the servers, and which credentials
    /// they are.
    async fn prepare(&self) -> Result<(ConnectOptions, Vec<ServerAddr>, Presented), BusError> {
        let (servers, url_auth) = split_url(&self.url)?;
        let mut given = Vec::new();
        if url_auth.is_some() {
            given.push(URL_SETTING);
        }
        if self.credentials_file.is_some() {
            given.push(CREDS_SETTING);
        }
        if self.nkey_seed.is_some() {
            given.push(NKEY_SEED_SETTING);
        }
        if given.len() > 1 {
            return Err(BusError::Config {
                setting: given[1],
                problem: format!(
                    "give NATS credentials in one way only, but {} are both set",
                    given.join(" and ")
                ),
            });
        }
        let options = ConnectOptions::new();
        let (options, presented) = match (url_auth, &self.credentials_file, &self.nkey_seed) {
            (Some(UrlAuth::UserPassword(user, password)), _, _) => (
                options.user_and_password(user, password),
                Presented::UrlUserPassword,
            ),
            (Some(UrlAuth::Token(token)), _, _) => (options.token(token), Presented::UrlToken),
            (None, Some(path), _) => (
                options
                    .credentials_file(path)
                    .await
                    .map_err(|e| BusError::Config {
                        setting: CREDS_SETTING,
                        problem: format!("cannot use {}: {e}", path.display()),
                    })?,
                Presented::CredsFile,
            ),
            (None, None, Some(seed)) => (
                options.nkey(seed.expose_secret().to_string()),
                Presented::NkeySeed,
            ),
            (None, None, None) => (options, Presented::Nothing),
        };
        Ok((options, servers, presented))
    }
}

/// Connects a NATS client with these options (named `herald`, 5 s per attempt). A server
/// that refuses the credentials, or wants some and got none, fails at once with a message
/// naming the setting to fix.
pub async fn client(nats: &NatsOptions) -> Result<async_nats::Client, BusError> {
    let (options, servers, presented) = nats.prepare().await?;
    let url = redact_url(&nats.url);
    options
        .name("herald")
        .connection_timeout(Duration::from_secs(5))
        .connect(servers)
        .await
        .map_err(|e| {
            let reason = match (e.kind(), presented) {
                (ConnectErrorKind::AuthorizationViolation, Presented::Nothing) => format!(
                    "the server wants credentials and Herald gave none: put \
                     user:password@ or token@ in {URL_SETTING}, or set {CREDS_SETTING} or \
                     {NKEY_SEED_SETTING} ({e})"
                ),
                (ConnectErrorKind::AuthorizationViolation, p) => format!(
                    "the server refused the credentials from {}: check them ({e})",
                    p.setting()
                ),
                (ConnectErrorKind::Authentication, p) => format!(
                    "could not sign in with {}: it holds no valid nkey seed ({e})",
                    p.setting()
                ),
                _ => e.to_string(),
            };
            BusError::Connect { url, reason }
        })
}

/// `url` (one server or a comma-separated list) without any `user:password@` or `token@`
/// part, to show in logs and errors.
pub fn redact_url(url: &str) -> String {
    if !credentials_stay_in_their_server(url) {
        // A comma inside the credentials: where one server ends is unknowable, so everything
        // up to the last `@` goes.
        let at = url.rfind('@').unwrap_or(0);
        let scheme = url.find("://").map_or("", |s| &url[..s + 3]);
        return format!("{scheme}***@{}", &url[at + 1..]);
    }
    url.split(',')
        .map(|server| match (server.find("://"), server.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***@{}", &server[..scheme], &server[at + 1..])
            }
            (None, Some(at)) => format!("***@{}", &server[at + 1..]),
            _ => server.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_error_messages() {
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact_url("nats://u:secret@h:4222"), "nats://***@h:4222");
        assert_eq!(redact_url("nats://s3cr3tT0ken@h:4222"), "nats://***@h:4222");
        assert_eq!(redact_url("tok@h:4222"), "***@h:4222");
        assert_eq!(
            redact_url("nats://a:b@h1:4222,nats://h2:4222"),
            "nats://***@h1:4222,nats://h2:4222"
        );
        // A raw comma inside a password: nothing of it shows.
        assert_eq!(
            redact_url("nats://herald:sec,ret@h1:4222"),
            "nats://***@h1:4222"
        );
        assert_eq!(
            redact_url("nats://herald:2024,Spring@h1:4222,nats://h2"),
            "nats://***@h1:4222,nats://h2"
        );
    }

    #[test]
    fn credentials_come_out_of_every_server_address() {
        let (servers, auth) =
            split_url("nats://herald:p%40ss@h1:4222, nats://herald:p%40ss@h2:4223,h3").unwrap();
        let urls: Vec<_> = servers.iter().map(|s| s.as_url_str().to_string()).collect();
        assert_eq!(urls, ["nats://h1:4222", "nats://h2:4223", "nats://h3"]);
        assert!(auth == Some(UrlAuth::UserPassword("herald".into(), "p@ss".into())));
        let (_, auth) = split_url("nats://t0ken@h1:4222").unwrap();
        assert!(auth == Some(UrlAuth::Token("t0ken".into())));
        let (_, auth) = split_url("nats://h1:4222").unwrap();
        assert!(auth.is_none());
    }

    #[test]
    fn bad_urls_name_the_setting_without_the_secret() {
        let e = split_url("nats://u:secret1@h1,nats://u:secret2@h2")
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("HERALD_NATS_URL: "), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = split_url("http://u:secret@h1").err().unwrap().to_string();
        assert!(e.starts_with("HERALD_NATS_URL: "), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = split_url(" , ").err().unwrap().to_string();
        assert_eq!(e, "HERALD_NATS_URL: names no server");
        // A raw comma in a password cuts the list inside the secret.
        let e = split_url("nats://herald:sec,ret@h1:4222")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("%2C"), "{e}");
        assert!(!e.contains("sec") && !e.contains("ret@"), "{e}");
        let e = split_url("nats://herald:2024,Spring@h1:4222")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("%2C") && !e.contains("2024") && !e.contains("Spring"),
            "{e}"
        );
        let (_, auth) = split_url("nats://herald:sec%2Cret@h1:4222").unwrap();
        assert!(auth == Some(UrlAuth::UserPassword("herald".into(), "sec,ret".into())));
    }

    #[tokio::test]
    async fn one_way_of_giving_credentials_at_a_time() {
        let options = NatsOptions {
            url: "nats://u:secret@h1".into(),
            nkey_seed: Some("SUAsecret".into()),
            ..NatsOptions::default()
        };
        let e = options.prepare().await.err().unwrap().to_string();
        assert_eq!(
            e,
            "HERALD_NATS_NKEY_SEED: give NATS credentials in one way only, but \
             HERALD_NATS_URL and HERALD_NATS_NKEY_SEED are both set"
        );
        assert!(!format!("{options:?}").contains("secret"));
    }

    #[tokio::test]
    async fn a_missing_creds_file_names_the_setting() {
        let options = NatsOptions {
            url: "nats://h1".into(),
            credentials_file: Some("/nonexistent/herald.creds".into()),
            ..NatsOptions::default()
        };
        let e = options.prepare().await.err().unwrap().to_string();
        assert!(
            e.starts_with("HERALD_NATS_CREDS: cannot use /nonexistent/herald.creds"),
            "{e}"
        );
    }
}
