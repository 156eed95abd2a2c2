//! Redaction throughput: 4 KB and 1 MB JSON bodies, 1 / 100 / 10,000 known
//! secrets, with and without the detectors, beside the naive baseline a
//! typical agent codebase uses (one `regex` replacement per pattern) over the
//! same inputs.
//!
//! cargo bench --bench redact

use std::time::Duration;

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng;
use rand::distr::Alphanumeric;
use regex::Regex;
use toolgate::redact::RedactorBuilder;

fn rand_str(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A JSON body of about `size` bytes with no secret in it.
fn body(size: usize) -> String {
    let mut out = String::from("{\"items\":[");
    let mut i = 0;
    while out.len() < size {
        out.push_str(&format!(
            "{{\"id\":\"{}\",\"name\":\"Lead {i}\",\"email\":\"lead{i}@example.com\",\"status\":\"qualified\",\"value\":{}}},",
            uuid::Uuid::new_v4(),
            i * 37
        ));
        i += 1;
    }
    out.pop();
    out.push_str("]}");
    out
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("redact");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for size in [4 * 1024, 1024 * 1024] {
        let text = body(size);
        g.throughput(Throughput::Bytes(text.len() as u64));
        for n in [1usize, 100, 10_000] {
            let secrets: Vec<String> = (0..n).map(|_| format!("sec-{}", rand_str(32))).collect();
            for detectors in [false, true] {
                let mut b = RedactorBuilder::new();
                b.detectors(detectors);
                for s in &secrets {
                    b.known_secret("c", s);
                }
                let r = b.build();
                let label = format!(
                    "{}KB/{n}secrets/{}",
                    text.len() / 1024,
                    if detectors { "detectors" } else { "values" }
                );
                g.bench_with_input(BenchmarkId::new("toolgate", &label), &text, |bch, t| {
                    bch.iter(|| r.redact_str(t).1)
                });
            }
            // The naive loop: one regex per secret, replace_all in turn.
            // (At 1 MB × 10,000 patterns one pass takes minutes; that case is left out.)
            if !(size > 4096 && n == 10_000) {
                let regexes: Vec<Regex> = secrets
                    .iter()
                    .map(|s| Regex::new(&regex::escape(s)).unwrap())
                    .collect();
                let label = format!("{}KB/{n}secrets/values", text.len() / 1024);
                g.bench_with_input(BenchmarkId::new("naive", &label), &text, |bch, t| {
                    bch.iter(|| {
                        let mut out = t.clone();
                        for re in &regexes {
                            out = re.replace_all(&out, "[REDACTED]").into_owned();
                        }
                        out.len()
                    })
                });
            }
        }
    }
    // Text with escapes (`\u00e9`, `&amp;`, `%20`) but no secret: every
    // view is built and searched.
    let text = body(1024 * 1024)
        .replace("Lead ", "L\\u00e9ad &amp; ")
        .replace("@example", "%40example");
    g.throughput(Throughput::Bytes(text.len() as u64));
    let secret = format!("sec-{}", rand_str(32));
    for detectors in [false, true] {
        let mut b = RedactorBuilder::new();
        b.detectors(detectors).known_secret("c", &secret);
        let r = b.build();
        let label = format!(
            "{}KB/1secrets/escaped/{}",
            text.len() / 1024,
            if detectors { "detectors" } else { "values" }
        );
        g.bench_with_input(BenchmarkId::new("toolgate", &label), &text, |bch, t| {
            bch.iter(|| r.redact_str(t).1)
        });
    }
    // Bodies in the other encodings decoding reads, none holding a secret:
    // JSON records each with a base64 field (a cursor, a thumbnail), a MIME
    // part (76-column base64 of random bytes), quoted-printable text.
    let mut rng = rand::rng();
    let mut blob = |n: usize| -> Vec<u8> { (0..n).map(|_| rng.random::<u8>()).collect() };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut records = String::from("{\"items\":[");
    while records.len() < 1024 * 1024 {
        records.push_str(&format!(
            "{{\"id\":\"{}\",\"cursor\":\"{}\",\"status\":\"qualified\"}},",
            uuid::Uuid::new_v4(),
            b64.encode(blob(48))
        ));
    }
    records.pop();
    records.push_str("]}");
    let mime = {
        let enc = b64.encode(blob(768 * 1024));
        let lines: Vec<&str> = enc
            .as_bytes()
            .chunks(76)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        )
    };
    let qp = {
        let line = "Caf=C3=A9 cr=C3=A8me, 2 =3D 1+1; the r=C3=A9sum=C3=A9 of the =\r\nmeeting is attached.\r\n";
        line.repeat(1024 * 1024 / line.len())
    };
    for (kind, text) in [("base64-fields", records), ("mime", mime), ("qp", qp)] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        for detectors in [false, true] {
            let mut b = RedactorBuilder::new();
            b.detectors(detectors).known_secret("c", &secret);
            let r = b.build();
            let label = format!(
                "{}KB/1secrets/{kind}/{}",
                text.len() / 1024,
                if detectors { "detectors" } else { "values" }
            );
            g.bench_with_input(BenchmarkId::new("toolgate", &label), &text, |bch, t| {
                bch.iter(|| r.redact_str(t).1)
            });
        }
    }
    // A UTF-16 body (the JSON body, little-endian, no mark: told by the NUL
    // pattern), redacted in its own encoding.
    let wide: Vec<u8> = body(1024 * 1024)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    g.throughput(Throughput::Bytes(wide.len() as u64));
    for detectors in [false, true] {
        let mut b = RedactorBuilder::new();
        b.detectors(detectors).known_secret("c", &secret);
        let r = b.build();
        let label = format!(
            "{}KB/1secrets/utf16/{}",
            wide.len() / 1024,
            if detectors { "detectors" } else { "values" }
        );
        g.bench_with_input(BenchmarkId::new("toolgate", &label), &wide, |bch, t| {
            bch.iter(|| r.redact_body(t, None).1)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
