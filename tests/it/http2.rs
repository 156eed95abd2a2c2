//! HTTP/2 abuse, with frames written by hand on a raw socket: a connection
//! that never completes a request head is closed within the head timeout, a
//! rapid-reset flood (CVE-2023-44487) ends in a GOAWAY, a CONTINUATION flood
//! is cut off at the header-size limit — and the gateway keeps serving
//! everyone else throughout.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Binary, bare_gateway};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The HPACK block of `GET /healthz` (static-table names, literal values).
fn healthz_block() -> Vec<u8> {
    let mut b = vec![0x82, 0x86]; // :method GET, :scheme http
    b.push(0x44); // :path, literal
    b.push(8);
    b.extend_from_slice(b"/healthz");
    b.push(0x41); // :authority, literal
    b.push(9);
    b.extend_from_slice(b"localhost");
    b
}

/// A connection that has sent the preface and its (empty) settings.
async fn open(gw: &Binary) -> TcpStream {
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    s.write_all(&hello).await.unwrap();
    s
}

/// How the server ended a connection: the GOAWAY error code if it sent one,
/// and when it closed (None: still open at `within`).
async fn ending(s: &mut TcpStream, within: Duration) -> (Option<u32>, Option<Duration>) {
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut goaway = None;
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Err(_) => return (goaway, None),
            Ok(Ok(0) | Err(_)) => return (goaway, Some(started.elapsed())),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        // Frames received so far: look for a GOAWAY.
        while buf.len() >= 9 {
            let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            if buf[3] == GOAWAY && len >= 8 {
                goaway = Some(u32::from_be_bytes(buf[13..17].try_into().unwrap()));
            }
            buf.drain(..9 + len);
        }
    }
}

/// How long after `opened` the server closed `s` (None: kept 10 s).
async fn closed_after(s: &mut TcpStream, opened: Instant) -> Option<Duration> {
    let (_, closed) = ending(s, Duration::from_secs(10)).await;
    closed.map(|_| opened.elapsed())
}

/// The gateway still answers someone else.
async fn still_serving(gw: &Binary) {
    let (st, _) = gw.get(None, "/healthz").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn a_connection_that_never_completes_a_request_head_is_closed() {
    let (gw, _keys, _dir) = bare_gateway("header_read_timeout_ms: 500").await;
    let opened = Instant::now();
    // A HEADERS frame whose CONTINUATION never comes.
    let mut partial = open(&gw).await;
    partial
        .write_all(&frame(HEADERS, 0, 1, &[0x82, 0x86]))
        .await
        .unwrap();
    // And a connection that sends nothing after its settings.
    let mut silent = open(&gw).await;
    still_serving(&gw).await;
    let (a, b) = tokio::join!(
        closed_after(&mut partial, opened),
        closed_after(&mut silent, opened)
    );
    for closed in [a, b] {
        let closed = closed.expect("the connection was kept");
        assert!(
            closed >= Duration::from_millis(450),
            "closed after {closed:?}, not for the timeout"
        );
    }
    still_serving(&gw).await;
}

#[tokio::test]
async fn a_rapid_reset_flood_ends_in_goaway() {
    let (gw, _keys, _dir) = bare_gateway("max_streams_per_connection: 100").await;
    let mut s = open(&gw).await;
    // Open a stream and cancel it at once, a thousand times, in one write.
    let block = healthz_block();
    let mut flood = Vec::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        flood.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, &block));
        flood.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
    }
    // The server may close before it has read everything.
    let _ = s.write_all(&flood).await;
    let (goaway, closed) = ending(&mut s, Duration::from_secs(10)).await;
    assert_eq!(goaway, Some(ENHANCE_YOUR_CALM), "closed: {closed:?}");
    still_serving(&gw).await;
}

#[tokio::test]
async fn a_continuation_flood_is_cut_off_at_the_header_limit() {
    let (gw, _keys, _dir) = bare_gateway("max_header_bytes: 16384").await;
    let mut s = open(&gw).await;
    s.write_all(&frame(HEADERS, 0, 1, &healthz_block()))
        .await
        .unwrap();
    // Header fields, each `x-pad: aaaa…`, 16 KiB a frame, without end.
    let mut field = vec![0x00, 5];
    field.extend_from_slice(b"x-pad");
    field.push(100);
    field.extend_from_slice(&[b'a'; 100]);
    let block: Vec<u8> = field
        .iter()
        .copied()
        .cycle()
        .take(field.len() * 150)
        .collect();
    let continuation = frame(CONTINUATION, 0, 1, &block);
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 {
            if wr.write_all(&continuation).await.is_err() {
                break;
            }
            sent += continuation.len();
        }
        sent
    });
    let mut buf = [0u8; 16 * 1024];
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the flood was read on and on");
    let sent = writer.await.unwrap();
    assert!(
        sent < 64 * 1024 * 1024,
        "the server took all {sent} bytes of headers"
    );
    still_serving(&gw).await;
}
