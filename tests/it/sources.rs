//! The `SecretSource` contract: one function per property, each run against
//! every kind of source that has the property — `env`, `file`, `vault` (a
//! real `bao server -dev`), `oauth2` (a real OAuth2 server) and, in
//! `aws/contract.rs`, `aws_secrets_manager` (moto). A failing
//! test names the kind; the panic names the property.
//!
//! Each property gets a fresh `Credentials` (the facade the gateway uses)
//! over a source holding a fresh random value, so timings do not leak from
//! one property into the next. A new kind of source gets the whole contract
//! by implementing [`Kind`] and calling [`contract`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::json;
use toolgate::redact::{RedactorBuilder, SharedRedactor};
use toolgate::secrets::{CredentialError, Credentials, EnvSource};

use crate::oauth2::Provider;
use crate::support::{ConfigDir, canary, must_load};
use crate::vault::{Bao, bao_or_skip};

/// Environment variables that a test can change while toolgate runs.
#[derive(Default)]
pub(crate) struct TestEnv(Mutex<HashMap<String, String>>);

impl TestEnv {
    pub(crate) fn set(&self, k: &str, v: &str) {
        self.0.lock().unwrap().insert(k.to_owned(), v.to_owned());
    }
    fn unset(&self, k: &str) {
        self.0.lock().unwrap().remove(k);
    }
}

impl EnvSource for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap().get(name).cloned()
    }
}

/// One credential `crm` over a source of the kind under test.
pub(crate) struct Harness {
    creds: Credentials,
    redactor: Arc<SharedRedactor>,
    env: Arc<TestEnv>,
    dir: ConfigDir,
    /// The value the source holds (env, file, vault); OAuth2 asks its provider.
    pub(crate) value: Mutex<String>,
    /// Vault: the secret's API path (AWS: the secret's name).
    pub(crate) path: String,
    provider: Option<Provider>,
}

impl Harness {
    /// Credentials from a toolgate.yaml with `top` (e.g. a vault block) and
    /// credential `crm` reading `source`.
    pub(crate) fn new(
        top: &str,
        source: &str,
        env: Arc<TestEnv>,
        dir: ConfigDir,
        value: String,
    ) -> Harness {
        std::fs::create_dir_all(dir.path().join("tools")).unwrap();
        dir.write(
            "toolgate.yaml",
            &format!(
                "environment: test\n{top}credentials:\n  crm:\n    environment: test\n    source: {source}\n    inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n"
            ),
        );
        let config = must_load(toolgate::config::load(&dir.config_path()));
        let redactor = Arc::new(SharedRedactor::new(RedactorBuilder::new().build()));
        let creds = Credentials::new(&config, env.clone(), redactor.clone());
        Harness {
            creds,
            redactor,
            env,
            dir,
            value: Mutex::new(value),
            path: String::new(),
            provider: None,
        }
    }

    async fn current(&self) -> Result<Arc<toolgate::secrets::Loaded>, CredentialError> {
        self.creds.current("crm", None).await
    }

    fn redacts(&self, value: &str) -> bool {
        let text = format!("before {value} after");
        let r = self.redactor.load();
        let (out, n) = r.redact_str(&text);
        n >= 1 && !out.contains(value)
    }
}

/// What the contract needs to know about one kind of source.
pub(crate) trait Kind {
    /// A credential whose source holds a fresh value.
    async fn fresh(&self) -> Harness;
    /// A credential whose source has nothing to give.
    async fn missing(&self) -> Harness;
    /// The value the source gives now.
    async fn expected(&self, h: &Harness) -> String;
    /// Make the source give a new value.
    async fn rotate(&self, h: &Harness);
    /// How long after [`Kind::rotate`] the new value is used without a
    /// reload; `None` when only a reload picks it up.
    fn picked_up_after(&self) -> Option<Duration>;
    /// Make the source unreadable; `None` when the kind has no such state
    /// after start (the process environment).
    async fn cut(&self, h: &mut Harness) -> Option<()>;
    /// How long after its last good read the last value may still serve.
    fn stale_bound(&self) -> Duration;
}

// ---- the properties ----

/// The source's value is what `current` gives, as a stable version.
async fn reads_the_current_value(k: &impl Kind) {
    let h = k.fresh().await;
    let loaded = h
        .current()
        .await
        .expect("reads_the_current_value: readable");
    assert_eq!(
        loaded.value.expose_secret(),
        k.expected(&h).await,
        "reads_the_current_value"
    );
    assert!(loaded.version >= 1, "reads_the_current_value: a version");
    let again = h.current().await.unwrap();
    assert_eq!(
        again.version, loaded.version,
        "reads_the_current_value: no churn"
    );
    assert!(
        h.redacts(loaded.value.expose_secret()),
        "reads_the_current_value: redacted"
    );
}

/// After the source changes and an operator reloads, the new value is
/// current under a higher version, and the previous one stays redacted.
async fn a_reload_picks_up_a_new_version_and_the_old_stays_redacted(k: &impl Kind) {
    let h = k.fresh().await;
    let before = h.current().await.unwrap();
    k.rotate(&h).await;
    let version = h.creds.reload("crm").await.expect("reload");
    let after = h.current().await.unwrap();
    assert_eq!(
        after.version, version,
        "reload: the version it reports is current"
    );
    assert!(after.version > before.version, "reload: a new version");
    assert_eq!(
        after.value.expose_secret(),
        k.expected(&h).await,
        "reload: the new value"
    );
    assert_ne!(after.value.expose_secret(), before.value.expose_secret());
    assert!(
        h.redacts(after.value.expose_secret()),
        "reload: the new value is redacted"
    );
    assert!(
        h.redacts(before.value.expose_secret()),
        "reload: the old value stays redacted"
    );
}

/// A change at the source is used without a reload, once the kind's cache
/// allows; the previous value stays redacted.
async fn a_change_is_picked_up_without_reload(k: &impl Kind) {
    let Some(wait) = k.picked_up_after() else {
        return;
    };
    let h = k.fresh().await;
    let before = h.current().await.unwrap();
    k.rotate(&h).await;
    tokio::time::sleep(wait).await;
    let after = h.current().await.unwrap();
    assert!(after.version > before.version, "picked up: a new version");
    assert_eq!(
        after.value.expose_secret(),
        k.expected(&h).await,
        "picked up: the new value"
    );
    assert!(
        h.redacts(before.value.expose_secret()),
        "picked up: the old value stays redacted"
    );
}

/// A source with nothing to give fails with `Unavailable` (never a value),
/// shows in `unavailable()`, and a reload fails the same way.
async fn a_source_with_nothing_fails_closed(k: &impl Kind) {
    let h = k.missing().await;
    assert!(
        matches!(h.current().await, Err(CredentialError::Unavailable { .. })),
        "nothing: unavailable"
    );
    assert_eq!(
        h.creds.unavailable().await,
        ["crm"],
        "nothing: listed as unavailable"
    );
    assert!(
        matches!(
            h.creds.reload("crm").await,
            Err(CredentialError::Unavailable { .. })
        ),
        "nothing: a reload is unavailable"
    );
    assert!(matches!(
        h.creds.current("nope", None).await,
        Err(CredentialError::Unknown(_))
    ));
}

/// Once the source cannot be read, the last value serves at most for the
/// kind's bound; after it, `Unavailable` — never the stale value.
async fn an_unreadable_source_fails_closed_after_its_bound(k: &impl Kind) {
    let mut h = k.fresh().await;
    let last = h.current().await.unwrap();
    let read_at = std::time::Instant::now();
    if k.cut(&mut h).await.is_none() {
        return;
    }
    let bound = k.stale_bound();
    if !bound.is_zero() {
        let within = h
            .current()
            .await
            .expect("unreadable: serves within its bound");
        assert_eq!(within.value.expose_secret(), last.value.expose_secret());
    }
    tokio::time::sleep((bound + Duration::from_millis(300)).saturating_sub(read_at.elapsed()))
        .await;
    match h.current().await {
        Err(e @ CredentialError::Unavailable { .. }) => {
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains(last.value.expose_secret()),
                "unreadable: no value in the error"
            );
        }
        other => panic!(
            "unreadable: past its bound, expected Unavailable, got {:?}",
            other.map(|l| l.version)
        ),
    }
    assert_eq!(
        h.creds.unavailable().await,
        ["crm"],
        "unreadable: listed as unavailable"
    );
}

/// No value any source holds (current or previous) is in `Debug` output of
/// the facade, the loaded version or an error.
async fn values_never_show_in_debug_output(k: &impl Kind) {
    let h = k.fresh().await;
    let first = h.current().await.unwrap();
    k.rotate(&h).await;
    h.creds.reload("crm").await.unwrap();
    let second = h.current().await.unwrap();
    let missing = h.creds.current("nope", None).await.unwrap_err();
    let text = format!("{:?} {first:?} {second:?} {missing:?} {missing}", h.creds);
    assert!(
        text.contains("crm"),
        "debug: the facade names its credentials: {text}"
    );
    for v in [&first, &second] {
        assert!(
            !text.contains(v.value.expose_secret()),
            "debug: a value shows: {text}"
        );
    }
    for secret in h.env.0.lock().unwrap().values() {
        assert!(
            !text.contains(secret.as_str()),
            "debug: a source secret shows"
        );
    }
}

/// Every property, in order, against one kind.
pub(crate) async fn contract(k: &impl Kind) {
    reads_the_current_value(k).await;
    a_reload_picks_up_a_new_version_and_the_old_stays_redacted(k).await;
    a_change_is_picked_up_without_reload(k).await;
    a_source_with_nothing_fails_closed(k).await;
    an_unreadable_source_fails_closed_after_its_bound(k).await;
    values_never_show_in_debug_output(k).await;
}

// ---- env ----

struct Env;

impl Kind for Env {
    async fn fresh(&self) -> Harness {
        let env = Arc::new(TestEnv::default());
        let v = canary("env-");
        env.set("CRM_KEY", &v);
        Harness::new("", "{ env: CRM_KEY }", env, ConfigDir::new(), v)
    }
    async fn missing(&self) -> Harness {
        Harness::new(
            "",
            "{ env: CRM_KEY }",
            Arc::default(),
            ConfigDir::new(),
            String::new(),
        )
    }
    async fn expected(&self, h: &Harness) -> String {
        h.value.lock().unwrap().clone()
    }
    async fn rotate(&self, h: &Harness) {
        let v = canary("env2-");
        h.env.set("CRM_KEY", &v);
        *h.value.lock().unwrap() = v;
    }
    fn picked_up_after(&self) -> Option<Duration> {
        None
    }
    async fn cut(&self, h: &mut Harness) -> Option<()> {
        // The variable is read once at start; unsetting it later changes
        // nothing until a reload, which then fails.
        h.env.unset("CRM_KEY");
        assert!(matches!(
            h.creds.reload("crm").await,
            Err(CredentialError::Unavailable { .. })
        ));
        None
    }
    fn stale_bound(&self) -> Duration {
        Duration::ZERO
    }
}

#[tokio::test]
async fn env() {
    contract(&Env).await;
}

// ---- file ----

struct File;

impl File {
    fn write(h: &Harness, v: &str) {
        // Replaced as a Kubernetes secret volume does: a new file renamed over.
        let tmp = h.dir.write("secrets/crm.new", &format!("{v}\n"));
        std::fs::rename(tmp, h.dir.path().join("secrets/crm")).unwrap();
    }
}

impl Kind for File {
    async fn fresh(&self) -> Harness {
        let dir = ConfigDir::new();
        let v = canary("file-");
        dir.write("secrets/crm", &format!("{v}\n"));
        Harness::new("", "{ file: secrets/crm }", Arc::default(), dir, v)
    }
    async fn missing(&self) -> Harness {
        Harness::new(
            "",
            "{ file: secrets/crm }",
            Arc::default(),
            ConfigDir::new(),
            String::new(),
        )
    }
    async fn expected(&self, h: &Harness) -> String {
        h.value.lock().unwrap().clone()
    }
    async fn rotate(&self, h: &Harness) {
        let v = canary("file2-");
        File::write(h, &v);
        *h.value.lock().unwrap() = v;
    }
    fn picked_up_after(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
    async fn cut(&self, h: &mut Harness) -> Option<()> {
        std::fs::remove_file(h.dir.path().join("secrets/crm")).unwrap();
        Some(())
    }
    fn stale_bound(&self) -> Duration {
        Duration::ZERO
    }
}

#[tokio::test]
async fn file() {
    contract(&File).await;
}

// ---- vault ----

struct Vault(Bao);

impl Vault {
    fn top(&self) -> String {
        format!(
            "vault: {{ address: \"{}\", token: {{ env: VT }}, cache_seconds: 1, max_stale_seconds: 1 }}\n",
            self.0.addr
        )
    }

    fn harness(&self, path: String, value: String) -> Harness {
        let env = Arc::new(TestEnv::default());
        env.set("VT", &self.0.token);
        let source = format!("{{ vault: {{ path: \"{path}\", field: api_key }} }}");
        let mut h = Harness::new(&self.top(), &source, env, ConfigDir::new(), value);
        h.path = path;
        h
    }
}

impl Kind for Vault {
    async fn fresh(&self) -> Harness {
        let path = format!("secret/data/crm{}", rand::random::<u32>());
        let v = canary("vault-");
        self.0
            .api("POST", &path, json!({"data": {"api_key": v}}))
            .await;
        self.harness(path, v)
    }
    async fn missing(&self) -> Harness {
        self.harness(
            format!("secret/data/none{}", rand::random::<u32>()),
            String::new(),
        )
    }
    async fn expected(&self, h: &Harness) -> String {
        h.value.lock().unwrap().clone()
    }
    async fn rotate(&self, h: &Harness) {
        let v = canary("vault2-");
        self.0
            .api("POST", &h.path, json!({"data": {"api_key": v}}))
            .await;
        *h.value.lock().unwrap() = v;
    }
    fn picked_up_after(&self) -> Option<Duration> {
        // cache_seconds: 1
        Some(Duration::from_millis(1100))
    }
    async fn cut(&self, h: &mut Harness) -> Option<()> {
        // Every version deleted: Vault answers 404 from now on.
        let metadata = h.path.replacen("/data/", "/metadata/", 1);
        self.0.api("DELETE", &metadata, json!({})).await;
        Some(())
    }
    fn stale_bound(&self) -> Duration {
        // cache_seconds + max_stale_seconds
        Duration::from_secs(2)
    }
}

/// Per subject (`{subject}` in the Vault path): each subject its own value,
/// versions and redaction; none without a valid subject.
async fn subjects_never_share_a_value(v: &Vault) {
    let root = format!("users{}", rand::random::<u32>());
    let (alice, bob) = (canary("alice-"), canary("bob-"));
    for (s, value) in [("alice", &alice), ("bob", &bob)] {
        let path = format!("secret/data/{root}/{s}/crm");
        v.0.api("POST", &path, json!({"data": {"api_key": value}}))
            .await;
    }
    let h = v.harness(format!("secret/data/{root}/{{subject}}/crm"), String::new());
    let get = |s: Option<&'static str>| h.creds.current("crm", s);
    assert_eq!(
        get(Some("alice")).await.unwrap().value.expose_secret(),
        alice
    );
    assert_eq!(get(Some("bob")).await.unwrap().value.expose_secret(), bob);
    for s in [None, Some("carol"), Some("../bob"), Some("")] {
        assert!(
            matches!(get(s).await, Err(CredentialError::Unavailable { .. })),
            "subjects: {s:?} gets nothing"
        );
    }
    // A new version for alice: hers changes after a reload, bob's does not.
    let alice2 = canary("alice2-");
    let path = format!("secret/data/{root}/alice/crm");
    v.0.api("POST", &path, json!({"data": {"api_key": alice2}}))
        .await;
    assert_eq!(h.creds.reload("crm").await.unwrap(), 0);
    let a = get(Some("alice")).await.unwrap();
    assert_eq!((a.value.expose_secret(), a.version), (alice2.as_str(), 2));
    let b = get(Some("bob")).await.unwrap();
    assert_eq!((b.value.expose_secret(), b.version), (bob.as_str(), 1));
    for value in [&alice, &alice2, &bob] {
        assert!(
            h.redacts(value),
            "subjects: every subject's values are redacted"
        );
    }
    // Not listed for /readyz: without a caller there is nothing to check.
    assert!(h.creds.unavailable().await.is_empty());
}

#[tokio::test]
async fn vault() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let v = Vault(bao);
    contract(&v).await;
    subjects_never_share_a_value(&v).await;
}

// ---- oauth2 ----

struct OAuth2;

/// Token lifetime the provider gives: due for replacement at 4/5 of it.
/// (Long enough that a token request on a loaded machine is not itself
/// past the due time.)
const TOKEN_TTL_SECS: u64 = 4;
/// Tokens are JWTs stamped to the second: a new one differs after a second.
const ROTATE_WAIT: Duration = Duration::from_millis(1100);

impl OAuth2 {
    fn harness(&self, provider: Provider, secret: &str) -> Harness {
        let env = Arc::new(TestEnv::default());
        env.set("CLIENT_SECRET", secret);
        let source = format!(
            "{{ oauth2: {{ token_url: \"{}\", client_id: toolgate, client_secret: {{ env: CLIENT_SECRET }}, grant: client_credentials }} }}",
            provider.token_url()
        );
        let mut h = Harness::new(
            "store: { kind: memory }\n",
            &source,
            env,
            ConfigDir::new(),
            String::new(),
        );
        // Tokens kept sealed in a store, as the gateway does.
        h.creds.share_tokens(
            Arc::new(toolgate::store::MemoryStore::new()),
            toolgate::secrets::seal::Sealer::new(&canary("store-").into()),
            "test",
        );
        h.provider = Some(provider);
        h
    }
}

impl Kind for OAuth2 {
    async fn fresh(&self) -> Harness {
        let secret = canary("client-");
        let p = Provider::start(&secret, None, TOKEN_TTL_SECS).expect("the OAuth2 server");
        self.harness(p, &secret)
    }
    async fn missing(&self) -> Harness {
        // The provider refuses this client secret.
        let p =
            Provider::start(&canary("client-"), None, TOKEN_TTL_SECS).expect("the OAuth2 server");
        self.harness(p, &canary("wrong-"))
    }
    async fn expected(&self, h: &Harness) -> String {
        let issued = h.provider.as_ref().unwrap().issued();
        issued.last().cloned().expect("a token was issued")
    }
    async fn rotate(&self, _h: &Harness) {
        tokio::time::sleep(ROTATE_WAIT).await;
    }
    fn picked_up_after(&self) -> Option<Duration> {
        // Due at 4/5 of its lifetime; `rotate` already waited.
        Some(Duration::from_millis(TOKEN_TTL_SECS * 800 + 300) - ROTATE_WAIT)
    }
    async fn cut(&self, h: &mut Harness) -> Option<()> {
        h.provider.as_mut().unwrap().stop();
        Some(())
    }
    fn stale_bound(&self) -> Duration {
        // A valid token serves until it expires.
        Duration::from_secs(TOKEN_TTL_SECS)
    }
}

#[tokio::test]
async fn oauth2() {
    if Provider::start(&canary("probe-"), None, 1).is_none() {
        return;
    }
    contract(&OAuth2).await;
}
