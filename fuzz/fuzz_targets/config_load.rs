//! The configuration loader: `toolgate.yaml`, the manifests and the schemas
//! they name, parsed, validated and bound into the catalog.
//!
//! Input: a directory as one text. What comes before the first marker line
//! is `toolgate.yaml`; each line `#>>> <relative path>` starts another file
//! (`tools/get_lead.yaml`, `schemas/lead.json`, …). The files are written to
//! a directory in memory (`/dev/shm` where there is one) made once per
//! process and emptied before each input. Loading never panics; a loaded
//! configuration's tools export in every format, and every problem prints.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use toolgate::catalog::{Format, export};
use toolgate::fuzzing::load_config_dir;

const MARKER: &[u8] = b"#>>> ";
const MAX_FILES: usize = 12;

/// This process's scratch directory.
static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("toolgate-fuzz-config-{}", std::process::id()))
});

/// A relative path made only of plain names (no `..`, no root), or `None`.
fn relative(name: &[u8]) -> Option<PathBuf> {
    let name = std::str::from_utf8(name).ok()?.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    ok.then(|| PathBuf::from(name))
}

/// The files of one input: (relative path, contents); a file under a name
/// that is not a plain relative path is left out.
fn files(data: &[u8]) -> Vec<(Option<PathBuf>, Vec<u8>)> {
    let mut out = vec![(Some(PathBuf::from("toolgate.yaml")), Vec::new())];
    for line in data.split_inclusive(|&b| b == b'\n') {
        match line.strip_prefix(MARKER) {
            Some(_) if out.len() == MAX_FILES => break,
            Some(name) => out.push((relative(name), Vec::new())),
            None => out
                .last_mut()
                .expect("one file at least")
                .1
                .extend_from_slice(line),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let dir = SCRATCH.as_path();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("the scratch directory can be made");
    for (path, text) in files(data) {
        let Some(path) = path else {
            continue;
        };
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            // A path whose parent is a file already written is skipped.
            if std::fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        let _ = std::fs::write(&path, text);
    }
    match load_config_dir(dir) {
        Ok((loaded, warnings)) => {
            for w in &warnings {
                let _ = w.to_string();
            }
            for workflow in loaded.config.workflows.keys() {
                let tools = loaded
                    .catalog
                    .tools(workflow)
                    .expect("every workflow of a loaded configuration is in its catalog");
                for format in [Format::OpenAi, Format::Anthropic, Format::Native] {
                    let out = serde_json::to_value(export(workflow, tools, format, |_| true))
                        .expect("an export serializes");
                    assert!(out.is_array() || out.is_object());
                }
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "a load failed without a problem");
            for p in &problems {
                let _ = p.to_string();
            }
        }
    }
});
