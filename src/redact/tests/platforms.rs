//! Formats of source hosting, registries, developer tools, clouds and data
//! platforms (see `formats`).

use super::make::*;

pub(crate) fn list() -> Vec<Format> {
    vec![
        f("GitHub personal access token", "github_token", || {
            whole(crc_token("ghp_"))
        }),
        f("GitHub OAuth token", "github_token", || {
            whole(crc_token("gho_"))
        }),
        f("GitHub user-to-server token", "github_token", || {
            whole(crc_token("ghu_"))
        }),
        f("GitHub server-to-server token", "github_token", || {
            whole(crc_token("ghs_"))
        }),
        f("GitHub refresh token", "github_token", || {
            whole(crc_token("ghr_"))
        }),
        f(
            "GitHub fine-grained token",
            "github_fine_grained_token",
            || whole(format!("github_pat_{}_{}", alnum(22), alnum(59))),
        ),
        f("GitLab personal token", "gitlab_token", || {
            whole(format!("glpat-{}", pick(B64URL, 20)))
        }),
        f("GitLab routable token", "gitlab_token", || {
            whole(format!(
                "glpat-{}.01.{}",
                pick(B64URL, 27),
                pick(LOWER_ALNUM, 9)
            ))
        }),
        f("GitLab deploy token", "gitlab_token", || {
            whole(format!("gldt-{}", pick(B64URL, 20)))
        }),
        f("GitLab runner token", "gitlab_token", || {
            whole(format!("glrt-t1_{}", pick(B64URL, 20)))
        }),
        f("GitLab CI build token", "gitlab_token", || {
            whole(format!("glcbt-{}_{}", hex(2), pick(B64URL, 20)))
        }),
        f("GitLab trigger token", "gitlab_token", || {
            whole(format!("glptt-{}", hex(40)))
        }),
        f("GitLab feed token", "gitlab_token", || {
            whole(format!("glft-{}", pick(B64URL, 20)))
        }),
        f("GitLab incoming mail token", "gitlab_token", || {
            whole(format!("glimt-{}", pick(LOWER_ALNUM, 25)))
        }),
        f("GitLab agent token", "gitlab_token", || {
            whole(format!("glagent-{}", pick(B64URL, 50)))
        }),
        f("GitLab OAuth app secret", "gitlab_token", || {
            whole(format!("gloas-{}", hex(64)))
        }),
        f("GitLab SCIM token", "gitlab_token", || {
            whole(format!("glsoat-{}", pick(B64URL, 20)))
        }),
        f("GitLab feature flag client token", "gitlab_token", || {
            whole(format!("glffct-{}", pick(B64URL, 20)))
        }),
        f("Bitbucket app password", "bitbucket_app_password", || {
            whole(format!("ATBB{}", alnum(32)))
        }),
        f("Atlassian API token", "atlassian_token", || {
            whole(format!(
                "ATATT3xFfGF0{}={}",
                pick(B64URL, 170),
                hex(8).to_uppercase()
            ))
        }),
        f("npm access token", "npm_token", || whole(crc_token("npm_"))),
        f("PyPI token", "pypi_token", || {
            whole(format!(
                "pypi-AgEIcHlwaS5vcmc{}",
                pick(B64URL, between(100, 180))
            ))
        }),
        f("TestPyPI token", "pypi_token", || {
            whole(format!("pypi-AgENdGVzdC5weXBpLm9yZw{}", pick(B64URL, 120)))
        }),
        f("RubyGems key", "rubygems_key", || {
            whole(format!("rubygems_{}", hex(48)))
        }),
        f("Docker Hub PAT", "dockerhub_token", || {
            whole(format!("dckr_pat_{}", pick(B64URL, 27)))
        }),
        f("NuGet API key", "nuget_key", || {
            whole(format!("oy2{}", pick(LOWER_ALNUM, 43)))
        }),
        f("Linear API key", "linear_key", || {
            whole(format!("lin_api_{}", alnum(40)))
        }),
        f("Notion token", "notion_token", || {
            whole(format!("ntn_{}{}", pick(DIGITS, 11), alnum(35)))
        }),
        f("Notion legacy token", "notion_token", || {
            whole(format!("secret_{}", alnum(43)))
        }),
        f("Airtable PAT", "airtable_token", || {
            whole(format!("pat{}.{}", alnum(14), hex(64)))
        }),
        f("Postman key", "postman_key", || {
            whole(format!("PMAK-{}-{}", hex(24), hex(34)))
        }),
        f("Figma PAT", "figma_token", || {
            whole(format!("figd_{}", pick(B64URL, 40)))
        }),
        f("Asana PAT", "asana_token", || {
            whole(format!(
                "2/1{}/1{}:{}",
                pick(DIGITS, 15),
                pick(DIGITS, 15),
                hex(32)
            ))
        }),
        f("Pulumi token", "pulumi_token", || {
            whole(format!("pul-{}", hex(40)))
        }),
        f("Terraform Cloud token", "terraform_token", || {
            whole(format!("{}.atlasv1.{}", alnum(14), alnum(67)))
        }),
        f("Doppler personal token", "doppler_token", || {
            whole(format!("dp.pt.{}", alnum(43)))
        }),
        f("Doppler service token", "doppler_token", || {
            whole(format!("dp.st.prd.{}", alnum(43)))
        }),
        f("Vault service token", "vault_token", || {
            whole(format!("hvs.CAESI{}", pick(B64URL, 90)))
        }),
        f("Vault batch token", "vault_token", || {
            whole(format!("hvb.AAAAAQ{}", pick(B64URL, 130)))
        }),
        f(
            "1Password service account token",
            "onepassword_token",
            || {
                let json = format!(
                    r#"{{"signInAddress":"my.1password.com","userAuth":{{"method":"SRPg-4096","alg":"PBES2g-HS256","iterations":650000,"salt":"{}"}},"email":"{}@1passwordserviceaccounts.com","srpX":"{}","muk":{{"alg":"A256GCM","ext":true,"k":"{}","key_ops":["encrypt","decrypt"],"kty":"oct","kid":"mp"}},"secretKey":"A3-{}","throttleSecret":{{"seed":"{}","deviceUuid":"{}"}},"deviceUuid":"{}"}}"#,
                    alnum(22),
                    pick(LOWER_ALNUM, 13),
                    hex(64),
                    pick(B64URL, 43),
                    pick(UPPER_ALNUM, 31),
                    hex(64),
                    pick(LOWER_ALNUM, 26),
                    pick(LOWER_ALNUM, 26)
                );
                whole(format!("ops_{}", b64url_of(json.as_bytes())))
            },
        ),
        f("1Password Secret Key", "onepassword_secret_key", || {
            let g = |n| pick(UPPER_ALNUM, n);
            whole(format!(
                "A3-{}-{}-{}-{}-{}-{}",
                g(6),
                g(6),
                g(5),
                g(5),
                g(5),
                g(5)
            ))
        }),
        f("SonarQube user token", "sonarqube_token", || {
            whole(format!("squ_{}", hex(40)))
        }),
        f("JFrog reference token", "jfrog_token", || {
            let inner = format!(
                "reftkn:01:{}:{}",
                between(1_700_000_000, 1_900_000_000),
                alnum(27)
            );
            whole(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                inner,
            ))
        }),
        f("JFrog API key", "jfrog_token", || {
            whole(format!("AKCp{}", alnum(69)))
        }),
        f("CircleCI personal token", "circleci_token", || {
            whole(format!("CCIPAT_{}_{}", alnum(22), hex(40)))
        }),
        f("Buildkite token", "buildkite_token", || {
            whole(format!("bkua_{}", hex(40)))
        }),
        f("Fly.io token", "flyio_token", || {
            whole(format!("fo1_{}", pick(B64URL, 43)))
        }),
        f("Fly.io macaroon", "flyio_token", || {
            whole(format!("fm2_{}", b64(200)))
        }),
        f("Netlify token", "netlify_token", || {
            whole(format!("nfp_{}", alnum(36)))
        }),
        f("Contentful token", "contentful_token", || {
            whole(format!("CFPAT-{}", pick(B64URL, 43)))
        }),
        f("age secret key", "age_secret_key", || {
            whole(format!("AGE-SECRET-KEY-1{}", pick(BECH32, 58)))
        }),
        f("AWS access key id", "aws_access_key_id", || {
            whole(format!("AKIA{}", pick(BASE32, 16)))
        }),
        f("AWS temporary key id", "aws_access_key_id", || {
            whole(format!("ASIA{}", pick(BASE32, 16)))
        }),
        named(
            "AWS secret access key",
            "aws_secret_access_key",
            "AWS_SECRET_ACCESS_KEY",
            || whole(b64(30)),
        ),
        named(
            "AWS session token",
            "aws_session_token",
            "AWS_SESSION_TOKEN",
            || whole(b64(300)),
        ),
        f("AWS Bedrock long-term key", "aws_bedrock_key", || {
            let inner = format!(
                "BedrockAPIKey-{}-at-{}:{}",
                alnum(4),
                pick(DIGITS, 12),
                b64(30)
            );
            whole(format!(
                "ABSK{}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, inner)
            ))
        }),
        f("AWS Bedrock short-term key", "aws_bedrock_key", || {
            let inner = format!(
                "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA{}&X-Amz-Signature={}&Version=1",
                pick(BASE32, 16),
                hex(64)
            );
            whole(format!(
                "bedrock-api-key-{}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, inner)
            ))
        }),
        f("Google API key", "google_api_key", || {
            whole(format!("AIza{}", pick(B64URL, 35)))
        }),
        f("Google OAuth access token", "google_oauth_token", || {
            whole(format!("ya29.{}", pick(B64URL, 150)))
        }),
        f("Google OAuth refresh token", "google_oauth_token", || {
            whole(format!("1//0{}", pick(B64URL, 100)))
        }),
        f(
            "Google OAuth client secret",
            "google_oauth_client_secret",
            || whole(format!("GOCSPX-{}", pick(B64URL, 28))),
        ),
        f("GCP service account key", "pem_private_key", || {
            let key = pem("PRIVATE KEY", "", 25).replace('\n', "\\n");
            let text = format!(
                "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"proj-{}\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{key}\\n\",\n  \"client_email\": \"svc@proj.iam.gserviceaccount.com\"\n}}",
                pick(LOWER_ALNUM, 6),
                hex(40)
            );
            let body = key.split("\\n").nth(3).unwrap_or_default().to_owned();
            part(text, body)
        }),
        f("Entra ID client secret", "azure_client_secret", || {
            let a = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_~.-";
            whole(format!(
                "{}{}Q~{}{}",
                pick(a, 3),
                between(7, 8),
                pick(a, 33),
                alnum(1)
            ))
        }),
        f("Azure annotated key", "azure_annotated_key", || {
            whole(format!("{}JQQJ99{}", alnum(52), alnum(26)))
        }),
        f(
            "Azure storage connection string",
            "azure_storage_key",
            || {
                let key = b64(64);
                part(
                    format!(
                        "DefaultEndpointsProtocol=https;AccountName=acct{};AccountKey={key};EndpointSuffix=core.windows.net",
                        hex(4)
                    ),
                    key,
                )
            },
        ),
        f(
            "Azure Service Bus connection string",
            "azure_connection_secret",
            || {
                let key = b64(32);
                part(
                    format!(
                        "Endpoint=sb://ns-{}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}",
                        hex(4)
                    ),
                    key,
                )
            },
        ),
        f("Azure SAS URL", "sas_signature", || {
            let sig = b64(32)
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D");
            part(
                format!(
                    "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig={sig}"
                ),
                sig,
            )
        }),
        f("DigitalOcean PAT", "digitalocean_token", || {
            whole(format!("dop_v1_{}", hex(64)))
        }),
        f("DigitalOcean OAuth token", "digitalocean_token", || {
            whole(format!("doo_v1_{}", hex(64)))
        }),
        named("Linode token", "linode_token", "LINODE_TOKEN", || {
            whole(hex(64))
        }),
        named("Vultr API key", "vultr_key", "VULTR_API_KEY", || {
            whole(pick(UPPER_ALNUM, 36))
        }),
        f(
            "Alibaba Cloud AccessKey ID",
            "alibaba_access_key_id",
            || whole(format!("LTAI5t{}", alnum(18))),
        ),
        named(
            "Alibaba Cloud AccessKey secret",
            "alibaba_access_key_secret",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            || whole(alnum(30)),
        ),
        f(
            "Cloudflare origin CA key",
            "cloudflare_origin_ca_key",
            || whole(format!("v1.0-{}-{}", hex(24), hex(146))),
        ),
        named(
            "Cloudflare API token",
            "cloudflare_api_token",
            "CLOUDFLARE_API_TOKEN",
            || whole(pick(B64URL, 40)),
        ),
        named(
            "Cloudflare global API key",
            "cloudflare_api_token",
            "CF_API_KEY",
            || whole(hex(37)),
        ),
        f("Heroku API key", "heroku_key", || {
            whole(format!("HRKU-AA{}", pick(B64URL, 58)))
        }),
        named(
            "Heroku legacy API key",
            "heroku_key",
            "HEROKU_API_KEY",
            || whole(uuid()),
        ),
        f("Kubernetes Secret (YAML)", "kubernetes_secret", || {
            let (text, secrets) = kube_yaml();
            Sample { text, secrets }
        }),
        f("Kubernetes Secret (JSON)", "kubernetes_secret", || {
            let (text, secrets) = kube_json();
            Sample { text, secrets }
        }),
        f("Databricks token", "databricks_token", || {
            whole(format!("dapi{}", hex(32)))
        }),
        f("Supabase access token", "supabase_key", || {
            whole(format!("sbp_{}", hex(40)))
        }),
        f("Supabase secret key", "supabase_key", || {
            whole(format!("sb_secret_{}", pick(B64URL, 31)))
        }),
        f("Neon API key", "neon_key", || {
            whole(format!("napi_{}", pick(LOWER_ALNUM, 64)))
        }),
        f("PlanetScale service token", "planetscale_token", || {
            whole(format!("pscale_tkn_{}", pick(B64URL, 43)))
        }),
        f("PlanetScale password", "planetscale_token", || {
            whole(format!("pscale_pw_{}", pick(B64URL, 43)))
        }),
        f("PlanetScale OAuth token", "planetscale_token", || {
            whole(format!("pscale_oauth_{}", pick(B64URL, 43)))
        }),
        f("Mapbox secret token", "mapbox_secret_token", || {
            let payload = format!(
                r#"{{"u":"acme-{}","a":"{}"}}"#,
                pick(LOWER_ALNUM, 5),
                pick(LOWER_ALNUM, 22)
            );
            whole(format!(
                "sk.{}.{}",
                b64url_of(payload.as_bytes()),
                pick(B64URL, 22)
            ))
        }),
        f("ClickHouse Cloud key secret", "clickhouse_key", || {
            whole(format!("4b1d{}", alnum(38)))
        }),
    ]
}
