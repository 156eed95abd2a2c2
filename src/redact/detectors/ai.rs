//! Model vendors and observability: OpenAI, Anthropic, Hugging Face, Groq,
//! xAI, Replicate, Perplexity, Cohere, Mistral; Datadog, New Relic,
//! Grafana, Honeycomb, Sentry.

use super::spec::{Spec, re};

pub(crate) const SPECS: &[Spec] = &[
    // Keys carry `T3BlbkFJ` (base64 of the vendor's name) between two random
    // halves; project, service-account and admin keys are also known by prefix.
    re(
        "openai_key",
        &["T3BlbkFJ", "sk-proj-", "sk-svcacct-", "sk-admin-"],
        r"\bsk-(?:(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}|(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})",
    ),
    re(
        "anthropic_key",
        &["sk-ant-"],
        r"\bsk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{20,}",
    ),
    // User tokens `hf_` + 34; organisation tokens `api_org_` + 34.
    re(
        "huggingface_token",
        &["hf_", "api_org_"],
        r"\b(?:hf|api_org)_[A-Za-z0-9]{34,}\b",
    ),
    re("groq_key", &["gsk_"], r"\bgsk_[A-Za-z0-9]{52}\b"),
    re("xai_key", &["xai-"], r"\bxai-[A-Za-z0-9]{70,90}\b"),
    re("replicate_token", &["r8_"], r"\br8_[A-Za-z0-9]{37,40}\b"),
    re("perplexity_key", &["pplx-"], r"\bpplx-[A-Za-z0-9]{40,56}\b"),
    // LangSmith: `lsv2_pt_`/`lsv2_sk_`, 32 hex, `_`, 10 hex.
    re(
        "langsmith_key",
        &["lsv2_pt_", "lsv2_sk_"],
        r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b",
    ),
    re(
        "pinecone_key",
        &["pcsk_"],
        r"\bpcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,90}\b",
    ),
    // No prefix of their own: 40 (Cohere) or 32 (Mistral) characters under their names.
    re(
        "cohere_key",
        &["cohere", "co_api_key"],
        r#"(?i)(?:cohere[a-z_-]*|co_api_)(?:key|token)\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9]{40})\b"#,
    ),
    re(
        "mistral_key",
        &["mistral"],
        r#"(?i)mistral[a-z_-]*(?:key|token)\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9]{32})\b"#,
    ),
    // API keys (32 hex) and application keys (40 hex) under their names.
    re(
        "datadog_key",
        &["datadog", "dd_api", "dd-api", "dd_app", "dd-app"],
        r#"(?i)(?:datadog[a-z_-]*|dd[_-])(?:api|app(?:lication)?)[_-]?key\\?["']?\s*[:=]\s*\\?["']?([a-f0-9]{40}|[a-f0-9]{32})\b"#,
    ),
    // User keys, ingest/insert keys, browser, REST keys; license keys end in `NRAL`.
    re(
        "newrelic_key",
        &["NRAK-", "NRII-", "NRJS-", "NRRA-", "NRAL"],
        r"\b(NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9_-]{32}|NRJS-[a-f0-9]{19}|NRRA-[a-f0-9]{42}|[a-f0-9]{36}NRAL)(?:[^A-Za-z0-9_-]|$)",
    ),
    // `dt0c01.`, a 24-character public id, `.`, a 64-character secret.
    re(
        "dynatrace_token",
        &["dt0c01."],
        r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b",
    ),
    // Cloud tokens (`glc_` + base64 of JSON), service-account tokens
    // (`glsa_` + 32 + `_` + 8 hex).
    re(
        "grafana_token",
        &["glsa_", "glc_"],
        r"\b(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})",
    ),
    re(
        "honeycomb_key",
        &["hcaik_", "hcxik_", "hcamk_", "hcxmk_", "hcxlk_"],
        r"\bhc[ax](?:ik|mk|lk)_[a-z0-9]{26,64}\b",
    ),
    // Organisation tokens (`sntrys_` + base64 JSON), user tokens (`sntryu_` + 64 hex).
    re(
        "sentry_token",
        &["sntrys_", "sntryu_"],
        r"\b(?:sntrys_eyJ[A-Za-z0-9+/=_-]{50,}|sntryu_[a-f0-9]{64}\b)",
    ),
    // DSNs: the key (32 hex) before `@` a Sentry ingest host; only the key goes.
    re(
        "sentry_dsn",
        &["sentry", "ingest"],
        r"https?://([a-f0-9]{32})(?::[a-f0-9]{32})?@[A-Za-z0-9.-]*(?:sentry|ingest)[A-Za-z0-9.-]*(?::[0-9]+)?/[0-9]+",
    ),
];
