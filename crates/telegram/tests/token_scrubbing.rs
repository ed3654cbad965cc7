//! The bot token is part of every Bot API URL (`/bot<token>/<Method>`); no `SendError` may
//! ever carry it, whatever failed.

use std::net::SocketAddr;
use std::sync::Arc;

use herald_telegram::{Limiter, LimiterConfig, Priority, SendError, Sender, bot};

/// Shaped like a real token (35-character secret, which teloxide itself tries to redact) …
const REAL_LOOKING: &str = "7318264590:AAF3kq9Zr2LwXy8PdV5mNt0bQe7HsJc4UoG";
/// … and a short test token (which teloxide's redaction does not recognise).
const SHORT: &str = "42:s3cr3t";

async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

fn assert_clean(err: &SendError, token: &str) {
    let secret = token.split(':').nth(1).unwrap();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(secret), "token leaked: {text}");
    }
}

#[tokio::test]
async fn connection_refused_does_not_leak_the_token() {
    let addr = closed_port().await;
    for token in [REAL_LOOKING, SHORT] {
        let sender = Sender::new(
            bot(token, &format!("http://{addr}")).unwrap(),
            Arc::new(Limiter::new(LimiterConfig::unlimited())),
        );
        let err = sender
            .send_html(1, "hello", Priority::Bulk)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err:?}");
        assert!(err.to_string().to_lowercase().contains("connect"), "{err}");
        assert_clean(&err, token);
    }
}

#[tokio::test]
async fn an_unreadable_answer_echoing_the_url_does_not_leak_the_token() {
    // A proxy error page that quotes the request path, token and all.
    let app = axum::Router::new().fallback(|uri: axum::http::Uri| async move {
        format!("<html><body>upstream failed for {uri}</body></html>")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    for token in [REAL_LOOKING, SHORT] {
        let sender = Sender::new(
            bot(token, &format!("http://{addr}")).unwrap(),
            Arc::new(Limiter::new(LimiterConfig::unlimited())),
        );
        let err = sender
            .send_html(1, "hello", Priority::Bulk)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SendError::Unknown(t) if t.contains("upstream failed")),
            "{err:?}"
        );
        assert_clean(&err, token);
    }
}
