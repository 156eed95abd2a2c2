//! Prometheus metrics, served at `GET /metrics` (OpenMetrics text).
//!
//! Label values come only from config names and fixed sets — never from
//! arguments, keys or secrets: a tool the caller named that is not one of
//! its workflow's tools is counted as `tool="unknown"`, so a caller cannot
//! add series.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::error::Code;
use crate::redact::Redactions;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    workflow: String,
    tool: String,
    via: &'static str,
    outcome: &'static str,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    tool: String,
    part: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    tool: String,
    status_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    workflow: String,
    tool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowLabels {
    workflow: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    workflow: String,
    decision: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    credential: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialCodeLabels {
    credential: String,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

type Durations = Family<DurationLabels, Histogram, fn() -> Histogram>;

/// 0.1 ms to about 52 s, doubling.
fn duration_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 20))
}

/// How a call ended, as `toolgate_calls_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    Succeeded,
    /// Held for approval.
    Pending,
    /// A stage before forwarding said no (authentication, tool, schema,
    /// rate limit, denial …).
    Refused(Code),
    /// The credential or the upstream failed after the call was accepted.
    Failed(Code),
}

/// How long the store's counts (pending actions, dead letters) serve
/// scrapes before they are read again: `/metrics` is open to anyone, so
/// what it costs the store must not follow the rate it is scraped at.
const STORE_COUNTS_FOR: Duration = Duration::from_secs(5);

/// Counts per configured workflow read from the store; `None` when it
/// could not be read.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreCounts {
    pub pending: Option<Vec<(String, u64)>>,
    pub dead_letters: Option<Vec<(String, u64)>>,
}

/// Every metric family, and the registry that encodes them.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// The store's counts and when they were read; the lock also keeps
    /// concurrent scrapes to one read.
    store_counts: tokio::sync::Mutex<Option<(std::time::Instant, StoreCounts)>>,
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    durations: Durations,
    upstream: Family<UpstreamLabels, Counter>,
    rate_limited: Family<ToolLabels, Counter>,
    audit_records: Counter,
    audit_failures: Counter,
    audit_write: Histogram,
    shed: Counter,
    unauthenticated: Family<CodeLabels, Counter>,
    unrecorded: Gauge,
    low_space: Gauge,
    redactions: Family<KindLabels, Counter>,
    pending: Family<WorkflowLabels, Gauge>,
    approvals: Family<DecisionLabels, Counter>,
    credential_age: Family<CredentialLabels, Gauge>,
    credential_enabled: Family<CredentialLabels, Gauge>,
    credential_errors: Family<CredentialCodeLabels, Counter>,
    dead_letters: Family<WorkflowLabels, Gauge>,
    store_errors: Family<OpLabels, Counter>,
    canaries: Family<CredentialLabels, Counter>,
    rotations: Family<CredentialLabels, Counter>,
    rotation_failures: Family<RotationLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RotationLabels {
    credential: String,
    step: &'static str,
}

/// What `/metrics` reads when it is scraped: the gauges that are counts of
/// what the store and config hold now, not of what this process did.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub low_space: bool,
    pub unrecorded_refusals: u64,
    /// Pending actions per workflow (every configured workflow, zeros too);
    /// `None` when the store could not be read.
    pub pending: Option<Vec<(String, u64)>>,
    /// Dead letters awaiting an operator, per workflow, the same way.
    pub dead_letters: Option<Vec<(String, u64)>>,
    /// Per configured credential: its age when known, and whether it is enabled.
    pub credentials: Vec<(String, Option<Duration>, bool)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "toolgate_calls",
            "Tool calls, by workflow, tool, front door and outcome",
            calls.clone(),
        );
        let durations = Durations::new_with_constructor(duration_buckets);
        registry.register(
            "toolgate_call_duration_seconds",
            "Time of a call in the gateway and upstream",
            durations.clone(),
        );
        let upstream = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "toolgate_upstream_requests",
            "Requests sent upstream, by tool and status class",
            upstream.clone(),
        );
        let rate_limited = Family::<ToolLabels, Counter>::default();
        registry.register(
            "toolgate_rate_limited",
            "Calls refused by a tool's rate limit",
            rate_limited.clone(),
        );
        let audit_records = Counter::default();
        registry.register(
            "toolgate_audit_records",
            "Audit records written durably",
            audit_records.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "toolgate_audit_failures",
            "Audit records that could not be written",
            audit_failures.clone(),
        );
        let audit_write = duration_buckets();
        registry.register(
            "toolgate_audit_write_duration_seconds",
            "Time for an audit record to become durable",
            audit_write.clone(),
        );
        let shed = Counter::default();
        registry.register(
            "toolgate_shed",
            "Requests refused for want of a slot (limits.max_concurrency)",
            shed.clone(),
        );
        let unauthenticated = Family::<CodeLabels, Counter>::default();
        registry.register(
            "toolgate_unauthenticated_refusals",
            "Requests refused before they authenticated, by code",
            unauthenticated.clone(),
        );
        let unrecorded = Gauge::default();
        registry.register(
            "toolgate_unauthenticated_refusals_unrecorded",
            "Unauthenticated refusals counted but not written to the trail",
            unrecorded.clone(),
        );
        let low_space = Gauge::default();
        registry.register(
            "toolgate_audit_low_space",
            "1 while the trail's storage is below audit.min_free_bytes",
            low_space.clone(),
        );
        let redactions = Family::<KindLabels, Counter>::default();
        registry.register(
            "toolgate_redactions",
            "Values removed from results returned to callers, by kind",
            redactions.clone(),
        );
        let pending = Family::<WorkflowLabels, Gauge>::default();
        registry.register(
            "toolgate_pending_actions",
            "Actions waiting for an approver, by workflow",
            pending.clone(),
        );
        let approvals = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "toolgate_approvals",
            "Decisions on held actions, by workflow (approved, denied, expired)",
            approvals.clone(),
        );
        let credential_age = Family::<CredentialLabels, Gauge>::default();
        registry.register_with_unit(
            "toolgate_credential_age",
            "Time since a credential was last rotated, where known",
            Unit::Seconds,
            credential_age.clone(),
        );
        let credential_enabled = Family::<CredentialLabels, Gauge>::default();
        registry.register(
            "toolgate_credential_enabled",
            "1 while a credential is enabled, 0 while an operator has it disabled",
            credential_enabled.clone(),
        );
        let credential_errors = Family::<CredentialCodeLabels, Counter>::default();
        registry.register(
            "toolgate_credential_errors",
            "Calls a credential failed: unavailable, or rejected by the upstream",
            credential_errors.clone(),
        );
        let dead_letters = Family::<WorkflowLabels, Gauge>::default();
        registry.register(
            "toolgate_dead_letters",
            "Dead letters awaiting an operator, by workflow",
            dead_letters.clone(),
        );
        let store_errors = Family::<OpLabels, Counter>::default();
        registry.register(
            "toolgate_store_errors",
            "Store operations that failed, by operation",
            store_errors.clone(),
        );
        let canaries = Family::<CredentialLabels, Counter>::default();
        registry.register(
            "toolgate_canary_sightings",
            "Times a canary credential's value was seen (each quarantines an agent)",
            canaries.clone(),
        );
        let rotations = Family::<CredentialLabels, Counter>::default();
        registry.register(
            "toolgate_rotations",
            "Rotations completed (new key in use, old one revoked), by credential",
            rotations.clone(),
        );
        let rotation_failures = Family::<RotationLabels, Counter>::default();
        registry.register(
            "toolgate_rotation_failures",
            "Rotation steps that failed (the key in use stayed in use), by credential and step",
            rotation_failures.clone(),
        );
        registry.register(
            "toolgate_build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            store_counts: tokio::sync::Mutex::new(None),
            registry,
            calls,
            durations,
            upstream,
            rate_limited,
            audit_records,
            audit_failures,
            audit_write,
            shed,
            unauthenticated,
            unrecorded,
            low_space,
            redactions,
            pending,
            approvals,
            credential_age,
            credential_enabled,
            credential_errors,
            dead_letters,
            store_errors,
            canaries,
            rotations,
            rotation_failures,
        }
    }

    /// One call's end. `tool` is a configured name or `unknown`, `via` the
    /// front door (`rest`, `mcp`); times are
    /// the gateway's own and the upstream's, when it was called.
    pub(crate) fn call(
        &self,
        workflow: &str,
        tool: &str,
        via: &'static str,
        outcome: CallOutcome,
        gateway: Duration,
        upstream: Option<Duration>,
    ) {
        let (name, code) = match outcome {
            CallOutcome::Succeeded => ("succeeded", ""),
            CallOutcome::Pending => ("pending", ""),
            CallOutcome::Refused(c) => ("refused", c.as_str()),
            CallOutcome::Failed(c) => ("failed", c.as_str()),
        };
        self.calls
            .get_or_create(&CallLabels {
                workflow: workflow.to_owned(),
                tool: tool.to_owned(),
                via,
                outcome: name,
                code,
            })
            .inc();
        if outcome == CallOutcome::Refused(Code::RateLimited) {
            self.rate_limited
                .get_or_create(&ToolLabels {
                    workflow: workflow.to_owned(),
                    tool: tool.to_owned(),
                })
                .inc();
        }
        let part = |part| DurationLabels {
            tool: tool.to_owned(),
            part,
        };
        self.durations
            .get_or_create(&part("gateway"))
            .observe(gateway.as_secs_f64());
        if let Some(up) = upstream {
            self.durations
                .get_or_create(&part("upstream"))
                .observe(up.as_secs_f64());
        }
    }

    /// A request sent upstream: its answer's status, or none (`error`).
    pub(crate) fn upstream(&self, tool: &str, status: Option<u16>) {
        let status_class = match status {
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            _ => "error",
        };
        self.upstream
            .get_or_create(&UpstreamLabels {
                tool: tool.to_owned(),
                status_class,
            })
            .inc();
    }

    /// An audit append, and how long it took to become durable.
    pub(crate) fn audit_append(&self, ok: bool, took: Duration) {
        if ok {
            self.audit_records.inc();
            self.audit_write.observe(took.as_secs_f64());
        } else {
            self.audit_failures.inc();
        }
    }

    pub(crate) fn shed(&self) {
        self.shed.inc();
    }

    pub(crate) fn unauthenticated(&self, code: Code) {
        self.unauthenticated
            .get_or_create(&CodeLabels {
                code: code.as_str(),
            })
            .inc();
    }

    /// What one result had removed.
    pub(crate) fn redactions(&self, n: &Redactions) {
        for (kind, count) in n.by_kind() {
            if count > 0 {
                self.redactions
                    .get_or_create(&KindLabels { kind })
                    .inc_by(count as u64);
            }
        }
    }

    /// A decision on a held action: `approved`, `denied` or `expired`.
    pub(crate) fn approval(&self, workflow: &str, decision: &'static str) {
        self.approvals
            .get_or_create(&DecisionLabels {
                workflow: workflow.to_owned(),
                decision,
            })
            .inc();
    }

    /// A call the credential failed (`credential_unavailable`, `credential_rejected`).
    pub(crate) fn credential_error(&self, credential: &str, code: Code) {
        self.credential_errors
            .get_or_create(&CredentialCodeLabels {
                credential: credential.to_owned(),
                code: code.as_str(),
            })
            .inc();
    }

    /// The store's counts, from `read` at most once per [`STORE_COUNTS_FOR`].
    pub(crate) async fn store_counts<F>(&self, read: impl FnOnce() -> F) -> StoreCounts
    where
        F: std::future::Future<Output = StoreCounts>,
    {
        let mut kept = self.store_counts.lock().await;
        if let Some((at, counts)) = kept.as_ref()
            && at.elapsed() < STORE_COUNTS_FOR
        {
            return counts.clone();
        }
        let counts = read().await;
        *kept = Some((std::time::Instant::now(), counts.clone()));
        counts
    }

    /// A canary's value, seen.
    pub(crate) fn canary_seen(&self, credential: &str) {
        self.canaries
            .get_or_create(&CredentialLabels {
                credential: credential.to_owned(),
            })
            .inc();
    }

    /// A rotation completed.
    pub(crate) fn rotation_completed(&self, credential: &str) {
        self.rotations
            .get_or_create(&CredentialLabels {
                credential: credential.to_owned(),
            })
            .inc();
    }

    /// A rotation step that failed.
    pub(crate) fn rotation_failed(&self, credential: &str, step: &'static str) {
        self.rotation_failures
            .get_or_create(&RotationLabels {
                credential: credential.to_owned(),
                step,
            })
            .inc();
    }

    /// A store operation that failed.
    pub(crate) fn store_error(&self, op: &'static str) {
        self.store_errors.get_or_create(&OpLabels { op }).inc();
    }

    /// The families in OpenMetrics text, with the gauges set from `now`.
    /// A count the store could not give is left out, not shown as zero.
    pub(crate) fn encode(&self, now: &Snapshot) -> String {
        self.low_space.set(i64::from(now.low_space));
        self.unrecorded
            .set(i64::try_from(now.unrecorded_refusals).unwrap_or(i64::MAX));
        let per_workflow = |family: &Family<WorkflowLabels, Gauge>,
                            counts: &Option<Vec<(String, u64)>>| {
            family.clear();
            for (workflow, n) in counts.iter().flatten() {
                family
                    .get_or_create(&WorkflowLabels {
                        workflow: workflow.clone(),
                    })
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
        };
        per_workflow(&self.pending, &now.pending);
        per_workflow(&self.dead_letters, &now.dead_letters);
        self.credential_age.clear();
        for (credential, age, enabled) in &now.credentials {
            let labels = CredentialLabels {
                credential: credential.clone(),
            };
            if let Some(age) = age {
                self.credential_age
                    .get_or_create(&labels)
                    .set(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
            }
            self.credential_enabled
                .get_or_create(&labels)
                .set(i64::from(*enabled));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
