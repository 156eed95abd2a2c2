//! Formats of payments, chat, mail, model vendors, observability, and the
//! shapes of no one vendor (see `formats`).

use super::make::*;

pub(crate) fn list() -> Vec<Format> {
    vec![
        f("Stripe secret key", "stripe_secret_key", || {
            whole(format!("sk_live_51{}", alnum(97)))
        }),
        f("Stripe test key", "stripe_secret_key", || {
            whole(format!("sk_test_51{}", alnum(97)))
        }),
        f("Stripe restricted key", "stripe_restricted_key", || {
            whole(format!("rk_live_51{}", alnum(97)))
        }),
        f("Stripe publishable key", "stripe_publishable_key", || {
            whole(format!("pk_live_51{}", alnum(97)))
        }),
        f("Stripe webhook secret", "stripe_webhook_secret", || {
            whole(format!("whsec_{}", alnum(32)))
        }),
        f("Square access token", "square_token", || {
            whole(format!("EAAA{}", pick(B64URL, 60)))
        }),
        f("Square legacy token", "square_token", || {
            whole(format!("sq0atp-{}", pick(B64URL, 22)))
        }),
        f("Square OAuth secret", "square_token", || {
            whole(format!("sq0csp-{}", pick(B64URL, 43)))
        }),
        f("Braintree access token", "braintree_token", || {
            whole(format!(
                "access_token$production${}${}",
                pick(LOWER_ALNUM, 16),
                hex(32)
            ))
        }),
        f("Adyen API key", "adyen_key", || {
            whole(format!(
                "AQE{}{}.{}",
                pick(b"abcdefghijklmnopqrstuvwxyz", 3),
                b64(70),
                pick(B64URL, 40)
            ))
        }),
        f("Shopify access token", "shopify_token", || {
            whole(format!("shpat_{}", hex(32)))
        }),
        f("Shopify shared secret", "shopify_token", || {
            whole(format!("shpss_{}", hex(32)))
        }),
        f("Shopify custom app token", "shopify_token", || {
            whole(format!("shpca_{}", hex(32)))
        }),
        f("Plaid access token", "plaid_token", || {
            whole(format!("access-production-{}", uuid()))
        }),
        named("Plaid secret", "plaid_token", "PLAID_SECRET", || {
            whole(hex(30))
        }),
        f("Slack bot token", "slack_token", || {
            whole(format!(
                "xoxb-{}-{}-{}",
                pick(DIGITS, 11),
                pick(DIGITS, 13),
                alnum(24)
            ))
        }),
        f("Slack user token", "slack_token", || {
            whole(format!(
                "xoxp-{}-{}-{}-{}",
                pick(DIGITS, 11),
                pick(DIGITS, 11),
                pick(DIGITS, 13),
                hex(32)
            ))
        }),
        f("Slack config token", "slack_config_token", || {
            whole(format!("xoxe.xoxp-1-{}", alnum(150)))
        }),
        f("Slack config refresh token", "slack_config_token", || {
            whole(format!("xoxe-1-{}", alnum(140)))
        }),
        f("Slack app-level token", "slack_app_token", || {
            whole(format!(
                "xapp-1-A{}-{}-{}",
                pick(UPPER_ALNUM, 10),
                pick(DIGITS, 13),
                hex(64)
            ))
        }),
        f("Slack incoming webhook", "slack_webhook", || {
            let s = alnum(24);
            part(
                format!(
                    "https://hooks.slack.com/services/T{}/B{}/{s}",
                    pick(UPPER_ALNUM, 8),
                    pick(UPPER_ALNUM, 10)
                ),
                s,
            )
        }),
        f("Slack workflow webhook", "slack_webhook", || {
            let s = alnum(32);
            part(
                format!(
                    "https://hooks.slack.com/workflows/T{}/A{}/{}/{s}",
                    pick(UPPER_ALNUM, 8),
                    pick(UPPER_ALNUM, 10),
                    pick(DIGITS, 18)
                ),
                s,
            )
        }),
        f("Slack trigger URL", "slack_webhook", || {
            let s = hex(32);
            part(
                format!(
                    "https://hooks.slack.com/triggers/T{}/{}/{s}",
                    pick(UPPER_ALNUM, 8),
                    pick(DIGITS, 13)
                ),
                s,
            )
        }),
        f("Slack webhook, percent-encoded", "slack_webhook", || {
            let s = alnum(24);
            part(
                format!(
                    "https%3A%2F%2Fhooks.slack.com%2Fservices%2FT{}%2FB{}%2F{s}",
                    pick(UPPER_ALNUM, 8),
                    pick(UPPER_ALNUM, 10)
                ),
                s,
            )
        }),
        f("Discord bot token", "discord_bot_token", || {
            whole(discord_bot_token())
        }),
        f("Discord webhook", "discord_webhook", || {
            let s = pick(B64URL, 68);
            part(
                format!("https://discord.com/api/webhooks/{}/{s}", pick(DIGITS, 18)),
                s,
            )
        }),
        f("Telegram bot token", "telegram_bot_token", || {
            whole(format!("{}:AA{}", pick(DIGITS, 10), pick(B64URL, 33)))
        }),
        f("Teams incoming webhook", "teams_webhook", || {
            let s = hex(32);
            part(
                format!(
                    "https://contoso.webhook.office.com/webhookb2/{}@{}/IncomingWebhook/{s}/{}",
                    uuid(),
                    uuid(),
                    uuid()
                ),
                s,
            )
        }),
        f("Twilio API key SID", "twilio_api_key", || {
            whole(format!("SK{}", hex(32)))
        }),
        f("Twilio account SID", "twilio_account_sid", || {
            whole(format!("AC{}", hex(32)))
        }),
        named(
            "Twilio auth token",
            "twilio_auth_token",
            "TWILIO_AUTH_TOKEN",
            || whole(hex(32)),
        ),
        f("SendGrid key", "sendgrid_key", || {
            whole(format!("SG.{}.{}", pick(B64URL, 22), pick(B64URL, 43)))
        }),
        f("Mailgun key", "mailgun_key", || {
            whole(format!("key-{}", hex(32)))
        }),
        named(
            "Mailgun private key",
            "mailgun_key",
            "MAILGUN_API_KEY",
            || whole(format!("{}-{}-{}", hex(32), hex(8), hex(8))),
        ),
        f("Mailchimp key", "mailchimp_key", || {
            whole(format!("{}-us{}", hex(32), between(1, 21)))
        }),
        f("OpenAI legacy key", "openai_key", || {
            whole(format!("sk-{}T3BlbkFJ{}", alnum(20), alnum(20)))
        }),
        f("OpenAI project key", "openai_key", || {
            whole(format!(
                "sk-proj-{}T3BlbkFJ{}",
                pick(B64URL, 74),
                pick(B64URL, 74)
            ))
        }),
        f("OpenAI service account key", "openai_key", || {
            whole(format!(
                "sk-svcacct-{}T3BlbkFJ{}",
                pick(B64URL, 74),
                pick(B64URL, 74)
            ))
        }),
        f("OpenAI admin key", "openai_key", || {
            whole(format!("sk-admin-{}", pick(B64URL, 150)))
        }),
        f("Anthropic API key", "anthropic_key", || {
            whole(format!("sk-ant-api03-{}AA", pick(B64URL, 93)))
        }),
        f("Anthropic admin key", "anthropic_key", || {
            whole(format!("sk-ant-admin01-{}AA", pick(B64URL, 93)))
        }),
        f("Hugging Face user token", "huggingface_token", || {
            whole(format!("hf_{}", pick(LETTERS, 34)))
        }),
        f("Hugging Face org token", "huggingface_token", || {
            whole(format!("api_org_{}", pick(LETTERS, 34)))
        }),
        f("Groq key", "groq_key", || {
            whole(format!("gsk_{}", alnum(52)))
        }),
        f("xAI key", "xai_key", || whole(format!("xai-{}", alnum(80)))),
        f("Replicate token", "replicate_token", || {
            whole(format!("r8_{}", alnum(37)))
        }),
        f("Perplexity key", "perplexity_key", || {
            whole(format!("pplx-{}", alnum(48)))
        }),
        f("LangSmith key", "langsmith_key", || {
            whole(format!("lsv2_pt_{}_{}", hex(32), hex(10)))
        }),
        f("Pinecone key", "pinecone_key", || {
            whole(format!("pcsk_{}_{}", alnum(6), alnum(67)))
        }),
        f("Dynatrace token", "dynatrace_token", || {
            whole(format!(
                "dt0c01.{}.{}",
                pick(UPPER_ALNUM, 24),
                pick(UPPER_ALNUM, 64)
            ))
        }),
        named("Cohere key", "cohere_key", "COHERE_API_KEY", || {
            whole(alnum(40))
        }),
        named("Mistral key", "mistral_key", "MISTRAL_API_KEY", || {
            whole(alnum(32))
        }),
        named("Datadog API key", "datadog_key", "DD_API_KEY", || {
            whole(hex(32))
        }),
        named(
            "Datadog application key",
            "datadog_key",
            "DD_APP_KEY",
            || whole(hex(40)),
        ),
        f("New Relic user key", "newrelic_key", || {
            whole(format!("NRAK-{}", pick(UPPER_ALNUM, 27)))
        }),
        f("New Relic insert key", "newrelic_key", || {
            whole(format!("NRII-{}", pick(B64URL, 32)))
        }),
        f("New Relic license key", "newrelic_key", || {
            whole(format!("{}NRAL", hex(36)))
        }),
        f("Grafana Cloud token", "grafana_token", || {
            let json = format!(
                r#"{{"o":"{}","n":"stack-{}-integration","k":"{}","m":{{"r":"prod-us-east-0"}}}}"#,
                pick(DIGITS, 6),
                pick(DIGITS, 6),
                alnum(24)
            );
            whole(format!("glc_{}", b64url_of(json.as_bytes())))
        }),
        f("Grafana service account token", "grafana_token", || {
            whole(format!("glsa_{}_{}", alnum(32), hex(8)))
        }),
        f("Honeycomb ingest key", "honeycomb_key", || {
            whole(format!("hcaik_01{}", pick(LOWER_ALNUM, 56)))
        }),
        f("Sentry org token", "sentry_token", || {
            let json = format!(
                r#"{{"iat":{},"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"acme-{}"}}"#,
                between(1_700_000_000, 1_800_000_000),
                pick(LOWER_ALNUM, 4)
            );
            whole(format!(
                "sntrys_{}_{}",
                b64url_of(json.as_bytes()),
                pick(B64URL, 43)
            ))
        }),
        f("Sentry user token", "sentry_token", || {
            whole(format!("sntryu_{}", hex(64)))
        }),
        f("Sentry DSN", "sentry_dsn", || {
            let k = hex(32);
            part(
                format!(
                    "https://{k}@o{}.ingest.us.sentry.io/{}",
                    pick(DIGITS, 6),
                    pick(DIGITS, 7)
                ),
                k,
            )
        }),
        f("JWT", "jwt", || whole(jwt())),
        f("RSA private key", "pem_private_key", || {
            whole(pem("RSA PRIVATE KEY", "", 25))
        }),
        f("PKCS#8 private key", "pem_private_key", || {
            whole(pem("PRIVATE KEY", "", 25))
        }),
        f("EC private key", "pem_private_key", || {
            whole(pem("EC PRIVATE KEY", "", 3))
        }),
        f("Encrypted PKCS#8 key", "pem_private_key", || {
            whole(pem("ENCRYPTED PRIVATE KEY", "", 26))
        }),
        f("Encrypted legacy PEM key", "pem_private_key", || {
            let h = format!(
                "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,{}\n\n",
                hex(32).to_uppercase()
            );
            whole(pem("RSA PRIVATE KEY", &h, 25))
        }),
        f("OpenSSH private key", "pem_private_key", || {
            whole(pem("OPENSSH PRIVATE KEY", "", 7))
        }),
        f("PGP private key block", "pem_private_key", || {
            let h = "Version: GnuPG v2\nComment: backup\n\n";
            whole(pem("PGP PRIVATE KEY BLOCK", h, 30))
        }),
        f("PuTTY private key", "putty_private_key", || {
            let pubs: Vec<String> = (0..6).map(|_| b64(48)).collect();
            let privs: Vec<String> = (0..14).map(|_| b64(48)).collect();
            let text = format!(
                "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: rsa-key-{}\nPublic-Lines: 6\n{}\nPrivate-Lines: 14\n{}\nPrivate-MAC: {}",
                pick(DIGITS, 8),
                pubs.join("\n"),
                privs.join("\n"),
                hex(64)
            );
            Sample {
                text,
                secrets: privs,
            }
        }),
        f("Postgres URI", "url_password", || {
            url_password("postgres", "app", 5432)
        }),
        f("Postgres URI (postgresql)", "url_password", || {
            url_password("postgresql", "svc_user", 5432)
        }),
        f("MySQL URI", "url_password", || {
            url_password("mysql", "root", 3306)
        }),
        f("MongoDB SRV URI", "url_password", || {
            let pw = alnum(24);
            part(
                format!(
                    "mongodb+srv://app:{pw}@cluster0.{}.mongodb.net/?retryWrites=true&w=majority",
                    pick(LOWER_ALNUM, 5)
                ),
                pw,
            )
        }),
        f("Redis URI", "url_password", || {
            let pw = alnum(32);
            part(format!("redis://:{pw}@cache.internal:6379/0"), pw)
        }),
        f("Redis TLS URI", "url_password", || {
            url_password("rediss", "default", 6380)
        }),
        f("AMQP URI", "url_password", || {
            url_password("amqps", "guest", 5671)
        }),
        f("Bearer header", "authorization_header", || {
            let t = pick(B64URL, 40);
            part(format!("Authorization: Bearer {t}"), t)
        }),
        f("password in a query", "password_pair", || {
            let pw = alnum(16);
            part(
                format!("https://example.com/login?user=ada&password={pw}&next=/"),
                pw,
            )
        }),
        f("S3 presigned URL", "aws_signature", || {
            let s = hex(64);
            part(
                format!(
                    "https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA{}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=900&X-Amz-Signature={s}",
                    pick(BASE32, 16)
                ),
                s,
            )
        }),
        f("GCS signed URL", "gcs_signature", || {
            let s = hex(512);
            part(
                format!(
                    "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature={s}"
                ),
                s,
            )
        }),
        named(
            "Database password",
            "secret_assignment",
            "DB_PASSWORD",
            || whole(alnum(24)),
        ),
        named(
            "Session secret",
            "secret_assignment",
            "SESSION_SECRET",
            || whole(pick(B64URL, 48)),
        ),
        f("toolgate agent key", "toolgate_key", || {
            whole(format!("tg_agent_{}", pick(B64URL, 43)))
        }),
    ]
}
