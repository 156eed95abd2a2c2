//! The listener: which connections are accepted, and how long a client may
//! take over a request's head.
//!
//! Every connection is served by hyper (HTTP/1.1 and HTTP/2 on one port)
//! with a timer, so the limits below are enforced by the protocol code
//! itself, before any byte reaches the router:
//!
//! - a connection beyond `limits.max_connections`, or beyond
//!   `limits.max_connections_per_client` from one address, is closed at once;
//! - a request head not complete within `limits.header_read_timeout_ms` —
//!   and any connection, HTTP/1 or HTTP/2, with no request in flight for
//!   that long — is closed ([`conn`]);
//! - a head larger than `limits.max_header_bytes`, or (HTTP/1) with more
//!   than `limits.max_headers` fields, is refused;
//! - HTTP/2: at most `limits.max_streams_per_connection` streams at once,
//!   streams reset before they are served are bounded (rapid reset), and a
//!   connection that stops answering pings is closed.
//!
//! On `stop`, the listener closes, and connections finish what they serve.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Limits;
use crate::tls::{ClientCert, ListenerTls, PeerCert};

mod conn;

/// How often an idle HTTP/2 connection is pinged, and how long an answer may take.
const H2_PING: Duration = Duration::from_secs(20);
/// HTTP/2 streams a client may reset before they are served, at once.
const H2_PENDING_RESETS: usize = 20;

/// Connections open per client address.
#[derive(Debug, Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its client's count, given back on drop.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Connections closed for a limit: logged at most once a second with how
/// many, so a flood of connections cannot flood the log.
#[derive(Debug, Default)]
struct Refusals {
    since_logged: u64,
    logged_at: Option<std::time::Instant>,
}

impl Refusals {
    fn note(&mut self, what: &'static str) {
        self.since_logged += 1;
        if self
            .logged_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(closed = self.since_logged, "{what}");
            self.since_logged = 0;
            self.logged_at = Some(std::time::Instant::now());
        }
    }
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams_per_connection)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(Some(H2_PENDING_RESETS))
        .keep_alive_interval(Some(H2_PING))
        .keep_alive_timeout(H2_PING);
    b
}

/// Serve `app` on `listener` (over TLS when `tls` is given) until `stop`
/// resolves; then stop accepting and return once every open connection has
/// finished.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    tls: Option<Arc<ListenerTls>>,
    stop: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder(limits));
    let (stop_all, stopping) = tokio::sync::watch::channel(false);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let mut refused = Refusals::default();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, usually: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refused.note("connection limit reached; new connections are closed");
            continue;
        };
        let Some(slot) = per_client.take(peer.ip(), limits.max_connections_per_client) else {
            refused.note("a client reached its connection limit; its new connections are closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = conn::Activity::new();
        // Handlers and the gate see the client's address, and its
        // certificate when it showed one.
        let app = app.clone();
        let service = {
            let activity = activity.clone();
            move |cert: Option<Arc<PeerCert>>| {
                let app = tower::Layer::layer(&axum::Extension(ClientCert(cert)), app);
                TowerToHyperService::new(conn::Tracked {
                    inner: tower::Layer::layer(
                        &axum::Extension(axum::extract::ConnectInfo(peer)),
                        app,
                    ),
                    activity,
                })
            }
        };
        let builder = builder.clone();
        let stopping = stopping.clone();
        let idle = limits.header_read_timeout;
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let served =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service(None));
                    conn::serve(served, activity, idle, stopping).await;
                }
                // The handshake is bounded like a request head: a client
                // that opens a connection and stalls holds it no longer.
                Some(tls) => {
                    match tokio::time::timeout(idle, tls.acceptor().accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let cert = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .map(|leaf| Arc::new(PeerCert::of(leaf)));
                            let served = builder.serve_connection_with_upgrades(
                                TokioIo::new(stream),
                                service(cert),
                            );
                            conn::serve(served, activity, idle, stopping).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    // Every connection finishes what it serves, then gives its permit back.
    let _ = stop_all.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = open.acquire_many(all).await;
}
