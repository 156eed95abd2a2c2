//! Rotation that toolgate performs: for a credential with `rotation:`, on
//! schedule (`every`) or when an admin asks, mint a new key at the vendor,
//! write it as a new version of the credential's source, switch every
//! replica's calls to it, keep the old key valid (and known to the
//! redactor) for `grace`, then revoke it.
//!
//! ```text
//! idle ──due──▶ minting ──mint + write──▶ switching ──reload, announce──▶ grace ──revoke_at──▶ idle
//!                  │                          │                             │
//!                  └── a failure: the key in use stays in use; audited, retried with backoff ──┘
//! ```
//!
//! Each step is done by the one replica holding the record's lease
//! ([`state`]); the record in the store says which step comes next, so a
//! replica that starts (or takes over a lease that ran out) resumes there:
//! a written key is switched to, a revoke whose grace passed happens. Every
//! step is audited, none with a secret. A failure leaves the key in use
//! working, is audited (`rotation_failed`), counted in metrics, shown on
//! `/readyz` and in the access review, and retried after a backoff
//! (`retry.initial`, doubling up to `retry.max`).

pub(crate) mod requests;
pub(crate) mod state;

use std::sync::Arc;
use std::time::Duration;

use crate::audit::{Entry, Event};
use crate::config::{CredentialDef, RotationDef};
use crate::gateway::Gateway;
use crate::store::{StoreError, now_ms};
use state::{Failure, Lost, OldKey, Phase, Record};

/// How long a lease lasts past the longest request of a step.
const LEASE_SLACK: Duration = Duration::from_secs(30);

/// Why a rotation asked for now cannot start.
#[derive(Debug)]
pub(crate) enum Refused {
    /// One is under way (minting, switching, or in its grace period).
    InProgress(Box<Record>),
    Store(StoreError),
}

fn lease_ms(rot: &RotationDef) -> u64 {
    let longest = rot
        .mint
        .timeout
        .max(rot.revoke.as_ref().map_or(Duration::ZERO, |r| r.timeout));
    (2 * longest + LEASE_SLACK).as_millis() as u64
}

/// The rotated credentials of the config.
fn rotated(gw: &Gateway) -> impl Iterator<Item = (&Arc<CredentialDef>, &Arc<RotationDef>)> {
    gw.config
        .credentials
        .values()
        .filter_map(|c| c.rotation.as_ref().map(|r| (c, r)))
}

/// How often the schedule is looked at: a quarter of the shortest period
/// configured, between 200 ms and 10 s.
fn tick(gw: &Gateway) -> Duration {
    let shortest = rotated(gw)
        .flat_map(|(_, r)| [r.every, r.grace, r.retry_initial])
        .filter(|d| !d.is_zero())
        .min()
        .unwrap_or(Duration::from_secs(40));
    (shortest / 4).clamp(Duration::from_millis(200), Duration::from_secs(10))
}

/// Runs for the life of the server, when a credential has `rotation:`.
pub(crate) async fn scheduler(gw: Arc<Gateway>) {
    if rotated(&gw).next().is_none() {
        return;
    }
    let owner = format!("{:032x}", rand::random::<u128>());
    let mut tick = tokio::time::interval(tick(&gw));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (def, rot) in rotated(&gw) {
            if let Err(e) = advance(&gw, def, rot, &owner, None).await {
                tracing::warn!(credential = %def.name, error = %e, "cannot read or write a rotation's state");
            }
        }
    }
}

/// What is due for the record now, if anything.
fn due(r: &Record, rot: &RotationDef, now: u64) -> bool {
    if now < r.retry_at_ms {
        return false;
    }
    match r.phase {
        Phase::Idle => {
            r.asked_by.is_some()
                || now
                    >= r.current_since_ms
                        .saturating_add(rot.every.as_millis() as u64)
        }
        Phase::Minting | Phase::Switching => true,
        Phase::Grace => now >= r.revoke_at_ms,
    }
}

/// Do whatever step is due for `def`, holding the lease while doing it, and
/// go on to the next step while one is due. `asked_by`: an admin asks for a
/// rotation now (refused while one is under way). `None` when nothing was
/// due or another replica holds the lease.
async fn advance(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    owner: &str,
    asked_by: Option<&str>,
) -> Result<Option<Record>, StoreError> {
    let lease = lease_ms(rot);
    let taken = state::take(gw.store.as_ref(), &def.name, owner, lease, |r, now| {
        if let Some(admin) = asked_by {
            if r.phase != Phase::Idle {
                return false;
            }
            r.asked_by = Some(admin.to_owned());
            r.retry_at_ms = 0;
        }
        due(r, rot, now)
    })
    .await?;
    match taken {
        None => Ok(None),
        Some(record) => run(gw, def, rot, owner, lease, record).await.map(Some),
    }
}

/// The steps due, from `record` (whose lease this owner holds), then the
/// lease released.
async fn run(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    owner: &str,
    lease: u64,
    mut record: Record,
) -> Result<Record, StoreError> {
    let store = gw.store.as_ref();
    loop {
        let step = step_name(record.phase);
        let result = match record.phase {
            Phase::Idle => start(gw, def, owner, lease).await,
            Phase::Minting => mint_and_write(gw, def, rot, owner, lease, &record).await,
            Phase::Switching => switch(gw, def, rot, owner, lease).await,
            Phase::Grace => revoke(gw, def, rot, owner, lease, &record).await,
        };
        record = match result {
            Ok(r) => r,
            Err(Step::Lost(Lost::Lease)) => {
                tracing::warn!(credential = %def.name, "a rotation's lease passed to another replica");
                return state::load(store, &def.name).await;
            }
            Err(Step::Lost(Lost::Store(e))) => return Err(e),
            Err(Step::Failed(reason)) => {
                return failed(gw, def, rot, owner, lease, step, reason).await;
            }
        };
        if record.lease.is_none() {
            return Ok(record);
        }
        if !due(&record, rot, now_ms()) {
            break;
        }
    }
    match state::change(store, &def.name, owner, lease, true, |_| {}).await {
        Ok(r) => Ok(r),
        Err(Lost::Lease) => state::load(store, &def.name).await,
        Err(Lost::Store(e)) => Err(e),
    }
}

/// An admin's rotation: refused while one is under way; else the steps due
/// now (mint, write, switch), and the state they left.
pub(crate) async fn rotate_now(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    admin: &str,
) -> Result<Record, Refused> {
    let store = gw.store.as_ref();
    let before = state::load(store, &def.name)
        .await
        .map_err(Refused::Store)?;
    if before.phase != Phase::Idle || before.leased(now_ms()) {
        return Err(Refused::InProgress(Box::new(before)));
    }
    let owner = format!("{:032x}", rand::random::<u128>());
    match advance(gw, def, rot, &owner, Some(admin))
        .await
        .map_err(Refused::Store)?
    {
        Some(after) => Ok(after),
        // Another replica took the lease (or began) between the look and the take.
        None => Err(Refused::InProgress(Box::new(
            state::load(store, &def.name)
                .await
                .map_err(Refused::Store)?,
        ))),
    }
}

enum Step {
    Lost(Lost),
    Failed(String),
}

impl From<Lost> for Step {
    fn from(l: Lost) -> Step {
        Step::Lost(l)
    }
}

pub(crate) fn step_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Idle => "start",
        Phase::Minting => "mint",
        Phase::Switching => "switch",
        Phase::Grace => "revoke",
    }
}

/// Record a step; a record that cannot be written is logged (the step
/// happened, and the trail says so at the next one that can be written).
async fn audit(gw: &Gateway, def: &CredentialDef, r: &Record, event: Event, decision: String) {
    let mut e = Entry::new(event);
    e.environment = Some(gw.config.environment.clone());
    e.credential = Some(def.name.clone());
    e.target = Some(format!("credential/{}", def.name));
    e.admin = r.asked_by.clone();
    e.decision = Some(gw.redactor.load().redact_str(&decision).0.into_owned());
    if let Err(err) = gw.audit.append(e).await {
        tracing::error!(credential = %def.name, error = %err, event = ?event, "cannot record a rotation step");
    }
}

/// Begin: note the source's version the new key must follow. Audited
/// before anything is minted; without the record nothing is.
async fn start(gw: &Gateway, def: &CredentialDef, owner: &str, lease: u64) -> Result<Record, Step> {
    let head = gw
        .credentials
        .source_head(&def.name)
        .await
        .map_err(|e| Step::Failed(format!("start: {e}")))?;
    let mut e = Entry::new(Event::RotationStarted);
    e.environment = Some(gw.config.environment.clone());
    e.credential = Some(def.name.clone());
    e.target = Some(format!("credential/{}", def.name));
    let r = state::load(gw.store.as_ref(), &def.name)
        .await
        .map_err(|e| Step::Lost(Lost::Store(e)))?;
    e.admin = r.asked_by.clone();
    e.decision = Some(format!("from source version {head}"));
    gw.audit
        .append(e)
        .await
        .map_err(|e| Step::Failed(format!("start: {e}")))?;
    Ok(
        state::change(gw.store.as_ref(), &def.name, owner, lease, false, |r| {
            r.phase = Phase::Minting;
            r.base_version = Some(head);
        })
        .await?,
    )
}

/// Mint a key and write it after the version read at the start. A record
/// found in this phase after a restart whose write already happened (the
/// source is past the base version) goes on to the switch.
async fn mint_and_write(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    owner: &str,
    lease: u64,
    r: &Record,
) -> Result<Record, Step> {
    let store = gw.store.as_ref();
    let base = r.base_version.unwrap_or(0);
    let head = gw
        .credentials
        .source_head(&def.name)
        .await
        .map_err(|e| Step::Failed(format!("mint: {e}")))?;
    let (version, id) = if head > base && r.pending_id.is_some() {
        (head, r.pending_id.clone())
    } else {
        if let Some(orphan) = &r.pending_id {
            audit(
                gw,
                def,
                r,
                Event::RotationFailed,
                format!("mint: key {orphan} was minted and never written; revoke it at the vendor"),
            )
            .await;
        }
        let minted = requests::mint(gw, def, rot).await.map_err(Step::Failed)?;
        let id = minted.id.clone();
        state::change(store, &def.name, owner, lease, false, |r| {
            r.pending_id = id.clone().or(Some(String::new()));
        })
        .await?;
        let version = match gw
            .credentials
            .source_write(&def.name, &minted.secret, base)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                // Not written: the next attempt mints again.
                state::change(store, &def.name, owner, lease, false, |r| {
                    r.pending_id = None;
                })
                .await?;
                let orphan = minted.id.as_deref().map_or(String::new(), |i| {
                    format!("; key {i} was minted and not written: revoke it at the vendor")
                });
                return Err(Step::Failed(format!("write: {e}{orphan}")));
            }
        };
        (version, minted.id)
    };
    let id = id.filter(|i| !i.is_empty());
    let r = state::change(store, &def.name, owner, lease, false, |r| {
        r.old = Some(OldKey {
            id: r.current_id.clone(),
            minted: r.current_minted,
            version: base,
        });
        r.current_id = id.clone();
        r.current_minted = true;
        r.current_version = version;
        r.current_since_ms = now_ms();
        r.pending_id = None;
        r.base_version = None;
        r.phase = Phase::Switching;
    })
    .await?;
    let named = id
        .as_deref()
        .map_or(String::new(), |i| format!(" (key {i})"));
    audit(
        gw,
        def,
        &r,
        Event::RotationMinted,
        format!("new key{named} written as source version {version}"),
    )
    .await;
    Ok(r)
}

/// Switch calls to the new version: here at once, and on every replica
/// through the reload announcement (and its per-second check).
async fn switch(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    owner: &str,
    lease: u64,
) -> Result<Record, Step> {
    let asked = now_ms();
    let version = gw
        .credentials
        .reload_since(&def.name, asked)
        .await
        .map_err(|e| Step::Failed(format!("switch: {e}")))?;
    crate::events::reloaded(gw, &def.name, asked)
        .await
        .map_err(|e| Step::Failed(format!("switch: {e}")))?;
    let r = state::change(gw.store.as_ref(), &def.name, owner, lease, false, |r| {
        r.phase = Phase::Grace;
        r.revoke_at_ms = now_ms() + rot.grace.as_millis() as u64;
    })
    .await?;
    audit(
        gw,
        def,
        &r,
        Event::RotationSwitched,
        format!(
            "calls use the new key (version {version} here); the old one is revoked after {}s",
            rot.grace.as_secs()
        ),
    )
    .await;
    Ok(r)
}

/// After the grace period: revoke the old key (when a revoke is configured
/// and can name it), and the rotation is complete.
async fn revoke(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    owner: &str,
    lease: u64,
    r: &Record,
) -> Result<Record, Step> {
    let outcome = match (&rot.revoke, &r.old) {
        (None, _) => "no revoke is configured; the old key is left to expire at the vendor".into(),
        (Some(_), None) => "no old key is known".into(),
        (Some(req), Some(old)) if !old.minted && req.uses("{old_id}") => {
            "the old key was not minted by toolgate and revoke needs {old_id}: left to the operator"
                .into()
        }
        (Some(req), Some(old)) => {
            let old_secret = if req.uses("{old_secret}") {
                Some(
                    gw.credentials
                        .source_read_at(&def.name, old.version)
                        .await
                        .map_err(|e| Step::Failed(format!("revoke: {e}")))?,
                )
            } else {
                None
            };
            let fill = requests::Fill {
                old_id: old.id.clone(),
                old_secret,
            };
            requests::revoke(gw, def, req, &fill)
                .await
                .map_err(Step::Failed)?;
            match &old.id {
                Some(id) => format!("old key {id} revoked"),
                None => "old key revoked".into(),
            }
        }
    };
    // Complete, and the lease released with it: the next rotation may be
    // asked for as soon as this one is recorded.
    let r = state::change(gw.store.as_ref(), &def.name, owner, lease, true, |r| {
        r.phase = Phase::Idle;
        r.old = None;
        r.asked_by = None;
        r.failures = 0;
        r.retry_at_ms = 0;
        r.last_error = None;
        r.completed += 1;
    })
    .await?;
    gw.metrics.rotation_completed(&def.name);
    audit(gw, def, &r, Event::RotationRevoked, outcome).await;
    Ok(r)
}

/// A step failed: the key in use stays in use; the failure is recorded,
/// counted and retried after the backoff. A mint that failed starts over.
async fn failed(
    gw: &Gateway,
    def: &CredentialDef,
    rot: &RotationDef,
    owner: &str,
    lease: u64,
    step: &'static str,
    reason: String,
) -> Result<Record, StoreError> {
    tracing::warn!(credential = %def.name, step, reason = %reason, "a rotation step failed; the key in use stays in use");
    gw.metrics.rotation_failed(&def.name, step);
    let changed = state::change(gw.store.as_ref(), &def.name, owner, lease, true, |r| {
        r.failures += 1;
        r.retry_at_ms = now_ms()
            + state::backoff_ms(
                rot.retry_initial.as_millis() as u64,
                rot.retry_max.as_millis() as u64,
                r.failures,
            );
        r.last_error = Some(Failure {
            step: step.to_owned(),
            reason: reason.clone(),
            at_ms: now_ms(),
        });
        if r.phase == Phase::Minting && r.pending_id.is_none() {
            r.phase = Phase::Idle;
            r.base_version = None;
        }
    })
    .await;
    let r = match changed {
        Ok(r) => r,
        Err(Lost::Lease) => return state::load(gw.store.as_ref(), &def.name).await,
        Err(Lost::Store(e)) => return Err(e),
    };
    audit(
        gw,
        def,
        &r,
        Event::RotationFailed,
        format!(
            "{reason}; attempt {}, retried in {}s",
            r.failures,
            r.retry_at_ms.saturating_sub(now_ms()).div_ceil(1000)
        ),
    )
    .await;
    Ok(r)
}

/// How many rotated credentials have a failure not yet overcome (for `/readyz`).
pub(crate) async fn failing(gw: &Gateway) -> Result<usize, StoreError> {
    let mut n = 0;
    for (def, _) in rotated(gw) {
        if state::load(gw.store.as_ref(), &def.name)
            .await?
            .last_error
            .is_some()
        {
            n += 1;
        }
    }
    Ok(n)
}
