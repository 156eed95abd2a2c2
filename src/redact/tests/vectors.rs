//! Per detector: positives (samples of each format it is for, built at run
//! time by `formats`) and negatives — look-alikes of the same shape that
//! are not tokens: a wrong checksum or length, the prefix inside a word,
//! placeholders, and for every detector UUIDs, hashes, base64 and
//! ordinary identifiers.

use super::formats::formats;
use super::make::*;

/// A positive sample and what must vanish from it.
pub(crate) type Positive = (String, Vec<String>);

/// (detector id, positive samples, negative samples)
pub(crate) type Vector = (&'static str, Vec<Positive>, Vec<String>);

pub(crate) fn vectors() -> Vec<Vector> {
    let mut out: Vec<Vector> = Vec::new();
    for f in formats() {
        let pos: Vec<Positive> = (0..3)
            .map(|_| {
                let s = (f.make)();
                let text = match f.var {
                    Some(v) => format!("{v}={}", s.text),
                    None => s.text,
                };
                (text, s.secrets)
            })
            .collect();
        match out.iter_mut().find(|(id, _, _)| *id == f.detector) {
            Some((_, p, _)) => p.extend(pos),
            None => out.push((f.detector, pos, negatives(f.detector))),
        }
    }
    out
}

/// Look-alikes every detector must leave alone.
fn common() -> Vec<String> {
    let sha = hex(64);
    vec![
        uuid(),
        sha.clone(),
        hex(40),
        format!("sha256:{sha}"),
        b64(48),
        "The quick brown fox jumps over the lazy dog.".into(),
        "user_account_id".into(),
        "getAccessTokenForUser".into(),
        "x-request-id: 7f3c".into(),
    ]
}

fn negatives(id: &str) -> Vec<String> {
    let mut n = common();
    let more: Vec<String> = match id {
        "github_token" => vec![
            bad_crc_token("ghp_"),
            bad_crc_token("gho_"),
            "ghp_short".into(),
            format!("ghp_{}", alnum(20)),
        ],
        "github_fine_grained_token" => {
            vec!["github_pat_".into(), format!("github_pat_{}", alnum(40))]
        }
        "gitlab_token" => vec!["glpat-abc".into(), "glpat-placeholder".into()],
        "bitbucket_app_password" => vec![format!("ATBB{}", alnum(10))],
        "atlassian_token" => vec![format!("ATATT3{}", alnum(20))],
        "npm_token" => vec![
            bad_crc_token("npm_"),
            "npm_install".into(),
            "npm_config_registry".into(),
        ],
        "pypi_token" => vec!["pypi-package".into(), format!("pypi-{}", alnum(60))],
        "rubygems_key" => vec![format!("rubygems_{}", hex(20))],
        "dockerhub_token" => vec!["dckr_pat_x".into()],
        "nuget_key" => vec![format!("oy2{}", pick(LOWER_ALNUM, 10)), "toy2story".into()],
        "linear_key" => vec!["lin_api_key".into()],
        "notion_token" => vec!["secret_key_base".into(), format!("secret_{}", alnum(20))],
        "airtable_token" => vec![
            "pattern.matches".into(),
            format!("path{}.{}", alnum(10), hex(64)),
        ],
        "postman_key" => vec!["PMAK-1234".into()],
        "figma_token" => vec!["figd_x".into()],
        "asana_token" => vec![
            "1/12 of the time".into(),
            format!("2/1{}", pick(DIGITS, 15)),
        ],
        "pulumi_token" => vec!["pul-request".into(), format!("pul-{}", hex(20))],
        "terraform_token" => vec!["app.atlasv1.example".into()],
        "doppler_token" => vec!["dp.pt.x".into()],
        "vault_token" => vec!["hvs.x".into()],
        "onepassword_token" => vec!["ops_eyJ".into()],
        "onepassword_secret_key" => vec!["A3-XXXXXX".into(), "A3-paper size".into()],
        "age_secret_key" => vec!["AGE-SECRET-KEY-1".into()],
        "toolgate_key" => vec!["tg_agent_".into()],
        "aws_access_key_id" => vec![
            "AKIA1234".into(),
            "AKIAPLAIN".into(),
            // 0, 1, 8, 9 are not in the key-id alphabet.
            format!("AKIA{}", pick(b"0189ABCDEFGH", 16)),
            format!("AKIA{}", pick(BASE32, 15).to_lowercase()),
        ],
        "aws_secret_access_key" => vec![format!("sha = {}", hex(40))],
        "aws_session_token" => vec!["aws_session_token_ttl = 3600".into()],
        "aws_bedrock_key" => vec!["ABSK".into(), "bedrock-api-key-".into()],
        "google_api_key" => vec!["AIzaShort".into(), format!("AIza{}", pick(B64URL, 20))],
        "google_oauth_token" => vec!["ya29.".into(), "1//0".into()],
        "google_oauth_client_secret" => vec!["GOCSPX-short".into()],
        "azure_client_secret" => vec!["home~Q~dir".into(), format!("{}Q~{}", alnum(4), alnum(10))],
        "azure_annotated_key" => vec![format!("{}JQQJ99", alnum(20))],
        "azure_storage_key" => vec!["AccountKey=short".into()],
        "azure_connection_secret" => vec!["SharedAccessKey=".into()],
        "digitalocean_token" => vec![format!("dop_v1_{}", hex(20))],
        "linode_token" => vec!["linode_region=us-east".into()],
        "vultr_key" => vec!["vultr_plan=vc2-1c-1gb".into()],
        "alibaba_access_key_id" => vec!["LTAI".into(), "ALTAIR".into()],
        "alibaba_access_key_secret" => vec!["aliyun_region=cn-hangzhou".into()],
        "cloudflare_origin_ca_key" => vec!["v1.0-beta".into()],
        "cloudflare_api_token" => vec!["CF_API_TOKEN=${CF_API_TOKEN}".into()],
        "heroku_key" => vec!["HRKU-x".into(), "heroku_app=my-app".into()],
        "kubernetes_secret" => vec![
            format!(
                "apiVersion: v1\nkind: ConfigMap\ndata:\n  key: {}\n",
                b64(16)
            ),
            "kind: Secret\nmetadata:\n  name: x\ntype: Opaque\n".into(),
        ],
        "databricks_token" => vec![format!("dapi{}", hex(10))],
        "supabase_key" => vec!["sbp_x".into()],
        "neon_key" => vec!["napi_x".into()],
        "planetscale_token" => vec!["pscale_tkn_x".into()],
        "clickhouse_key" => vec![format!("4b1d{}", hex(38)), format!("4b1d{}", hex(10))],
        "stripe_secret_key" => vec!["sk_live_".into(), "sk_live_short".into()],
        "stripe_restricted_key" => vec!["rk_live_x".into()],
        "stripe_publishable_key" => vec!["pk_live_x".into()],
        "stripe_webhook_secret" => vec!["whsec_x".into()],
        "square_token" => vec!["EAAA".into(), "sq0atp-x".into()],
        "braintree_token" => vec!["access_token$production$".into()],
        "adyen_key" => vec!["AQE".into(), format!("AQE{}", pick(b"abcdef", 100))],
        "shopify_token" => vec![format!("shpat_{}", hex(10))],
        "plaid_token" => vec!["access-sandbox-x".into(), "plaid_env=sandbox".into()],
        "slack_token" => vec!["xoxb-".into(), format!("xoxb-{}", alnum(30))],
        "slack_config_token" => vec!["xoxe-1-x".into()],
        "slack_app_token" => vec!["xapp-1-x".into()],
        "slack_webhook" => vec![
            "https://hooks.slack.com/".into(),
            "hooks.slack.com/services".into(),
        ],
        "discord_bot_token" => vec![
            // Right shape, but the first part is not a number in base64.
            format!(
                "{}.{}.{}",
                b64url_of(b"not-an-id-at-all-x"),
                pick(B64URL, 6),
                pick(B64URL, 38)
            ),
            "Mozilla/5.0".into(),
        ],
        "discord_webhook" => vec!["https://discord.com/api/webhooks/".into()],
        "telegram_bot_token" => vec!["12:AA".into()],
        "teams_webhook" => vec!["https://contoso.webhook.office.com/".into()],
        "twilio_api_key" => vec![format!("ASK{}", hex(32)), format!("SK{}", hex(10))],
        "twilio_account_sid" => vec![format!("AC{}", hex(10)), format!("XAC{}", hex(32))],
        "twilio_auth_token" => vec!["twilio_region=us1".into()],
        "sendgrid_key" => vec!["SG.short.x".into()],
        "mailgun_key" => vec!["key-value".into(), "mailgun_domain=mg.example.com".into()],
        "mailchimp_key" => vec!["en-us".into(), "locale=en-us12".into()],
        "openai_key" => vec![
            "sk-learn".into(),
            "task-force".into(),
            "sk-learn-compatible-estimators-and-pipelines".into(),
        ],
        "anthropic_key" => vec!["sk-ant-".into()],
        "huggingface_token" => vec!["hf_hub".into(), "hf_hub_download".into()],
        "groq_key" => vec!["gsk_x".into()],
        "xai_key" => vec!["xai-sdk".into()],
        "replicate_token" => vec!["r8_x".into()],
        "perplexity_key" => vec!["pplx-x".into()],
        "cohere_key" => vec!["cohere_model=command-r".into()],
        "mistral_key" => vec!["mistral_model=mistral-large-latest".into()],
        "datadog_key" => vec!["dd_api_key_file=/etc/dd".into()],
        "newrelic_key" => vec!["NRAK-x".into(), "NRAL".into()],
        "grafana_token" => vec!["glc_x".into()],
        "honeycomb_key" => vec!["hcaik_x".into()],
        "sentry_token" => vec!["sntrys_x".into()],
        "sentry_dsn" => vec!["https://sentry.io/organizations/acme/".into()],
        "jwt" => vec![
            "eyJhbGci".into(),
            // Three parts, but the first is not a JSON header.
            format!("eyJ{}.eyJ{}.{}", alnum(20), alnum(40), alnum(43)),
        ],
        "pem_private_key" => {
            vec!["-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----".into()]
        }
        "putty_private_key" => vec!["PuTTY-User-Key-File-3: ssh-rsa".into()],
        "url_password" => vec![
            "https://example.com/path".into(),
            "https://example.com:8443/a@b".into(),
            "mailto:ada@example.com".into(),
        ],
        "authorization_header" => vec!["authorization required".into()],
        "aws_signature" => vec!["X-Amz-Signature=".into()],
        "gcs_signature" => vec!["X-Goog-Signature=".into()],
        "sas_signature" => vec!["?sig=".into()],
        "password_pair" => vec!["password=".into()],
        "secret_assignment" => vec![
            "token_ttl: 3600".into(),
            "secret_name: prod-db-credentials".into(),
            "api_key_header: X-Api-Key".into(),
            "password_min_length=12".into(),
            "secretKeyRef: mySecretKeyName".into(),
            "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}".into(),
            "token_url: https://oauth2.example.com/token".into(),
        ],
        "sonarqube_token" => vec![format!("squ_{}", hex(20))],
        "jfrog_token" => vec!["AKCp".into()],
        "circleci_token" => vec!["CCIPAT_x".into()],
        "buildkite_token" => vec!["bkua_x".into()],
        "flyio_token" => vec!["fo1_x".into()],
        "netlify_token" => vec!["nfp_x".into()],
        "contentful_token" => vec!["CFPAT-x".into()],
        "langsmith_key" => vec![format!("lsv2_pt_{}", hex(32))],
        "pinecone_key" => vec!["pcsk_x".into()],
        "dynatrace_token" => vec!["dt0c01.x".into()],
        "mapbox_secret_token" => vec![
            "sk.eyJ".into(),
            format!("pk.{}", b64url_of(b"{\"u\":\"acme\"}")),
        ],
        _ => vec![],
    };
    n.extend(more);
    n
}
