//! Building the teloxide client from Herald's configuration values.

use std::time::Duration;

use teloxide::Bot;

/// How long connecting to the Bot API may take (teloxide's default).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one Bot API request may take in all (teloxide's default). This applies to
/// `getUpdates` too — teloxide 0.17 ignores the long-poll hint when setting request timeouts
/// — so a long-poll `timeout` must stay well below it: use [`POLLING_TIMEOUT`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(17);

/// The long-poll timeout to give teloxide's `Polling::builder(..).timeout(..)`: shorter than
/// [`REQUEST_TIMEOUT`], so that an idle poll ends before the HTTP client gives up on it.
pub const POLLING_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a Telegram client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// The token is empty or has characters no bot token has.
    #[error("HERALD_TELEGRAM_TOKEN is invalid: {0}")]
    InvalidToken(&'static str),
    /// The API URL cannot be used as a Bot API base URL.
    #[error("HERALD_TELEGRAM_API_URL `{url}` is invalid: {reason}")]
    InvalidApiUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be created (e.g. TLS initialisation failed).
    #[error("could not create the HTTP client for Telegram: {0}")]
    HttpClient(String),
}

/// A teloxide [`Bot`] for `token` that talks to the Bot API at `api_url`
/// (`https://api.telegram.org`, or a double in tests), with teloxide's long-lived client
/// settings: connect timeout [`CONNECT_TIMEOUT`], total timeout [`REQUEST_TIMEOUT`],
/// `TCP_NODELAY`.
///
/// The token is checked for shape only (never printed); the URL must be an absolute
/// `http(s)` URL without query or fragment (a path prefix is allowed, a trailing `/` is
/// ignored).
pub fn bot(token: &str, api_url: &str) -> Result<Bot, TelegramError> {
    check_token(token)?;
    let url = parse_api_url(api_url)?;
    let client = teloxide::net::default_reqwest_settings()
        .build()
        .map_err(|e| TelegramError::HttpClient(e.without_url().to_string()))?;
    Ok(Bot::with_client(token, client).set_api_url(url))
}

fn check_token(token: &str) -> Result<(), TelegramError> {
    if token.is_empty() {
        return Err(TelegramError::InvalidToken("it is empty"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-');
    if !token.chars().all(allowed) {
        return Err(TelegramError::InvalidToken(
            "a bot token has only letters, digits, ':', '_' and '-'",
        ));
    }
    Ok(())
}

fn parse_api_url(api_url: &str) -> Result<reqwest::Url, TelegramError> {
    let invalid = |reason: &str| TelegramError::InvalidApiUrl {
        url: api_url.to_owned(),
        reason: reason.to_owned(),
    };
    let mut url = reqwest::Url::parse(api_url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    // teloxide appends `/bot<token>/<Method>` as path segments: drop a trailing empty one so
    // `https://host/` does not become `https://host//bot…`.
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
    } else {
        return Err(invalid("it cannot be a base URL"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_telegram_and_doubles() {
        let url = |u: &str| bot("123:ABC-def_g", u).unwrap().api_url().to_string();
        assert_eq!(url("https://api.telegram.org"), "https://api.telegram.org/");
        assert_eq!(url("http://127.0.0.1:8081/"), "http://127.0.0.1:8081/");
        assert_eq!(
            url("http://proxy.local/telegram/"),
            "http://proxy.local/telegram"
        );
    }

    #[test]
    fn rejects_bad_urls_naming_the_setting() {
        for url in [
            "",
            "api.telegram.org",
            "ftp://x.org",
            "mailto:a@b.c",
            "http://x.org/?a=1",
        ] {
            let err = bot("123:ABC", url).unwrap_err();
            assert!(
                err.to_string().contains("HERALD_TELEGRAM_API_URL"),
                "{url}: {err}"
            );
        }
    }

    #[test]
    fn rejects_bad_tokens_without_printing_them() {
        let err = bot("", "https://api.telegram.org").unwrap_err();
        assert!(err.to_string().contains("HERALD_TELEGRAM_TOKEN"));
        let err = bot("123:secret/../x", "https://api.telegram.org").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
