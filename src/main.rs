//! The `toolgate` command line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use toolgate::config::{self, Diagnostic, Severity};
use toolgate::identity::{self, Role};
use toolgate::redact::{Redactor, SharedRedactor};
use toolgate::secrets::{EnvSource, MapEnv, ProcessEnv};
use toolgate::{Gateway, catalog, dev, server, telemetry};

/// mimalloc: under many concurrent small allocations (JSON values, headers)
/// glibc's allocator spent a quarter of the gateway's CPU, much of it on locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "toolgate",
    version,
    about = "A credential-brokering gateway between LLM orchestrators and the APIs their agents act on"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway.
    Serve {
        #[arg(long, env = "TOOLGATE_CONFIG", default_value = "toolgate.yaml")]
        config: PathBuf,
        /// Override the config's listen address.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Exit 0 when a toolgate answers 200 at the URL (a container health check).
    Health {
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
    /// Serve only the sample CRM that `dev` uses (for docker-compose); it
    /// accepts `Bearer <TOOLGATE_DEV_CRM_KEY>`.
    SampleUpstream {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
    /// Print the HTTP API's OpenAPI 3.1 document (what `GET /openapi.json` serves).
    Openapi,
    /// Run a complete local setup: bundled examples, a sample upstream and fresh keys.
    Dev {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Load and validate the configuration, report every problem and lint.
    Check {
        #[arg(long, env = "TOOLGATE_CONFIG", default_value = "toolgate.yaml")]
        config: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Also answer the pre-production checklist (pass / warn / fail).
        #[arg(long)]
        production: bool,
    },
    /// Generate a key for an agent, approver or admin; prints it once with its config line.
    Keygen {
        #[arg(long, value_parser = ["agent", "approver", "admin"])]
        role: String,
        #[arg(long)]
        name: String,
        /// The workflow of an agent (or of an approver), for the config line.
        #[arg(long)]
        workflow: Option<String>,
    },
    /// Granted vs. used access per agent (from the audit trail); credential age, use and over-privilege.
    AccessReview {
        #[arg(long, env = "TOOLGATE_CONFIG", default_value = "toolgate.yaml")]
        config: PathBuf,
        /// How far back to read the trail (e.g. 90d, 30d, 12h).
        #[arg(long, default_value = "90d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: Box<AuditCommand>,
    },
    /// Tool definitions.
    Tools {
        #[command(subcommand)]
        command: ToolsCommand,
    },
    /// Model Context Protocol clients.
    Mcp {
        #[command(subcommand)]
        command: toolgate::mcp_stdio::Command,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check a trail: every record's hash, sequence and link. Exit 0 only when intact.
    Verify {
        /// Trail files in order; rotated siblings of a live file are included
        /// before it. Or one `redis://` (or `rediss://`) URL, with `--environment`, for a Redis trail;
        /// for a Redis Cluster, its nodes' URLs joined by commas (`redis://a:7000,redis://b:7001`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The environment whose Redis trail to read (with a `redis://` URL).
        #[arg(long)]
        environment: Option<String>,
        /// Of a Redis trail with per-replica chains, only this replica's chain
        /// (all are verified without it).
        #[arg(long, value_name = "REPLICA")]
        chain: Option<String>,
        /// CA certificates (PEM) to verify a `rediss://` server with, instead of the system's.
        #[arg(long)]
        redis_ca: Option<PathBuf>,
        /// A client certificate and its key (PEM) for a `rediss://` server that asks for one.
        #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
        redis_client_cert: Option<Vec<PathBuf>>,
        /// The Redis ACL user, in place of the URL's.
        #[arg(long, value_name = "USER")]
        redis_user: Option<String>,
        /// Environment variable holding the Redis password (so it is not in the URL, or the shell history).
        #[arg(long, value_name = "VAR", conflicts_with = "redis_password_file")]
        redis_password_env: Option<String>,
        /// File holding the Redis password.
        #[arg(long, value_name = "FILE")]
        redis_password_file: Option<PathBuf>,
        /// Environment variable holding the audit HMAC key (for a keyed trail).
        #[arg(long)]
        key_env: Option<String>,
        /// File holding the audit HMAC key (for a keyed trail).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// A checkpoints file (`<trail>.checkpoints`, or saved heads): the trail must reach each one unchanged.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The hex Ed25519 public key that must have signed the checkpoints.
        #[arg(long)]
        public_key: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ToolsCommand {
    /// Print a workflow's callable tools in a model API's format.
    Export {
        #[arg(long, env = "TOOLGATE_CONFIG", default_value = "toolgate.yaml")]
        config: PathBuf,
        #[arg(long)]
        workflow: String,
        #[arg(long, default_value = "openai", value_parser = ["openai", "anthropic", "native"])]
        format: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            config,
            deny_warnings,
            production,
        } => check(&config, deny_warnings, production),
        Command::Keygen {
            role,
            name,
            workflow,
        } => keygen(&role, &name, workflow.as_deref()),
        Command::Tools {
            command:
                ToolsCommand::Export {
                    config,
                    workflow,
                    format,
                },
        } => export(&config, &workflow, &format),
        Command::Serve { config, listen } => run(serve(config, listen)),
        Command::Mcp { command } => command.run(),
        Command::Audit { command } => match *command {
            AuditCommand::Verify {
                paths,
                environment,
                chain,
                redis_ca,
                redis_client_cert,
                redis_user,
                redis_password_env,
                redis_password_file,
                key_env,
                key_file,
                checkpoint,
                public_key,
                json,
            } => {
                let password = match redis_password(redis_password_env, redis_password_file) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("toolgate: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let intact = toolgate::audit::command::verify(&toolgate::audit::command::Verify {
                    paths: &paths,
                    environment: environment.as_deref(),
                    chain: chain.as_deref(),
                    redis: &toolgate::store::RedisOptions {
                        ca: redis_ca,
                        client: redis_client_cert.map(|mut p| {
                            let key = p.pop().unwrap_or_default();
                            (p.pop().unwrap_or_default(), key)
                        }),
                        username: redis_user,
                        password,
                    },
                    key_env: key_env.as_deref(),
                    key_file: key_file.as_deref(),
                    checkpoint: checkpoint.as_deref(),
                    public_key: public_key.as_deref(),
                    json,
                });
                if intact {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
        },
        Command::Dev { listen } => run(dev_mode(listen)),
        Command::Openapi => {
            println!("{}", toolgate::openapi_document());
            ExitCode::SUCCESS
        }
        Command::Health { url } => health(&url),
        Command::SampleUpstream { listen } => run(sample_upstream(listen)),
        Command::AccessReview {
            config,
            since,
            json,
        } => access_review(&config, &since, json),
    }
}

fn access_review(path: &Path, since: &str, json: bool) -> ExitCode {
    let Ok(since) = humantime::parse_duration(since) else {
        eprintln!("toolgate: --since takes a duration such as 90d or 12h");
        return ExitCode::FAILURE;
    };
    let Some((config, _)) = load_or_report(path) else {
        return ExitCode::FAILURE;
    };
    let review = match toolgate::access_review::review_configured(
        &config.config,
        &config.catalog,
        since,
        SystemTime::now(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("toolgate: cannot read the audit trail: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        match serde_json::to_string_pretty(&review) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("toolgate: cannot encode the review: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", toolgate::access_review::render(&review));
    }
    ExitCode::SUCCESS
}

fn run(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    // TOOLGATE_WORKER_THREADS overrides the default of one worker per core.
    if let Some(n) = std::env::var("TOOLGATE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder.worker_threads(n);
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("toolgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("toolgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn load_or_report(path: &Path) -> Option<(catalog::Loaded, Vec<Diagnostic>)> {
    match catalog::load(path) {
        Ok(ok) => Some(ok),
        Err(diags) => {
            print_diagnostics(&diags);
            let n = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            eprintln!("toolgate: {n} error(s) in the configuration");
            None
        }
    }
}

fn check(path: &Path, deny_warnings: bool, production: bool) -> ExitCode {
    let Some((loaded, mut diags)) = load_or_report(path) else {
        return ExitCode::FAILURE;
    };
    let config = &loaded.config;
    diags.extend(config::lint::lint(config, &ProcessEnv, SystemTime::now()));
    print_diagnostics(&diags);
    let mut warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let mut failed = false;
    if production {
        use config::production::Verdict;
        println!("production checklist:");
        for i in config::production::checklist(config) {
            println!("  {}  {}: {}", i.verdict.as_str(), i.question, i.reason);
            warnings += usize::from(i.verdict == Verdict::Warn);
            failed |= i.verdict == Verdict::Fail;
        }
    }
    let tools = loaded.catalog.len();
    println!(
        "ok: environment {}, {} tool(s), {} workflow(s) ({} callable tool binding(s)), {} credential(s), {} warning(s)",
        config.environment,
        config.tools.len(),
        config.workflows.len(),
        tools,
        config.credentials.len(),
        warnings
    );
    if failed {
        eprintln!("toolgate: not ready for production (a checklist item failed)");
        return ExitCode::FAILURE;
    }
    if deny_warnings && warnings > 0 {
        eprintln!("toolgate: warnings denied (--deny-warnings)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn keygen(role: &str, name: &str, workflow: Option<&str>) -> ExitCode {
    let Some(role) = Role::parse(role) else {
        return ExitCode::FAILURE;
    };
    let key = identity::generate_key(role);
    println!(
        "key (shown once; give it to the {} and store it as a secret):",
        role.as_str()
    );
    println!("  {key}");
    println!();
    println!("config (toolgate.yaml holds only the key's SHA-256):");
    println!("{}", identity::config_line(role, name, &key, workflow));
    ExitCode::SUCCESS
}

fn export(path: &Path, workflow: &str, format: &str) -> ExitCode {
    let Some((loaded, _)) = load_or_report(path) else {
        return ExitCode::FAILURE;
    };
    let Some(tools) = loaded.catalog.tools(workflow) else {
        eprintln!("toolgate: no workflow named {workflow}");
        return ExitCode::FAILURE;
    };
    let format = catalog::Format::parse(format).unwrap_or(catalog::Format::OpenAi);
    match serde_json::to_string_pretty(&catalog::export(workflow, tools, format, |_| true)) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::FAILURE,
    }
}

fn log_json() -> bool {
    std::env::var("TOOLGATE_LOG_FORMAT").is_ok_and(|v| v == "json")
}

async fn serve(path: PathBuf, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let redactor = Arc::new(SharedRedactor::new(Redactor::empty()));
    let Some((config, warnings)) = load_or_report(&path) else {
        telemetry::init(redactor, log_json(), None);
        anyhow::bail!("refusing to start with an invalid configuration");
    };
    // Traces are set up with the log, before anything is logged; their
    // header values are known to the redactor before anything is served.
    let traces =
        match telemetry::Traces::start(&config.config.telemetry, &ProcessEnv, redactor.clone()) {
            Ok(t) => t,
            Err(e) => {
                telemetry::init(redactor, log_json(), None);
                return Err(e.context("refusing to start: the trace export is misconfigured"));
            }
        };
    telemetry::init(redactor.clone(), log_json(), traces.as_ref());
    print_diagnostics(&warnings);
    let addr = listen.unwrap_or(config.config.listen);
    let gw = Gateway::new(config, Arc::new(ProcessEnv), redactor)?;
    if let Some(t) = &traces {
        t.known_to(&gw.credentials);
    }
    let listener = server::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, environment = %gw.config.environment, "toolgate serving");
    let served = server::serve(gw, listener, server::shutdown_signal()).await;
    if let Some(t) = traces {
        t.shutdown().await;
    }
    served?;
    Ok(())
}

fn health(url: &str) -> ExitCode {
    let check = async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(3))
            .build()?;
        client.get(url).send().await?.error_for_status()?;
        Ok::<(), reqwest::Error>(())
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match rt.map(|rt| rt.block_on(check)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("toolgate: not healthy: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("toolgate: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn sample_upstream(listen: SocketAddr) -> anyhow::Result<()> {
    let redactor = Arc::new(SharedRedactor::new(Redactor::empty()));
    telemetry::init(redactor, log_json(), None);
    let credential = std::env::var(dev::EXAMPLE_CREDENTIAL_VAR).map_err(|_| {
        anyhow::anyhow!(
            "set {} to the credential the sample CRM accepts",
            dev::EXAMPLE_CREDENTIAL_VAR
        )
    })?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "sample CRM serving");
    axum::serve(listener, dev::sample_upstream(&credential))
        .with_graceful_shutdown(server::shutdown_signal())
        .await?;
    Ok(())
}

async fn dev_mode(listen: SocketAddr) -> anyhow::Result<()> {
    let redactor = Arc::new(SharedRedactor::new(Redactor::empty()));
    telemetry::init(redactor.clone(), log_json(), None);
    let keys = dev::mint_keys();
    let upstream_listener = dev::bind_sample_upstream().await?;
    let upstream_addr = upstream_listener.local_addr()?;
    let sample = dev::sample_upstream(&keys.upstream_credential);
    tokio::spawn(async move {
        let _ = axum::serve(upstream_listener, sample).await;
    });
    let dir = std::env::temp_dir().join(format!("toolgate-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dev::write_examples(&dir, upstream_addr, &keys)?;
    let Some((config, _)) = load_or_report(&path) else {
        anyhow::bail!("the bundled examples do not load");
    };
    let env: Arc<dyn EnvSource> = Arc::new(MapEnv::new(HashMap::from([(
        dev::EXAMPLE_CREDENTIAL_VAR.to_owned(),
        keys.upstream_credential.clone(),
    )])));
    let gw = Gateway::new(config, env, redactor)?;
    let listener = server::bind(listen).await?;
    println!(
        "{}",
        dev::banner(listener.local_addr()?, upstream_addr, &dir, &keys)
    );
    server::serve(gw, listener, server::shutdown_signal()).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The Redis password for `audit verify`, from a variable or a file (a
/// trailing newline dropped), never from the command line itself.
fn redis_password(
    env: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<secrecy::SecretString>, String> {
    if let Some(var) = env {
        return match std::env::var(&var) {
            Ok(p) if !p.is_empty() => Ok(Some(p.into())),
            _ => Err(format!("--redis-password-env: {var} is not set")),
        };
    }
    let Some(path) = file else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(p) => {
            let p = p.strip_suffix('\n').unwrap_or(&p);
            let p = p.strip_suffix('\r').unwrap_or(p);
            Ok(Some(p.to_owned().into()))
        }
        Err(e) => Err(format!(
            "--redis-password-file: cannot read {}: {}",
            path.display(),
            e.kind()
        )),
    }
}
