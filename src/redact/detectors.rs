//! Token shapes: secrets toolgate did not load but can recognise — provider
//! key prefixes, JWTs, PEM private keys, passwords in URLs, signatures in
//! signed URLs, `password=` pairs — written from the providers' public
//! descriptions of their formats.
//!
//! Each detector has literal keywords; one case-insensitive Aho-Corasick pass
//! finds which keywords occur, and only those detectors' regexes run. Text
//! without any keyword costs one automaton scan. A detector either removes its
//! whole match or, when it has a capture group, only that group (the value
//! after `password=`, the password in `user:pass@`).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

pub(crate) struct Detector {
    pub id: &'static str,
    regex: Regex,
}

/// (id, keywords, pattern). A capture group, when present, is what is removed.
const SPECS: &[(&str, &[&str], &str)] = &[
    (
        "github_token",
        &["ghp_", "gho_", "ghs_", "ghu_", "ghr_"],
        r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",
    ),
    (
        "github_fine_grained_token",
        &["github_pat_"],
        r"\bgithub_pat_[A-Za-z0-9_]{50,255}\b",
    ),
    (
        "gitlab_token",
        &["glpat-", "glrt-", "gldt-", "glptt-", "glsoat-"],
        r"\bgl(?:pat|rt|dt|ptt|soat)-[A-Za-z0-9_-]{20,}",
    ),
    (
        "slack_token",
        &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe"],
        r"\bxox(?:[baprs]|e(?:\.xox[bp])?)-[A-Za-z0-9-]{10,}",
    ),
    (
        "slack_webhook",
        &["hooks.slack.com"],
        r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}",
    ),
    (
        "stripe_secret_key",
        &["sk_live_", "sk_test_"],
        r"\bsk_(?:live|test)_[A-Za-z0-9]{16,}",
    ),
    (
        "stripe_restricted_key",
        &["rk_live_", "rk_test_"],
        r"\brk_(?:live|test)_[A-Za-z0-9]{16,}",
    ),
    (
        "stripe_webhook_secret",
        &["whsec_"],
        r"\bwhsec_[A-Za-z0-9+/=]{24,}",
    ),
    (
        "anthropic_key",
        &["sk-ant-"],
        r"\bsk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{20,}",
    ),
    (
        "openai_key",
        &["sk-"],
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}(?:T3BlbkFJ[A-Za-z0-9_-]{20,})?",
    ),
    (
        "aws_access_key_id",
        &["AKIA", "ASIA", "ABIA", "ACCA"],
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    ),
    (
        "aws_secret_access_key",
        &[
            "aws_secret",
            "secretaccesskey",
            "secret_access_key",
            "aws-secret",
        ],
        r#"(?i)(?:aws_?secret(?:_?access)?_?key|secret_?access_?key|aws-secret-access-key)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    ("google_api_key", &["AIza"], r"\bAIza[0-9A-Za-z_-]{35}"),
    (
        "google_oauth_token",
        &["ya29."],
        r"\bya29\.[0-9A-Za-z_-]{20,}",
    ),
    ("twilio_api_key", &["SK"], r"\bSK[0-9a-f]{32}\b"),
    (
        "sendgrid_key",
        &["SG."],
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    ),
    ("npm_token", &["npm_"], r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi_token", &["pypi-"], r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    (
        "azure_storage_key",
        &["accountkey="],
        r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
    ),
    (
        "azure_connection_secret",
        &["sharedaccesskey="],
        r"(?i)SharedAccessKey=([A-Za-z0-9+/=]{20,})",
    ),
    (
        "discord_bot_token",
        &["."],
        r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b",
    ),
    (
        "discord_webhook",
        &["discord.com/api/webhooks", "discordapp.com/api/webhooks"],
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}",
    ),
    (
        "telegram_bot_token",
        &[":AA"],
        r"\b\d{8,10}:AA[0-9A-Za-z_-]{33}\b",
    ),
    (
        "jwt",
        &["eyJ"],
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ),
    (
        "pem_private_key",
        &["PRIVATE KEY"],
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|[A-Za-z0-9+/=\s\\:-]*)",
    ),
    (
        "url_password",
        &["://"],
        r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^/\s:@]{1,128}:([^/\s@]{1,256})@",
    ),
    (
        "authorization_header",
        &["authorization"],
        r#"(?i)\bauthorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?([^\s"',;}{]{6,})"#,
    ),
    (
        "aws_signature",
        &["x-amz-signature"],
        r"(?i)X-Amz-Signature=([0-9a-f]{64})",
    ),
    (
        "gcs_signature",
        &["x-goog-signature"],
        r"(?i)X-Goog-Signature=([0-9a-f]{64,})",
    ),
    (
        "sas_signature",
        &["sig="],
        r"(?i)[?&]sig=([A-Za-z0-9%+/=_-]{16,})",
    ),
    (
        "password_pair",
        &[
            "password=",
            "passwd=",
            "pwd=",
            "secret=",
            "token=",
            "api_key=",
            "apikey=",
            "client_secret=",
            "access_token=",
            "refresh_token=",
        ],
        r#"(?i)\b(?:password|passwd|pwd|secret|[a-z_]*token|api_?key|client_secret)=([^&\s"'<>]{3,})"#,
    ),
    ("mailgun_key", &["key-"], r"\bkey-[0-9a-f]{32}\b"),
    ("mailchimp_key", &["-us"], r"\b[0-9a-f]{32}-us[0-9]{1,2}\b"),
    (
        "shopify_token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),
    ("huggingface_token", &["hf_"], r"\bhf_[A-Za-z0-9]{34,}\b"),
    (
        "digitalocean_token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"\bdo[por]_v1_[a-f0-9]{64}\b",
    ),
    (
        "doppler_token",
        &["dp.pt.", "dp.st.", "dp.sa.", "dp.ct."],
        r"\bdp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,}",
    ),
    ("linear_key", &["lin_api_"], r"\blin_api_[A-Za-z0-9]{40}\b"),
    (
        "postman_key",
        &["PMAK-"],
        r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b",
    ),
    (
        "square_token",
        &["sq0atp-", "sq0csp-", "EAAA"],
        r"\b(?:sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}|EAAA[A-Za-z0-9_-]{60})",
    ),
    (
        "atlassian_token",
        &["ATATT3"],
        r"\bATATT3[A-Za-z0-9_=-]{100,}",
    ),
    (
        "databricks_token",
        &["dapi"],
        r"\bdapi[a-f0-9]{32}(?:-\d)?\b",
    ),
    (
        "grafana_token",
        &["glsa_", "glc_"],
        r"\b(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})",
    ),
    ("newrelic_key", &["NRAK-"], r"\bNRAK-[A-Z0-9]{27}\b"),
    (
        "age_secret_key",
        &["AGE-SECRET-KEY-1"],
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    ),
    (
        "vault_token",
        &["hvs.", "hvb.", "hvr."],
        r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}",
    ),
    (
        "toolgate_key",
        &["tg_agent_", "tg_approver_", "tg_admin_", "tg_session_"],
        r"\btg_(?:agent|approver|admin|session)_[A-Za-z0-9_-]{43}",
    ),
];

pub(crate) struct Detectors {
    prefilter: AhoCorasick,
    /// For each keyword, the detector it belongs to.
    owner: Vec<usize>,
    pub list: Vec<Detector>,
}

pub(crate) static DETECTORS: LazyLock<Detectors> = LazyLock::new(|| {
    let mut keywords = Vec::new();
    let mut owner = Vec::new();
    let list: Vec<Detector> = SPECS
        .iter()
        .enumerate()
        .map(|(i, (id, kws, re))| {
            for k in *kws {
                keywords.push(*k);
                owner.push(i);
            }
            Detector {
                id,
                regex: Regex::new(re).expect("detector patterns compile"),
            }
        })
        .collect();
    let prefilter = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&keywords)
        .expect("keywords compile");
    Detectors {
        prefilter,
        owner,
        list,
    }
});

impl Detectors {
    /// Spans `(start, end, detector)` of every detector hit in `text`.
    pub(crate) fn find(&self, text: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        let mut candidates = [false; 64];
        let mut any = false;
        for m in self.prefilter.find_overlapping_iter(text) {
            let d = self.owner[m.pattern().as_usize()];
            candidates[d] = true;
            any = true;
        }
        if !any {
            return;
        }
        for (i, d) in self.list.iter().enumerate() {
            if !candidates[i] {
                continue;
            }
            for c in d.regex.captures_iter(text) {
                let m = c.get(1).or_else(|| c.get(0)).expect("a match has group 0");
                if m.end() > m.start() {
                    out.push((m.start(), m.end(), i));
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.list.len()
    }
}
