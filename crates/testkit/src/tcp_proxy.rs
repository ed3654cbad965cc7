//! A TCP proxy a test puts between the code under test and a real server (PostgreSQL, NATS),
//! to take that server away and give it back without touching the server itself: other tests
//! keep using it undisturbed.
//!
//! [`TcpProxy::cut`] makes the server look like it fell off the network: connections already
//! made stop carrying bytes (a query in flight never gets its answer) and new connections are
//! accepted but never answered — the hard kind of outage, where only timeouts help.
//! [`TcpProxy::restore`] closes every connection held during the cut (so clients notice and
//! reconnect) and forwards new ones again.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy to one upstream address. Dropping it stops it and closes its connections.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    open: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (open, _) = watch::channel(true);
        let modes = open.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, modes.subscribe()));
            }
        });
        Ok(Self { addr, open, accept })
    }

    /// Where clients should connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Takes the upstream away: nothing passes until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Gives the upstream back: connections held during the cut are closed, new ones are
    /// forwarded.
    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Dropping `open` ends every connection task: their `wait_for` fails.
    }
}

/// Carries one client connection while the proxy is open; holds it silently while cut.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut open: watch::Receiver<bool>) {
    if !*open.borrow_and_update() {
        // Accepted but never answered, like a server behind a dead link; closed on restore.
        let _ = open.wait_for(|open| *open).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let cut = tokio::select! {
        // A cut wins over bytes that arrive after it.
        biased;
        cut = open.wait_for(|open| !*open) => cut.is_ok(),
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
    };
    if cut {
        // Both ends stay open and silent until the restore closes them.
        let _ = open.wait_for(|open| *open).await;
    }
    drop((client, server));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An upstream that echoes every byte back.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream) -> std::io::Result<[u8; 4]> {
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        Ok(buf)
    }

    #[tokio::test]
    async fn forwards_holds_while_cut_and_closes_held_connections_on_restore() {
        let proxy = TcpProxy::start(echo_server().await).await.unwrap();
        let mut before = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(&round_trip(&mut before).await.unwrap(), b"ping");

        proxy.cut();
        let mut during = TcpStream::connect(proxy.addr()).await.unwrap();
        let short = std::time::Duration::from_millis(200);
        assert!(
            tokio::time::timeout(short, round_trip(&mut before))
                .await
                .is_err(),
            "an old connection carries nothing while cut"
        );
        assert!(
            tokio::time::timeout(short, round_trip(&mut during))
                .await
                .is_err(),
            "a new connection is never answered while cut"
        );

        proxy.restore();
        let mut buf = [0u8; 16];
        assert_eq!(
            during.read(&mut buf).await.unwrap_or(0),
            0,
            "closed on restore"
        );
        let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(&round_trip(&mut after).await.unwrap(), b"ping");
    }
}
