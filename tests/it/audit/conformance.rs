//! One conformance suite for every audit sink: each property of the
//! `AuditSink` contract is its own function, and `suite!` runs every one
//! against the memory, file and Redis sinks (`audit::conformance::redis::…`;
//! `redis_replica` is a replica's own chain, `chains: per_replica`),
//! so a failure names the property and the sink, and a new sink gets the whole
//! contract by adding one line (an opener in `sinks`). Trails are read back
//! the way `toolgate audit verify` reads them: the file, or the Redis stream
//! and its checkpoint list.
//!
//! Then what only some sinks promise: a file sink reopened continues its
//! chain; Redis replicas append to one chain, and environments are apart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toolgate::audit::chain::{GENESIS, hash_value};
use toolgate::audit::checkpoint;
use toolgate::audit::verify::{verify_reader, verify_with};
use toolgate::audit::{AuditSink, FileSink, Receipt, RedisSink};

use super::sinks::{
    KEYED, Open, STARVABLE, Storage, StreamEntries, UNKEYED, append_n, entry, file, memory, redis,
    redis_conn, redis_replica, signer,
};
use crate::support::redis::{TestRedis, unique_env};

/// Every property, once per sink.
macro_rules! suite {
    ($($property:ident),+ $(,)?) => {
        suite!(@sink memory: $($property),+);
        suite!(@sink file: $($property),+);
        suite!(@sink redis: $($property),+);
        suite!(@sink redis_replica: $($property),+);
    };
    (@sink $sink:ident: $($property:ident),+) => {
        mod $sink {
            $(
                #[tokio::test]
                async fn $property() {
                    super::$property(super::$sink).await;
                }
            )+
        }
    };
}

suite!(
    an_empty_trail_has_the_genesis_head,
    append_returns_increasing_seq_and_links_the_chain,
    head_matches_the_last_append,
    records_verify_only_with_the_chain_key,
    an_unkeyed_trail_is_plain_sha256,
    concurrent_appends_land_in_one_chain,
    a_failing_sink_refuses_and_recovers_by_itself,
    checkpoints_are_kept_in_order_where_verify_finds_them,
    a_trail_verifies_against_its_signed_checkpoints,
    truncation_before_a_checkpoint_is_detected,
    a_checkpoint_the_trail_does_not_hold_is_refused,
);

async fn an_empty_trail_has_the_genesis_head(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    let head = b.sink.head().await.unwrap();
    assert_eq!((head.seq, head.hash.as_str()), (0, GENESIS));
    assert!(b.sink.checkpoints().await.unwrap().is_empty());
    assert!(b.sink.is_healthy());
    let report = b.verify(b.key(), &[], None).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, 0);
}

async fn append_returns_increasing_seq_and_links_the_chain(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    let receipts = append_n(&b, 5).await;
    assert_eq!(
        receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let records = b.records().await;
    assert_eq!(records.len(), 5);
    let mut prev = GENESIS.to_owned();
    for (i, (record, receipt)) in records.iter().zip(&receipts).enumerate() {
        assert_eq!(record.seq, receipt.seq);
        assert_eq!(
            record.hash, receipt.hash,
            "the receipt names the stored record"
        );
        assert_eq!(
            record.prev, prev,
            "record {} links to the one before",
            record.seq
        );
        assert_eq!(record.entry, entry(i), "the entry is stored as given");
        let v = serde_json::to_value(record).unwrap();
        assert_eq!(hash_value(&v, b.key()), record.hash);
        prev = record.hash.clone();
    }
}

async fn head_matches_the_last_append(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    for i in 0..4 {
        let receipt = b.sink.append(entry(i)).await.unwrap();
        assert_eq!(b.sink.head().await.unwrap(), receipt);
    }
}

async fn records_verify_only_with_the_chain_key(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    let receipts = append_n(&b, 6).await;
    let report = b.verify(b.key(), &[], None).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(
        (report.records, report.head_hash.as_str()),
        (6, receipts[5].hash.as_str())
    );
    let unkeyed = b.verify(None, &[], None).await.problem.unwrap();
    assert_eq!((unkeyed.kind, unkeyed.seq), ("edited", Some(1)));
    let wrong = b.verify(Some(b"another key"), &[], None).await.problem;
    assert_eq!(wrong.map(|p| p.kind), Some("edited"));
}

async fn an_unkeyed_trail_is_plain_sha256(open: Open) {
    let Some(b) = open(UNKEYED).await else { return };
    append_n(&b, 3).await;
    let report = b.verify(None, &[], None).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, 3);
    for record in b.records().await {
        let mut v = serde_json::to_value(&record).unwrap();
        v.as_object_mut().unwrap().remove("hash");
        let digest = <sha2::Sha256 as sha2::Digest>::digest(serde_json::to_vec(&v).unwrap());
        assert_eq!(record.hash, hex::encode(digest));
    }
}

async fn concurrent_appends_land_in_one_chain(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    let mut tasks = Vec::new();
    for i in 0..200 {
        let sink = b.sink.clone();
        tasks.push(tokio::spawn(
            async move { sink.append(entry(i)).await.unwrap() },
        ));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<u64>>(),
        "every record has its own place"
    );
    let report = b.verify(b.key(), &[], None).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, 200);
    let mut calls: Vec<String> = b
        .records()
        .await
        .into_iter()
        .map(|r| r.entry.call_id.unwrap())
        .collect();
    calls.sort_unstable();
    calls.dedup();
    assert_eq!(calls.len(), 200, "each append is stored exactly once");
}

async fn a_failing_sink_refuses_and_recovers_by_itself(open: Open) {
    let Some(mut b) = open(STARVABLE).await else {
        return;
    };
    let kept = append_n(&b, 2).await.pop().unwrap();
    b.starve().await;
    // A full disk may still take what fits in the trail's last page.
    let mut refused = None;
    for i in 0..200 {
        match b.sink.append(entry(100 + i)).await {
            Ok(_) => continue,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("a failing sink kept accepting records");
    assert!(e.to_string().starts_with("audit trail unavailable"), "{e}");
    assert!(!b.sink.is_healthy());
    let c = checkpoint::sign(&signer(), &kept);
    assert!(
        b.sink.checkpoint(&c).await.is_err(),
        "a checkpoint was kept by a failing sink"
    );

    b.restore().await;
    let mut appended = None;
    for _ in 0..100 {
        if let Ok(r) = b.sink.append(entry(999)).await {
            appended = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receipt = appended.expect("the sink did not recover");
    assert!(b.sink.is_healthy());
    assert_eq!(b.sink.head().await.unwrap(), receipt);
    let report = b.verify(b.key(), &[], None).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(
        (report.records, report.head_hash.as_str()),
        (receipt.seq, receipt.hash.as_str()),
        "no record went missing and none was half-kept"
    );
}

async fn checkpoints_are_kept_in_order_where_verify_finds_them(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    let signer = signer();
    append_n(&b, 3).await;
    let first = checkpoint::sign(&signer, &b.sink.head().await.unwrap());
    b.sink.checkpoint(&first).await.unwrap();
    append_n(&b, 2).await;
    let second = checkpoint::sign(&signer, &b.sink.head().await.unwrap());
    b.sink.checkpoint(&second).await.unwrap();
    let kept = b.sink.checkpoints().await.unwrap();
    assert_eq!(kept, [first.clone(), second.clone()]);
    assert_eq!((kept[0].seq, kept[1].seq), (3, 5));
    assert!(
        kept.iter()
            .all(|c| checkpoint::check_signature(c, &first.key))
    );
    assert_eq!(b.stored_checkpoints().await, kept);
}

async fn a_trail_verifies_against_its_signed_checkpoints(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    append_n(&b, 4).await;
    let c = checkpoint::sign(&signer(), &b.sink.head().await.unwrap());
    b.sink.checkpoint(&c).await.unwrap();
    append_n(&b, 2).await;
    let kept = b.sink.checkpoints().await.unwrap();
    let report = b.verify(b.key(), &kept, Some(&c.key)).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, 6);
    let other = hex::encode(signer().verifying_key().to_bytes());
    let r = b.verify(b.key(), &kept, Some(&other)).await;
    assert_eq!(r.problem.map(|p| p.kind), Some("bad_checkpoint"));
}

async fn truncation_before_a_checkpoint_is_detected(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    append_n(&b, 5).await;
    let c = checkpoint::sign(&signer(), &b.sink.head().await.unwrap());
    b.sink.checkpoint(&c).await.unwrap();
    b.drop_last_record().await;
    // The chain alone cannot tell a cut end; the checkpoint can.
    let alone = b.verify(b.key(), &[], None).await;
    assert!(alone.intact(), "{alone:?}");
    assert_eq!(alone.records, 4);
    let kept = b.sink.checkpoints().await.unwrap();
    let problem = b
        .verify(b.key(), &kept, Some(&c.key))
        .await
        .problem
        .unwrap();
    assert_eq!((problem.kind, problem.seq), ("truncated", Some(5)));
}

async fn a_checkpoint_the_trail_does_not_hold_is_refused(open: Open) {
    let Some(b) = open(KEYED).await else { return };
    let signer = signer();
    let empty = checkpoint::sign(&signer, &b.sink.head().await.unwrap());
    assert!(
        b.sink.checkpoint(&empty).await.is_err(),
        "a checkpoint of nothing"
    );
    let head = append_n(&b, 2).await.pop().unwrap();
    let ahead = Receipt {
        seq: head.seq + 1,
        hash: head.hash.clone(),
    };
    let forged = Receipt {
        seq: head.seq,
        hash: "ab".repeat(32),
    };
    for r in [ahead, forged] {
        let c = checkpoint::sign(&signer, &r);
        assert!(b.sink.checkpoint(&c).await.is_err(), "{r:?} was kept");
    }
    assert!(b.sink.checkpoints().await.unwrap().is_empty());
    assert!(b.stored_checkpoints().await.is_empty());
}

#[tokio::test]
async fn a_reopened_file_sink_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let key: Arc<[u8]> = Arc::from(crate::support::canary("audit-key-").as_bytes());
    let last = {
        let sink = FileSink::open(&path, Some(key.clone()), None).unwrap();
        for i in 0..3 {
            sink.append(entry(i)).await.unwrap();
        }
        sink.head().await.unwrap()
    };
    let sink = FileSink::open(&path, Some(key.clone()), None).unwrap();
    assert_eq!(sink.head().await.unwrap(), last);
    assert_eq!(sink.append(entry(3)).await.unwrap().seq, 4);
    let report = verify_with(std::slice::from_ref(&path), Some(&key), &[], None);
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, 4);
}

#[tokio::test]
async fn redis_replicas_append_to_one_chain() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let env = unique_env("trail");
    let key: Arc<[u8]> = Arc::from(crate::support::canary("audit-").as_bytes());
    // Two replicas, each with its own connection, appending at once.
    let sinks: Vec<Arc<RedisSink>> = (0..2)
        .map(|_| {
            let conn = toolgate::store::redis_connect(
                &toolgate::store::RedisTarget::Node(redis.url.clone()),
                &Default::default(),
            )
            .unwrap();
            Arc::new(RedisSink::open(conn, &env, Some(key.clone())))
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let sink = sinks[i % 2].clone();
        tasks.push(tokio::spawn(
            async move { sink.append(entry(i)).await.unwrap() },
        ));
    }
    let mut seqs: Vec<u64> = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=300).collect::<Vec<u64>>(),
        "every record has its own place"
    );
    let head = sinks[0].head().await.unwrap();
    assert_eq!(head, sinks[1].head().await.unwrap());
    assert_eq!(head.seq, 300);
    // A checkpoint kept by one replica is seen by the other.
    let c = checkpoint::sign(&signer(), &head);
    sinks[1].checkpoint(&c).await.unwrap();
    assert_eq!(
        sinks[0].checkpoints().await.unwrap(),
        std::slice::from_ref(&c)
    );
    let (reader, stored) = toolgate::audit::redis_read::open_reader(&redis.url, &env).unwrap();
    let report = verify_reader(
        Path::new("redis"),
        reader,
        Some(&key),
        &stored,
        Some(&c.key),
    );
    assert!(report.intact(), "{:?}", report.problem);
    assert_eq!((report.records, report.head_hash), (300, head.hash));
}

#[tokio::test]
async fn redis_a_record_deleted_from_the_stream_is_found() {
    let Some(b) = redis(KEYED).await else { return };
    append_n(&b, 20).await;
    let Storage::Redis { redis, env, .. } = &b.storage else {
        unreachable!("opened on Redis")
    };
    let stream = toolgate::audit::redis::Keys::new(env).stream;
    let mut conn = redis_conn(&redis.url).await;
    let entries: StreamEntries = ::redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = ::redis::cmd("XDEL")
        .arg(&stream)
        .arg(&entries[9].0)
        .query_async(&mut conn)
        .await
        .unwrap();
    let problem = b.verify(b.key(), &[], None).await.problem.unwrap();
    assert_eq!((problem.kind, problem.seq), ("missing", Some(11)));
}

#[tokio::test]
async fn redis_environments_keep_their_own_trails() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let open = |env: &str| {
        let conn = toolgate::store::redis_connect(
            &toolgate::store::RedisTarget::Node(redis.url.clone()),
            &Default::default(),
        )
        .unwrap();
        RedisSink::open(conn, env, None)
    };
    let (one, other) = (open(&unique_env("one")), open(&unique_env("other")));
    for i in 0..3 {
        one.append(entry(i)).await.unwrap();
    }
    let c = checkpoint::sign(&signer(), &one.head().await.unwrap());
    one.checkpoint(&c).await.unwrap();
    assert_eq!(other.head().await.unwrap().seq, 0);
    assert!(other.checkpoints().await.unwrap().is_empty());
    assert_eq!(other.append(entry(0)).await.unwrap().seq, 1);
    assert_eq!(one.head().await.unwrap().seq, 3);
}
