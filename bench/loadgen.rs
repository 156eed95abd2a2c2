//! A fixed-rate (open-loop) HTTP load generator for `bench/proxy.sh`.
//!
//! Requests are sent on a fixed schedule whatever the server does, and each
//! latency is measured from its *scheduled* start, so a stall shows up in the
//! percentiles instead of silently slowing the load (no coordinated omission).
//!
//! cargo run --release --example loadgen -- URL RATE SECONDS [HEADER:VALUE]... [@BODYFILE]

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: loadgen URL RATE SECONDS [Header:Value]... [@bodyfile]");
        std::process::exit(2);
    }
    let url = args[0].clone();
    let rate: f64 = args[1].parse().expect("RATE is requests per second");
    let secs: f64 = args[2].parse().expect("SECONDS");
    let mut headers = reqwest::header::HeaderMap::new();
    let mut body = Vec::new();
    for a in &args[3..] {
        if let Some(path) = a.strip_prefix('@') {
            body = std::fs::read(path).expect("body file");
        } else if let Some((k, v)) = a.split_once(':') {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).expect("header name"),
                v.trim().parse().expect("header value"),
            );
        }
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    // Warm the connection pool.
    for _ in 0..20 {
        let _ = client
            .post(&url)
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
    }
    let total = (rate * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, bool)>();
    let start = Instant::now() + Duration::from_millis(50);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url, headers, body, tx) = (
            client.clone(),
            url.clone(),
            headers.clone(),
            body.clone(),
            tx.clone(),
        );
        tokio::spawn(async move {
            let ok = match client.post(&url).headers(headers).body(body).send().await {
                Ok(r) => {
                    let ok = r.status().is_success();
                    let _ = r.bytes().await;
                    ok
                }
                Err(_) => false,
            };
            let _ = tx.send((scheduled.elapsed().as_micros() as u64, ok));
        });
    }
    drop(tx);
    let mut lat = Vec::with_capacity(total);
    let mut errors = 0usize;
    while let Some((us, ok)) = rx.recv().await {
        lat.push(us);
        if !ok {
            errors += 1;
        }
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1] as f64 / 1000.0
    };
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "requests={} errors={} achieved_rps={:.0} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        lat.len(),
        errors,
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}
