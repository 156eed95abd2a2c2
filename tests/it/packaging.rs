//! What can be checked of the Docker packaging without a Docker engine: the
//! compose file wires two replicas to one Redis and the sample CRM with the
//! config it mounts; that config loads once keys are filled in; the image
//! builds in stages and runs as non-root with a health check whose command
//! works; the sample CRM the compose file runs accepts only its credential.

use serde_json::json;
use toolgate::identity::{Role, generate_key, key_sha256};
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::http::Api;
use crate::support::process::{free_port, toolgate};
use crate::support::{ConfigDir, canary, repo_root};

fn repo(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap()
}

/// A mapping's value, with `<<:` merge keys resolved.
fn get<'y>(map: &'y Yaml, key: &str) -> Option<&'y Yaml> {
    let h = map.as_hash()?;
    h.get(&Yaml::String(key.to_owned()))
        .or_else(|| get(h.get(&Yaml::String("<<".to_owned()))?, key))
}

fn strings(y: Option<&Yaml>) -> Vec<String> {
    y.and_then(Yaml::as_vec)
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_compose_file_runs_two_replicas_on_one_redis_with_the_mounted_config() {
    let doc = &YamlLoader::load_from_str(&repo("docker-compose.yml")).unwrap()[0];
    let services = get(doc, "services").unwrap();
    let redis = get(services, "redis").expect("a redis service");
    let cmd = strings(get(redis, "command")).join(" ");
    assert!(cmd.contains("--appendonly yes") && cmd.contains("--appendfsync always"));
    let mut ports = Vec::new();
    for name in ["toolgate-a", "toolgate-b"] {
        let s = get(services, name).unwrap_or_else(|| panic!("service {name}"));
        assert_eq!(
            strings(get(s, "command")),
            [
                "serve",
                "--config",
                "/etc/toolgate/toolgate.yaml",
                "--listen",
                "0.0.0.0:8080"
            ]
        );
        assert_eq!(
            strings(get(s, "volumes")),
            ["./deploy/compose:/etc/toolgate:ro"]
        );
        assert!(get(get(s, "depends_on").unwrap(), "redis").is_some());
        ports.extend(strings(get(s, "ports")));
        let env = get(s, "environment").unwrap();
        assert!(get(env, "TOOLGATE_DEV_CRM_KEY").is_some());
    }
    ports.dedup();
    assert_eq!(ports.len(), 2, "each replica on its own port");
    let upstream = get(services, "sample-upstream").unwrap();
    assert_eq!(
        strings(get(upstream, "command")),
        ["sample-upstream", "--listen", "0.0.0.0:8090"]
    );
}

#[test]
fn the_compose_config_loads_once_keys_are_filled_in() {
    let dir = ConfigDir::new();
    let src = repo_root().join("deploy/compose");
    for rel in ["tools/create_lead.yaml", "tools/get_lead.yaml"] {
        dir.write(rel, &std::fs::read_to_string(src.join(rel)).unwrap());
    }
    let text = std::fs::read_to_string(src.join("toolgate.yaml")).unwrap();
    // As committed it refuses to load: the placeholders are not key hashes.
    dir.write("toolgate.yaml", &text);
    assert!(toolgate::catalog::load(&dir.config_path()).is_err());
    let mut filled = text;
    for role in [Role::Agent, Role::Approver, Role::Admin] {
        filled = filled.replacen(
            "key_sha256: \"REPLACE\"",
            &format!("key_sha256: \"{}\"", key_sha256(&generate_key(role))),
            1,
        );
    }
    dir.write("toolgate.yaml", &filled);
    let loaded = crate::support::load(&dir.config_path());
    let cfg = &loaded.config;
    assert_eq!(cfg.store.redis_urls(), ["redis://redis:6379/0".to_owned()]);
    assert!(cfg.audit.redis);
    assert_eq!(cfg.tools.len(), 2);
    let compose = repo("docker-compose.yml");
    assert!(compose.contains("\n  redis:\n") && compose.contains("\n  sample-upstream:\n"));
    for t in cfg.tools.values() {
        let url = format!("{:?}", t.upstream.url);
        assert!(url.contains("sample-upstream"), "{url}");
    }
}

#[test]
fn the_image_builds_in_stages_and_runs_as_non_root_with_a_health_check() {
    let dockerfile = repo("Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "build stage and runtime stage");
    assert!(froms[0].contains("rust:") && froms[0].ends_with(" AS build"));
    assert!(dockerfile.contains("cargo build --release --locked --bin toolgate"));
    let runtime = &dockerfile[dockerfile.rfind("FROM ").unwrap()..];
    assert!(runtime.contains("COPY --from=build"));
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(!user.starts_with("root") && !user.starts_with('0'));
    assert!(runtime.contains("HEALTHCHECK") && runtime.contains("\"health\""));
    assert!(runtime.contains("\"/etc/toolgate/toolgate.yaml\""));
    let ignore = repo(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target") && ignore.lines().any(|l| l == ".git"));
}

#[tokio::test]
async fn the_health_command_and_the_sample_upstream_work() {
    // Nothing listening: unhealthy.
    let port = free_port();
    let out = toolgate()
        .args([
            "health",
            "--url",
            &format!("http://127.0.0.1:{port}/readyz"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The sample CRM: the one credential it was given, nothing else.
    let credential = canary("crm-");
    let mut child = toolgate()
        .args(["sample-upstream", "--listen", &format!("127.0.0.1:{port}")])
        .env("TOOLGATE_DEV_CRM_KEY", &credential)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let sample = Api::new(format!("http://127.0.0.1:{port}"));
    let (http, url) = (&sample.http, sample.url("/api/v2/leads"));
    let up = sample
        .wait_until_up("/api/v2/leads", std::time::Duration::from_secs(5))
        .await;
    assert!(up, "the sample CRM did not start");
    let wrong = http.get(&url).bearer_auth("not-it").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http
        .post(&url)
        .bearer_auth(&credential)
        .json(&json!({"name": "A", "email": "a@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(right.status().is_success(), "{}", right.status());
    // The health command against a live server.
    let out = toolgate()
        .args([
            "health",
            "--url",
            &format!("http://127.0.0.1:{port}/api/v2/leads"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "401 is not healthy");
    let _ = child.kill();
    let _ = child.wait();
}
