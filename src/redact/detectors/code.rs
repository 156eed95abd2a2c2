//! Source hosting, package registries and developer tools: GitHub, GitLab,
//! Bitbucket and Atlassian, npm, PyPI, RubyGems, Docker Hub, NuGet, and the
//! tools a platform team's agents call (Linear, Notion, Airtable, Postman,
//! Figma, Asana, Pulumi, Terraform Cloud, Doppler, Vault, 1Password, age).
//!
//! Where a token ends in a character that may be `-`, the pattern ends with
//! "not a token character, or the end" instead of `\b`.

use super::spec::{Spec, checked, github_checksum, npm_checksum, re};

pub(crate) const SPECS: &[Spec] = &[
    // `gh?_` + 30 random base62 + 6 base62 of their CRC-32.
    checked(
        "github_token",
        &["ghp_", "gho_", "ghs_", "ghu_", "ghr_"],
        r"\bgh[pousr]_[A-Za-z0-9]{36,251}\b",
        github_checksum,
    ),
    // `github_pat_` + 22 + `_` + 59 base62.
    re(
        "github_fine_grained_token",
        &["github_pat_"],
        r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b",
    ),
    // The whole `gl…-` family; routable tokens add `.` parts (version, checksum).
    re(
        "gitlab_token",
        &[
            "glpat-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-", "glimt-",
            "glagent-", "gloas-", "glsoat-", "glffct-", "glwt-",
        ],
        r"\bgl(?:pat|dt|rt|rtr|cbt|ptt|ft|imt|agent|oas|soat|ffct|wt)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]{2,}){0,2}",
    ),
    // Bitbucket app passwords: `ATBB` + 32.
    re(
        "bitbucket_app_password",
        &["ATBB"],
        r"\bATBB[A-Za-z0-9]{32}\b",
    ),
    // Atlassian API tokens (`ATATT3…`) and Bitbucket access tokens (`ATCTT3…`).
    re(
        "atlassian_token",
        &["ATATT3", "ATCTT3"],
        r"\bAT[AC]TT3[A-Za-z0-9_=-]{100,}",
    ),
    checked(
        "npm_token",
        &["npm_"],
        r"\bnpm_[A-Za-z0-9]{36}\b",
        npm_checksum,
    ),
    // A macaroon whose location is pypi.org (or test.pypi.org).
    re(
        "pypi_token",
        &["pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"],
        r"\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}",
    ),
    re("rubygems_key", &["rubygems_"], r"\brubygems_[a-f0-9]{48}\b"),
    re(
        "dockerhub_token",
        &["dckr_pat_", "dckr_oat_"],
        r"\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}",
    ),
    // NuGet API keys: `oy2` + 43 lower-case letters and digits.
    re("nuget_key", &["oy2"], r"\boy2[a-z0-9]{43}\b"),
    re(
        "linear_key",
        &["lin_api_", "lin_oauth_"],
        r"\blin_(?:api_[A-Za-z0-9]{40}|oauth_[a-f0-9]{64})\b",
    ),
    // Notion: `ntn_` tokens, and the older `secret_` + 43.
    re(
        "notion_token",
        &["ntn_", "secret_"],
        r"\b(?:ntn_[A-Za-z0-9]{40,50}|secret_[A-Za-z0-9]{43})\b",
    ),
    // Airtable personal access tokens: `pat` + 14, `.`, 64 hex.
    re(
        "airtable_token",
        &["pat"],
        r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b",
    ),
    re(
        "postman_key",
        &["PMAK-"],
        r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b",
    ),
    re("figma_token", &["figd_"], r"\bfigd_[A-Za-z0-9_-]{40,}"),
    // Asana personal access tokens: `1/` or `2/`, numeric ids, `:`, 32 hex.
    re(
        "asana_token",
        &["1/1", "2/1"],
        r"\b[12]/1[0-9]{9,18}(?:/1[0-9]{9,18})?:[a-f0-9]{32}\b",
    ),
    re("pulumi_token", &["pul-"], r"\bpul-[a-f0-9]{40}\b"),
    re(
        "terraform_token",
        &[".atlasv1."],
        r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_-]{60,70}",
    ),
    re(
        "doppler_token",
        &[
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit.",
        ],
        r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,}",
    ),
    re(
        "vault_token",
        &["hvs.", "hvb.", "hvr."],
        r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}",
    ),
    // 1Password service-account tokens: `ops_` + base64 of a JSON object.
    re(
        "onepassword_token",
        &["ops_eyJ"],
        r"\bops_eyJ[A-Za-z0-9+/=_-]{100,}",
    ),
    // 1Password Secret Keys: `A3-`, the account's 6 characters, then 26 in groups.
    re(
        "onepassword_secret_key",
        &["A3-"],
        r"\bA3-[A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
    ),
    re(
        "sonarqube_token",
        &["squ_", "sqp_", "sqa_"],
        r"\bsq[upa]_[a-f0-9]{40}\b",
    ),
    // Reference tokens (base64 of `reftkn:01:`…) and API keys (`AKCp` + 69).
    re(
        "jfrog_token",
        &["cmVmdGtuOjAxOj", "AKCp"],
        r"\b(?:cmVmdGtuOjAxOj[A-Za-z0-9+/=]{40,}|AKCp[A-Za-z0-9]{69}\b)",
    ),
    re(
        "circleci_token",
        &["CCIPAT_"],
        r"\bCCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}\b",
    ),
    re("buildkite_token", &["bkua_"], r"\bbkua_[a-f0-9]{40}\b"),
    // Fly.io: `fo1_` tokens and `fm1_`/`fm2_` macaroons.
    re(
        "flyio_token",
        &["fo1_", "fm1_", "fm2_"],
        r"\b(?:fo1_[A-Za-z0-9_-]{43}|fm[12]_[A-Za-z0-9+/=_-]{100,})",
    ),
    re("netlify_token", &["nfp_"], r"\bnfp_[A-Za-z0-9]{36}\b"),
    re(
        "contentful_token",
        &["CFPAT-"],
        r"\bCFPAT-[A-Za-z0-9_-]{43}",
    ),
    // Bech32: `AGE-SECRET-KEY-1` + 58 characters of its alphabet.
    re(
        "age_secret_key",
        &["AGE-SECRET-KEY-1"],
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    ),
    re(
        "toolgate_key",
        &["tg_agent_", "tg_approver_", "tg_admin_", "tg_session_"],
        r"\btg_(?:agent|approver|admin|session)_[A-Za-z0-9_-]{43}",
    ),
];
