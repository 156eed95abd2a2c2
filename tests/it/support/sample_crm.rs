//! The sample CRM that `toolgate dev` serves, on a free loopback port: it
//! accepts only `Bearer <credential>` and shows what it received.

use std::net::SocketAddr;

use serde_json::Value;

use super::{ConfigDir, Keys};

pub struct SampleCrm {
    pub addr: SocketAddr,
}

impl SampleCrm {
    /// A CRM that accepts `credential`.
    pub async fn start(credential: &str) -> SampleCrm {
        let app = toolgate::dev::sample_upstream(credential);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        SampleCrm { addr }
    }

    /// `tools/create.yaml`: POST the arguments as a lead, with credential slot `crm`.
    pub fn write_create_tool(&self, dir: &ConfigDir) {
        dir.write(
            "tools/create.yaml",
            &format!(
                "name: create\ndescription: d\nscopes: [crm]\ninput_schema: {{ type: object, additionalProperties: false, properties: {{ name: {{ type: string }} }} }}\n\
                 upstream: {{ method: POST, url: \"http://{}/api/v2/leads\", body: \"{{args}}\", credential: crm, allow_private_network: true }}\n",
                self.addr
            ),
        );
    }

    /// The requests it accepted (sent with the right credential), oldest first.
    pub async fn accepted(&self) -> Vec<Value> {
        let received: Vec<Value> = reqwest::get(format!("http://{}/_dev/received", self.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        received
            .into_iter()
            .filter(|r| r["credential_valid"] == true)
            .collect()
    }
}

/// A config with one credential `crm` read from `source`, workflow `main`
/// granting it (with `tools` as its tool entries, if any) and `other`.
pub fn write_crm_config(dir: &ConfigDir, keys: &Keys, source: &str, tools: &str) {
    let tools = if tools.is_empty() {
        " {}\n".to_owned()
    } else {
        format!("\n{tools}")
    };
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\ncredentials:\n  crm:\n    environment: test\n    source: {source}\n    inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n\
             workflows:\n  main:\n    environment: test\n    scopes: [crm]\n    credentials: {{ crm: crm }}\n    tools:{tools}  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
}
