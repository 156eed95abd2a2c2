//! The `SecretSource` contract of `tests/it/sources.rs`, run against the
//! `aws_secrets_manager` kind over moto (signatures checked).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::moto::{Keys, Moto, moto_or_skip};
use crate::sources::{Harness, Kind, TestEnv, contract};
use crate::support::{ConfigDir, canary};

struct Aws {
    moto: Moto,
    keys: Keys,
}

impl Aws {
    fn harness(&self, name: String, value: String) -> Harness {
        let env = Arc::new(TestEnv::default());
        env.set("AWS_ACCESS_KEY_ID", &self.keys.id);
        env.set("AWS_SECRET_ACCESS_KEY", &self.keys.secret);
        env.set("AWS_EC2_METADATA_DISABLED", "true");
        let source = format!(
            "{{ aws_secrets_manager: {{ secret_id: \"{name}\", region: us-east-1, endpoint_url: \"{}\", cache_seconds: 1 }} }}",
            self.moto.url
        );
        let mut h = Harness::new("", &source, env, ConfigDir::new(), value);
        h.path = name;
        h
    }
}

impl Kind for Aws {
    async fn fresh(&self) -> Harness {
        let name = format!("crm{}", rand::random::<u32>());
        let v = canary("aws-");
        self.moto.create_secret(&name, &v).await;
        self.harness(name, v)
    }
    async fn missing(&self) -> Harness {
        self.harness(format!("none{}", rand::random::<u32>()), String::new())
    }
    async fn expected(&self, h: &Harness) -> String {
        h.value.lock().unwrap().clone()
    }
    async fn rotate(&self, h: &Harness) {
        let v = canary("aws2-");
        self.moto.rotate(&h.path, &v).await;
        *h.value.lock().unwrap() = v;
    }
    fn picked_up_after(&self) -> Option<Duration> {
        // cache_seconds: 1
        Some(Duration::from_millis(1100))
    }
    async fn cut(&self, h: &mut Harness) -> Option<()> {
        self.moto
            .sm(
                "DeleteSecret",
                json!({"SecretId": h.path, "ForceDeleteWithoutRecovery": true}),
            )
            .await;
        Some(())
    }
    fn stale_bound(&self) -> Duration {
        // cache_seconds; no stale window after it
        Duration::from_secs(1)
    }
}

#[tokio::test]
async fn aws_secrets_manager() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let keys = moto.user(true).await;
    contract(&Aws { moto, keys }).await;
}
