//! The shared store (`store: {kind: redis, url | cluster}`): every replica
//! talks to one Redis (or Valkey), or one Redis Cluster, and so acts as one
//! gateway.
//!
//! Layout. A value is a hash `{v: bytes, n: version}` at
//! `toolgate:{<env>:<ns>}:<key>`, with a native TTL. Each namespace has an
//! index, a sorted set at `toolgate:{<env>:<ns>}#index` whose members are the
//! keys and whose scores are their expiry times (ms, server clock; `+inf` for
//! none), so listing skips expired keys and every write prunes the index of
//! them. A value and its index share the hash tag `{<env>:<ns>}`, so on Redis
//! Cluster each atomic step touches one slot (each script names every key it
//! touches in `KEYS`, all under one tag; a listing's pipeline reads keys of
//! one namespace, so of one slot too). Rate-limit state is one key per
//! limit, `toolgate:{<env>:rate}:<key>`.
//!
//! Atomicity. Every transition (insert-if-absent, compare-and-swap, delete,
//! the GCRA step) is one Lua script, which Redis runs without interleaving;
//! times come from the server (`TIME`), so replicas with skewed clocks agree.
//!
//! Faults. The connection is re-established by itself after Redis returns
//! (on a cluster, after the failed master's replica took over); until then
//! each operation fails at once (or after the response timeout) with
//! [`StoreError`], which callers turn into `503 store_unavailable`.
//!
//! Owns the `toolgate:{<env>:…}` keys of one environment and never touches
//! another's; never reads the local clock for a TTL or a limit; never puts
//! the URL (it may hold a password) in an error.

use std::time::Duration;

use async_trait::async_trait;
use redis::{Script, Value};

use super::contract::{Inserted, Ns, RateDecision, Store, StoreError, Swapped, Versioned};
use super::redis_client::{RedisConn, RedisOptions, RedisTarget, connect, redis_error_text};

fn err(e: &redis::RedisError) -> StoreError {
    StoreError(redis_error_text(e))
}

/// The server's clock in ms, inside a script.
const NOW_MS: &str = "local t = redis.call('TIME')\n\
                      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n";

/// KEYS: item, index. ARGV: value, ttl ms (0 = none), key.
/// Returns nil when inserted, else {value, version}.
const INSERT_NEW: &str = "
local cur = redis.call('HMGET', KEYS[1], 'v', 'n')
if cur[2] then return cur end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', 1)
local score = 'inf'
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  score = now + tonumber(ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], score, ARGV[3])
return false
";

/// KEYS: item, index. ARGV: expected version, value, ttl ms, key.
/// Returns {0} (absent), {1, value, version} (conflict) or {2, new version}.
const COMPARE_AND_SWAP: &str = "
local cur = redis.call('HMGET', KEYS[1], 'v', 'n')
if not cur[2] then return {0} end
if tonumber(cur[2]) ~= tonumber(ARGV[1]) then return {1, cur[1], cur[2]} end
local n = tonumber(cur[2]) + 1
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'n', n)
local score = 'inf'
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  score = now + tonumber(ARGV[3])
else
  redis.call('PERSIST', KEYS[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], score, ARGV[4])
return {2, n}
";

/// KEYS: item, index. ARGV: expected version ('' = any), key. Returns 1 when deleted.
const DELETE: &str = "
local n = redis.call('HGET', KEYS[1], 'n')
if not n then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 0
end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= tonumber(n) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
";

/// KEYS: index. Live keys (by the server clock), after pruning expired ones.
const LIVE_KEYS: &str = "
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// KEYS: limit key. ARGV: interval µs, tolerance µs.
/// GCRA on the server clock in µs: returns -1 when allowed, else the wait in µs.
const GCRA: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then return tat - now - tolerance end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1000)
return -1
";

struct Scripts {
    insert_new: Script,
    compare_and_swap: Script,
    delete: Script,
    live_keys: Script,
    gcra: Script,
}

pub struct RedisStore {
    conn: RedisConn,
    /// `toolgate:{<env>:`
    prefix: String,
    scripts: Scripts,
}

impl RedisStore {
    /// A store for `environment` on the Redis at `url`. Connects lazily.
    pub fn open(url: &str, environment: &str) -> Result<RedisStore, StoreError> {
        RedisStore::open_tls(url, &RedisOptions::default(), environment)
    }

    /// As [`RedisStore::open`], with `store.tls` for a `rediss://` URL.
    pub fn open_tls(
        url: &str,
        tls: &RedisOptions,
        environment: &str,
    ) -> Result<RedisStore, StoreError> {
        RedisStore::open_target(&RedisTarget::Node(url.to_owned()), tls, environment)
    }

    /// A store for `environment` on one Redis or a Redis Cluster.
    pub fn open_target(
        target: &RedisTarget,
        options: &RedisOptions,
        environment: &str,
    ) -> Result<RedisStore, StoreError> {
        Ok(RedisStore::new(connect(target, options)?, environment))
    }

    /// A store for `environment` over an existing connection.
    pub(crate) fn new(conn: RedisConn, environment: &str) -> RedisStore {
        let with_now = |body: &str| Script::new(&format!("{NOW_MS}{body}"));
        RedisStore {
            conn,
            prefix: format!("toolgate:{{{environment}:"),
            scripts: Scripts {
                insert_new: with_now(INSERT_NEW),
                compare_and_swap: with_now(COMPARE_AND_SWAP),
                delete: with_now(DELETE),
                live_keys: with_now(LIVE_KEYS),
                gcra: Script::new(GCRA),
            },
        }
    }

    fn item(&self, ns: Ns, key: &str) -> String {
        format!("{}{}}}:{key}", self.prefix, ns.as_str())
    }

    fn index(&self, ns: Ns) -> String {
        format!("{}{}}}#index", self.prefix, ns.as_str())
    }

    fn rate(&self, key: &str) -> String {
        format!("{}rate}}:{key}", self.prefix)
    }
}

fn ttl_ms(ttl: Option<Duration>) -> u64 {
    // A TTL that rounds to 0 ms would mean "none": keep it at least 1 ms.
    ttl.map(|t| (t.as_millis() as u64).max(1)).unwrap_or(0)
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => std::str::from_utf8(&bytes(other)?).ok()?.parse().ok(),
    }
}

fn versioned(value: &Value, version: &Value) -> Result<Versioned, StoreError> {
    match (bytes(value), number(version)) {
        (Some(value), Some(version)) => Ok(Versioned { value, version }),
        _ => Err(StoreError("redis: unexpected reply".into())),
    }
}

fn unexpected() -> StoreError {
    StoreError("redis: unexpected reply".into())
}

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<Versioned>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = redis::cmd("HMGET")
            .arg(self.item(ns, key))
            .arg("v")
            .arg("n")
            .query_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        match reply.as_slice() {
            [_, Value::Nil] => Ok(None),
            [v, n] => versioned(v, n).map(Some),
            _ => Err(unexpected()),
        }
    }

    async fn insert_new(
        &self,
        ns: Ns,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Inserted, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Value = self
            .scripts
            .insert_new
            .key(self.item(ns, key))
            .key(self.index(ns))
            .arg(value)
            .arg(ttl_ms(ttl))
            .arg(key)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        match reply {
            Value::Nil => Ok(Inserted::New),
            Value::Array(a) if a.len() == 2 => Ok(Inserted::Exists(versioned(&a[0], &a[1])?)),
            _ => Err(unexpected()),
        }
    }

    async fn compare_and_swap(
        &self,
        ns: Ns,
        key: &str,
        expected: u64,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Swapped, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = self
            .scripts
            .compare_and_swap
            .key(self.item(ns, key))
            .key(self.index(ns))
            .arg(expected)
            .arg(value)
            .arg(ttl_ms(ttl))
            .arg(key)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        match reply.as_slice() {
            [Value::Int(0)] => Ok(Swapped::Conflict(None)),
            [Value::Int(1), v, n] => Ok(Swapped::Conflict(Some(versioned(v, n)?))),
            [Value::Int(2), n] => Ok(Swapped::Done(number(n).ok_or_else(unexpected)?)),
            _ => Err(unexpected()),
        }
    }

    async fn delete(&self, ns: Ns, key: &str, expected: Option<u64>) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let deleted: i64 = self
            .scripts
            .delete
            .key(self.item(ns, key))
            .key(self.index(ns))
            .arg(expected.map(|e| e.to_string()).unwrap_or_default())
            .arg(key)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        Ok(deleted == 1)
    }

    async fn list(&self, ns: Ns, limit: usize) -> Result<Vec<(String, Versioned)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> = self
            .scripts
            .live_keys
            .key(self.index(ns))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        keys.sort_unstable();
        let mut out = Vec::new();
        for page in keys.chunks(512) {
            let mut pipe = redis::pipe();
            for k in page {
                pipe.cmd("HMGET").arg(self.item(ns, k)).arg("v").arg("n");
            }
            let replies: Vec<Vec<Value>> =
                pipe.query_async(&mut conn).await.map_err(|e| err(&e))?;
            for (k, reply) in page.iter().zip(replies) {
                // A key deleted or expired since the index was read is left out.
                if let [v, n] = reply.as_slice()
                    && *n != Value::Nil
                {
                    out.push((k.clone(), versioned(v, n)?));
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn rate_limit(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        let interval_us = 60_000_000u64 / u64::from(per_minute.max(1));
        let tolerance_us = interval_us * u64::from(burst.max(1) - 1);
        let mut conn = self.conn.clone();
        let wait_us: i64 = self
            .scripts
            .gcra
            .key(self.rate(key))
            .arg(interval_us)
            .arg(tolerance_us)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        Ok(if wait_us < 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(wait_us.max(1) as u64),
            }
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        Ok(())
    }

    fn is_shared(&self) -> bool {
        true
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}
