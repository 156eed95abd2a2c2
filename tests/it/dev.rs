//! `toolgate dev` as a newcomer runs it, from its banner: a small lead is
//! created, a big one is held, the banner's approver key signs in to the
//! console it names and approves the action over the API, and the agent's
//! long-poll returns the result.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::ConfigDir;
use crate::support::http::Api;
use crate::support::process::{free_port, toolgate};

/// A running `toolgate dev` and the banner it printed.
struct Dev {
    child: Child,
    banner: String,
    api: Api,
}

impl Dev {
    async fn start() -> Dev {
        let port = free_port();
        let logs = ConfigDir::new();
        let log = logs.path().join("toolgate.log");
        #[allow(clippy::zombie_processes)] // waited for in Drop
        let mut child = toolgate()
            .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn toolgate dev");
        let stdout = child.stdout.take().expect("piped stdout");
        // The banner ends with the long-poll line; read up to it, then keep
        // reading, so that the process never writes to a closed pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                banner.push_str(&line);
                banner.push('\n');
                if line.contains("?wait=30") {
                    let _ = tx.send(std::mem::take(&mut banner));
                }
            }
            let _ = tx.send(banner);
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("toolgate dev printed its banner");
        let api = Api::new(format!("http://127.0.0.1:{port}"));
        let log = || std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            banner.contains("?wait=30"),
            "toolgate dev stopped before its banner:\n{banner}\n{}",
            log()
        );
        assert!(
            api.wait_until_up("/healthz", Duration::from_secs(30)).await,
            "toolgate dev did not answer:\n{}",
            log()
        );
        Dev { child, banner, api }
    }

    /// The last word of the banner line that starts with `label`.
    fn value(&self, label: &str) -> String {
        self.banner
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no {label} in the banner:\n{}", self.banner))
            .to_owned()
    }

    /// The console's address, as the banner prints it.
    fn console(&self) -> String {
        let line = self
            .banner
            .lines()
            .find(|l| l.trim_start().starts_with("console"))
            .unwrap_or_else(|| panic!("no console in the banner:\n{}", self.banner));
        line.split_whitespace().nth(1).unwrap().to_owned()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // SIGTERM, so that dev mode removes the files it wrote.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn lead(name: &str, value_usd: u64) -> Value {
    json!({"tool": "create_lead", "arguments": {
        "name": name, "email": "cfo@example.com", "source": "chat", "value_usd": value_usd}})
}

#[tokio::test]
async fn dev_holds_a_big_lead_until_the_banners_approver_approves_it() {
    let dev = Dev::start().await;
    let agent = dev.value("agent key");
    let approver = dev.value("approver key");
    assert!(agent.starts_with("tg_agent_"), "{}", dev.banner);
    assert!(approver.starts_with("tg_approver_"), "{}", dev.banner);
    assert_eq!(dev.console(), dev.api.url("/ui/"));

    // A small lead goes straight through.
    let (st, small, _) = dev.api.call(&agent, lead("Small Co", 1200)).await;
    assert_eq!(st, 200, "{small}");
    assert_eq!(small["status"], "succeeded");
    let lead_id = small["result"]["id"].as_str().unwrap().to_owned();

    // Above 10,000 USD, and marking a lead lost, wait for a person.
    let (st, held, _) = dev.api.call(&agent, lead("Big Co", 40_000)).await;
    assert_eq!(st, 202, "{held}");
    assert_eq!(held["status"], "pending_approval");
    let id = held["action_id"].as_str().unwrap().to_owned();
    let lost =
        json!({"tool": "update_lead_status", "arguments": {"lead_id": lead_id, "status": "lost"}});
    let (st, body, _) = dev.api.call(&agent, lost).await;
    assert_eq!(st, 202, "{body}");
    let moved = json!({"tool": "update_lead_status", "arguments": {"lead_id": lead_id, "status": "contacted"}});
    let (st, body, _) = dev.api.call(&agent, moved).await;
    assert_eq!(st, 200, "{body}");

    // The console the banner names takes the approver key and shows the action.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let console = dev.console();
    let r = browser
        .post(format!("{console}login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("key", approver.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the approver key signs in");
    let queue = browser.get(&console).send().await.unwrap();
    assert_eq!(queue.status(), 200);
    let html = queue.text().await.unwrap();
    assert!(html.contains(&id), "the queue lists the held action");

    // The agent long-polls while the approver decides.
    let poll = {
        let api = dev.api.clone();
        let path = format!("/v1/calls/{id}?wait=30");
        let agent = agent.clone();
        tokio::spawn(async move { api.get(Some(&agent), &path).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, body) = dev
        .api
        .post_json(
            &approver,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "confirmed with the account owner"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let (st, outcome) = poll.await.unwrap();
    assert_eq!(st, 200, "{outcome}");
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    assert_eq!(outcome["result"]["name"], "Big Co");
}
