//! The shared AWS `credentials` and `config` files: one profile's settings
//! (`[name]` in the credentials file, `[profile name]` or `[default]` in
//! the config file; the credentials file wins). Only static keys and
//! `region` are used: profiles that assume a role, run a process or use SSO
//! are not followed (the credential is then unavailable, with that reason).
//!
//! Read afresh on each use, so an edited file takes effect at once. Never
//! logs or returns a key in an error.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::SecretString;

use super::keys::AwsCredentials;

pub(super) struct Profiles {
    name: String,
    /// Whether the profile was named (`AWS_PROFILE`) rather than `default`.
    named: bool,
    settings: BTreeMap<String, String>,
}

impl Profiles {
    pub(super) fn read(credentials: Option<&Path>, config: Option<&Path>, name: &str) -> Profiles {
        let mut settings = BTreeMap::new();
        if let Some(text) = config.and_then(|p| std::fs::read_to_string(p).ok()) {
            let header = if name == "default" {
                "default".to_owned()
            } else {
                format!("profile {name}")
            };
            settings.extend(section(&text, &header));
        }
        if let Some(text) = credentials.and_then(|p| std::fs::read_to_string(p).ok()) {
            settings.extend(section(&text, name));
        }
        Profiles {
            name: name.to_owned(),
            named: name != "default",
            settings,
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.settings.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// The profile's static keys; `None` when it has none and was not
    /// asked for by name (the chain goes on).
    pub(super) fn credentials(&self) -> Result<Option<AwsCredentials>, String> {
        match (
            self.get("aws_access_key_id"),
            self.get("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => Ok(Some(AwsCredentials {
                access_key_id: id,
                secret_access_key: SecretString::from(secret),
                session_token: self.get("aws_session_token").map(SecretString::from),
                expires: None,
            })),
            (None, None) if !self.named => Ok(None),
            (None, None) => Err(format!(
                "AWS profile {} has no aws_access_key_id / aws_secret_access_key (only static keys are read from profiles)",
                self.name
            )),
            _ => Err(format!(
                "AWS profile {} has only one of aws_access_key_id and aws_secret_access_key",
                self.name
            )),
        }
    }
}

/// `key = value` lines of section `[header]`.
fn section(text: &str, header: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = h.split_whitespace().collect::<Vec<_>>().join(" ") == header;
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            out.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (c, f) = (dir.path().join("credentials"), dir.path().join("config"));
        std::fs::write(
            &c,
            "[default]\naws_access_key_id = A1\naws_secret_access_key = s1\n\n# note\n[ops]\naws_access_key_id=A2\naws_secret_access_key=s2\naws_session_token = t2\n",
        )
        .unwrap();
        std::fs::write(&f, "[default]\nregion = eu-west-1\n[profile ops]\nregion = us-east-2\n[profile sso]\nsso_start_url = x\n").unwrap();
        let p = Profiles::read(Some(&c), Some(&f), "default");
        assert_eq!(p.get("region").as_deref(), Some("eu-west-1"));
        assert_eq!(p.credentials().unwrap().unwrap().access_key_id, "A1");
        let p = Profiles::read(Some(&c), Some(&f), "ops");
        assert_eq!(p.get("region").as_deref(), Some("us-east-2"));
        let k = p.credentials().unwrap().unwrap();
        assert!(k.access_key_id == "A2" && k.session_token.is_some());
        // A named profile without static keys is an error, not a fall-through.
        assert!(
            Profiles::read(Some(&c), Some(&f), "sso")
                .credentials()
                .is_err()
        );
        assert!(
            Profiles::read(None, None, "default")
                .credentials()
                .unwrap()
                .is_none()
        );
    }
}
