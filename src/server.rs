//! Serving: bind, serve the router, and stop gracefully.
//!
//! On SIGTERM or Ctrl-C the listener stops accepting, calls in flight are
//! drained (up to `limits.shutdown_grace_ms`), then the process exits.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::gateway::Gateway;

/// Resolves when the process is asked to stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serve until `stop` resolves, then drain for at most the configured grace period.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = gw.config.limits.shutdown_grace;
    // `/metrics` on its own address, with the same connection limits.
    let metrics = match gw.config.metrics_listen {
        Some(addr) => Some(bind(addr).await.map_err(|e| {
            std::io::Error::other(format!("cannot listen for /metrics on {addr}: {e}"))
        })?),
        None => None,
    };
    let mut loaded = crate::audit::Entry::new(crate::audit::Event::ConfigLoaded);
    loaded.environment = Some(gw.config.environment.clone());
    loaded.config_sha256 = Some(gw.config.sha256.clone());
    if let Err(e) = gw.audit.append(loaded).await {
        return Err(std::io::Error::other(format!(
            "refusing to serve without an audit trail: {e}"
        )));
    }
    match crate::approvals::sweep::recover(&gw).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            actions = n,
            "actions left executing by a stopped process are now unknown"
        ),
        Err(e) => tracing::error!(error = %e, "cannot check for abandoned actions"),
    }
    if let Err(e) = crate::events::catch_up(&gw).await {
        tracing::error!(error = %e, "cannot read kill switches from the store");
        return Err(std::io::Error::other(
            "the store cannot be read; refusing to serve without kill switches",
        ));
    }
    let sweeper = tokio::spawn(crate::approvals::sweep::sweeper(gw.clone()));
    let _events = AbortOnDrop(tokio::spawn(crate::events::listen(gw.clone())));
    let _fresh = AbortOnDrop(tokio::spawn(crate::events::keep_fresh(gw.clone())));
    let _checkpoints = AbortOnDrop(tokio::spawn(checkpointer(gw.clone())));
    let _refusals = AbortOnDrop(tokio::spawn(refusals_writer(gw.clone())));
    let _purger = AbortOnDrop(tokio::spawn(crate::dead_letters::purge::purger(gw.clone())));
    let _rotations = AbortOnDrop(tokio::spawn(crate::rotation::scheduler(gw.clone())));
    let limits = gw.config.limits.clone();
    let _metrics = metrics.map(|listener| {
        let app = crate::api::metrics::router(gw.clone());
        let limits = limits.clone();
        AbortOnDrop(tokio::spawn(async move {
            crate::listener::run(listener, app, &limits, None, std::future::pending()).await;
        }))
    });
    let _tls_watch = gw
        .tls
        .clone()
        .map(|tls| AbortOnDrop(tokio::spawn(tls.watch())));
    let app = crate::api::router(gw.clone());
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = crate::listener::run(listener, app, &limits, gw.tls.clone(), async move {
        stop.await;
        tracing::info!("shutting down: no new connections; draining calls in flight");
        let _ = stopped_tx.send(());
    });
    let _stop_sweeper = AbortOnDrop(sweeper);
    tokio::select! {
        () = server => {}
        _ = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("shutdown grace period over; abandoning remaining calls");
        }
    }
    // What was counted since the last interval.
    write_refusals(&gw).await;
    Ok(())
}

/// Write the counts of unauthenticated refusals every `refusals_interval`.
async fn refusals_writer(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(gw.config.audit.refusals_interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        write_refusals(&gw).await;
    }
}

/// Write the window's counts to the trail — unless its storage is short of
/// space, which is kept for authenticated calls: then they are only logged.
async fn write_refusals(gw: &Gateway) {
    let entries = gw.refusals.take();
    let total: u64 = entries.iter().filter_map(|e| e.count).sum();
    if total == 0 {
        return;
    }
    if gw.audit_space_low() {
        gw.refusals.unrecorded(total);
        tracing::warn!(
            refused = total,
            "the audit trail is short of space: unauthenticated refusals are counted, not recorded"
        );
        return;
    }
    let mut written = 0;
    for entry in entries {
        let n = entry.count.unwrap_or(0);
        if let Err(e) = gw.audit.append(entry).await {
            gw.refusals.unrecorded(total - written);
            tracing::error!(error = %e, "cannot record unauthenticated refusals");
            return;
        }
        written += n;
    }
}

/// Connections the kernel may queue before they are accepted: a burst of
/// new clients is not dropped (the default of 128 drops some, and their
/// connects stall for a second).
const LISTEN_BACKLOG: u32 = 1024;

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Sign the audit head every `checkpoint_interval` (when it moved) and hand
/// it to the audit sink, which keeps it beside its records.
async fn checkpointer(gw: Arc<Gateway>) {
    let Some(key) = gw.audit_signer.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(gw.config.audit.checkpoint_interval);
    let mut last = None;
    loop {
        tick.tick().await;
        let Ok(head) = gw.audit.head().await else {
            continue;
        };
        if last == Some(head.seq) || head.seq == 0 {
            continue;
        }
        let c = crate::audit::checkpoint::sign(&key, &head);
        match gw.audit.checkpoint(&c).await {
            Ok(()) => last = Some(head.seq),
            Err(e) => tracing::error!(error = %e, "cannot write an audit checkpoint"),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
