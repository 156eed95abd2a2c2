//! Payments, chat and mail: Stripe, Square, PayPal/Braintree, Adyen,
//! Shopify, Plaid; Slack, Discord, Telegram, Microsoft Teams, Twilio,
//! SendGrid, Mailgun, Mailchimp.

use super::spec::{Spec, checked, discord_id, mixed_case, re};

/// A Discord bot token starts with its bot's id (a decimal number of 17–20
/// digits) in base64: these are the first three characters for each pair
/// of leading digits.
const DISCORD_ID_STARTS: &[&str] = &[
    "MTA", "MTE", "MTI", "MTM", "MTQ", "MTU", "MTY", "MTc", "MTg", "MTk", "MjA", "MjE", "MjI",
    "MjM", "MjQ", "MjU", "MjY", "Mjc", "Mjg", "Mjk", "MzA", "MzE", "MzI", "MzM", "MzQ", "MzU",
    "MzY", "Mzc", "Mzg", "Mzk", "NDA", "NDE", "NDI", "NDM", "NDQ", "NDU", "NDY", "NDc", "NDg",
    "NDk", "NTA", "NTE", "NTI", "NTM", "NTQ", "NTU", "NTY", "NTc", "NTg", "NTk", "NjA", "NjE",
    "NjI", "NjM", "NjQ", "NjU", "NjY", "Njc", "Njg", "Njk", "NzA", "NzE", "NzI", "NzM", "NzQ",
    "NzU", "NzY", "Nzc", "Nzg", "Nzk", "ODA", "ODE", "ODI", "ODM", "ODQ", "ODU", "ODY", "ODc",
    "ODg", "ODk", "OTA", "OTE", "OTI", "OTM", "OTQ", "OTU", "OTY", "OTc", "OTg", "OTk",
];

pub(crate) const SPECS: &[Spec] = &[
    re(
        "stripe_secret_key",
        &["sk_live_", "sk_test_", "sk_org_"],
        r"\bsk_(?:org_)?(?:live|test)_[A-Za-z0-9]{16,247}\b",
    ),
    re(
        "stripe_restricted_key",
        &["rk_live_", "rk_test_", "rk_org_"],
        r"\brk_(?:org_)?(?:live|test)_[A-Za-z0-9]{16,247}\b",
    ),
    re(
        "stripe_publishable_key",
        &["pk_live_", "pk_test_"],
        r"\bpk_(?:live|test)_[A-Za-z0-9]{16,247}\b",
    ),
    re(
        "stripe_webhook_secret",
        &["whsec_"],
        r"\bwhsec_[A-Za-z0-9+/=]{24,}",
    ),
    // Square: access tokens (`sq0atp-` + 22, `EAAA` + 60), OAuth secrets (`sq0csp-` + 43).
    re(
        "square_token",
        &["sq0atp-", "sq0csp-", "EAAA"],
        r"\b(sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43}|EAAA[A-Za-z0-9_-]{60})(?:[^A-Za-z0-9_-]|$)",
    ),
    re(
        "braintree_token",
        &["access_token$production$", "access_token$sandbox$"],
        r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}",
    ),
    // Adyen API keys: `AQE` + a long base64-like body.
    checked(
        "adyen_key",
        &["AQE"],
        r"\bAQE[A-Za-z0-9+/=_.-]{90,250}",
        mixed_case,
    ),
    re(
        "shopify_token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),
    // Plaid access tokens: environment, then a UUID; secrets (30 hex) by name.
    re(
        "plaid_token",
        &[
            "access-sandbox-",
            "access-development-",
            "access-production-",
            "plaid",
        ],
        r#"(?i)(?-i:\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)|plaid[a-z_-]*secret\\?["']?\s*[:=]\s*\\?["']?([a-f0-9]{30})\b"#,
    ),
    // Bot (`xoxb-`), user (`xoxp-`) and legacy tokens: numeric ids, then the secret.
    re(
        "slack_token",
        &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"],
        r"\bxox[baprs]-(?:[0-9]{1,14}-){1,3}[A-Za-z0-9]{24,64}\b",
    ),
    // Configuration tokens (`xoxe.xoxp-1-`) and their refresh tokens (`xoxe-1-`).
    re(
        "slack_config_token",
        &["xoxe.xoxb-", "xoxe.xoxp-", "xoxe-1-"],
        r"\bxoxe(?:\.xox[bp])?-1-[A-Za-z0-9]{100,300}\b",
    ),
    // App-level tokens: `xapp-`, a version digit, the app id, a number, 64 hex.
    re(
        "slack_app_token",
        &["xapp-"],
        r"\bxapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,14}-[a-f0-9]{64}\b",
    ),
    // Incoming webhooks, workflow and trigger URLs, also with `/` percent-
    // or JSON-escaped.
    re(
        "slack_webhook",
        &["hooks.slack.com", "hooks.slack-gov.com"],
        r"hooks\.slack(?:-gov)?\.com(?:/|%2[Ff]|\\/)(?:services|workflows|triggers)(?:(?:/|%2[Ff]|\\/)[A-Za-z0-9_-]{6,}){2,4}",
    ),
    checked(
        "discord_bot_token",
        DISCORD_ID_STARTS,
        r"\b([MNO][A-Za-z0-9_-]{22,26}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40})(?:[^A-Za-z0-9_-]|$)",
        discord_id,
    ),
    re(
        "discord_webhook",
        &["discord.com/api/webhooks", "discordapp.com/api/webhooks"],
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}",
    ),
    re(
        "telegram_bot_token",
        &[":AA"],
        r"\b(\d{8,10}:AA[0-9A-Za-z_-]{33})(?:[^0-9A-Za-z_-]|$)",
    ),
    // Incoming webhook URLs: tenant host, group@tenant ids, hex id, owner id.
    re(
        "teams_webhook",
        &["webhook.office.com", "outlook.office.com/webhook"],
        r"https://[A-Za-z0-9.-]*(?:webhook\.office\.com/webhookb2|outlook\.office\.com/webhook)/[0-9a-f-]{36}@[0-9a-f-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36}(?:/[A-Za-z0-9_-]+)?",
    ),
    // Twilio: API key SIDs (`SK` + 32 hex), account SIDs (`AC` + 32 hex),
    // auth tokens (32 hex) by name.
    re("twilio_api_key", &["SK"], r"\bSK[0-9a-f]{32}\b"),
    re("twilio_account_sid", &["AC"], r"\bAC[0-9a-f]{32}\b"),
    re(
        "twilio_auth_token",
        &["twilio"],
        r#"(?i)twilio[a-z_-]*(?:auth_?token|secret|token)\\?["']?\s*[:=]\s*\\?["']?([a-f0-9]{32})\b"#,
    ),
    // `SG.` + 22 + `.` + 43.
    re(
        "sendgrid_key",
        &["SG."],
        r"\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)",
    ),
    // Mailgun: `key-` + 32 hex; the newer 32 hex + 2 × 8 hex keys by name.
    re(
        "mailgun_key",
        &["key-", "mailgun"],
        r#"(?i)(?-i:\bkey-[0-9a-f]{32}\b)|mailgun[a-z_-]*(?:key|secret)\\?["']?\s*[:=]\s*\\?["']?([0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})\b"#,
    ),
    // 32 hex + `-us` + the datacenter number.
    re("mailchimp_key", &["-us"], r"\b[0-9a-f]{32}-us[0-9]{1,2}\b"),
];
