//! The listener's limits, on the real binary's socket: a request head that never
//! completes is cut off, connections beyond the per-client limit are closed
//! at once, and the gateway keeps serving everyone else meanwhile.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{bare_config, bare_gateway as gateway};

/// Read until the peer closes; how long that took (None: still open at `within`).
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within.saturating_sub(started.elapsed()), s.read(&mut buf)).await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_request_head_that_never_completes_is_cut_off() {
    let (gw, keys, _dir) = gateway("header_read_timeout_ms: 400").await;
    // A slow client: half a head, then nothing.
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"POST /v1/calls HTTP/1.1\r\nHost: toolgate\r\nX-Trickle: 1\r\n")
        .await
        .unwrap();
    // Meanwhile everyone else is served.
    let (st, _) = gw.get(Some(&keys.agent), "/v1/tools").await;
    assert_eq!(st, 200);
    let took = closed_within(&mut slow, Duration::from_secs(3)).await;
    assert!(took.is_some(), "the slow head was never cut off");
    // An idle keep-alive connection is closed after the same time.
    let mut idle = TcpStream::connect(gw.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: toolgate\r\n\r\n")
        .await
        .unwrap();
    let took = closed_within(&mut idle, Duration::from_secs(3)).await;
    assert!(took.is_some(), "an idle connection was kept");
}

#[tokio::test]
async fn connections_beyond_the_per_client_limit_are_closed_at_once() {
    let (gw, keys, _dir) =
        gateway("header_read_timeout_ms: 5000, max_connections_per_client: 3").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let s = TcpStream::connect(gw.addr).await.unwrap();
        held.push(s);
    }
    // The listener counts a connection once it accepts it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = TcpStream::connect(gw.addr).await.unwrap();
    let took = closed_within(&mut fourth, Duration::from_secs(2)).await;
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(1)),
        "a fourth connection from the same address was served: {took:?}"
    );
    // The held ones still work.
    let s = &mut held[0];
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: toolgate\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Closing them gives the places back.
    held.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, _) = gw.get(Some(&keys.agent), "/v1/tools").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn a_head_with_more_fields_than_max_headers_is_refused() {
    let (gw, _keys, _dir) = gateway("max_headers: 20").await;
    let send = |fields: usize| async move {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        let mut head = String::from("GET /healthz HTTP/1.1\r\nHost: toolgate\r\n");
        for i in 0..fields {
            head.push_str(&format!("X-F{i}: v\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // Host and 19 more: at the limit.
    assert!(send(19).await.starts_with("HTTP/1.1 200"));
    assert!(send(40).await.starts_with("HTTP/1.1 431"));
}

#[tokio::test]
async fn a_limit_key_outside_its_range_is_refused_at_load() {
    let (_keys, dir) = bare_config("max_header_bytes: 100");
    let problems = toolgate::catalog::load(&dir.config_path()).unwrap_err();
    let text: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("limits.max_header_bytes")),
        "{text:?}"
    );
}
