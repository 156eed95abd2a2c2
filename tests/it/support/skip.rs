//! The one skip rule for tests that need an outside server or program:
//! without it the test says why and returns; under
//! `TOOLGATE_REQUIRE_SERVERS=1` (as CI runs) the same absence is a failure.

/// True when a missing server must fail the test instead of skipping it.
pub fn servers_required() -> bool {
    matches!(std::env::var("TOOLGATE_REQUIRE_SERVERS"), Ok(v) if !v.is_empty() && v != "0")
}

/// Report that what a test needs is missing: a failure when servers are
/// required, otherwise a note on stderr (the caller then returns).
pub fn unavailable(msg: &str) {
    assert!(
        !servers_required(),
        "{msg} (TOOLGATE_REQUIRE_SERVERS is set)"
    );
    eprintln!("skipped: {msg}");
}

/// True when `program` is on PATH (it runs with `--version`).
pub fn on_path(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}
