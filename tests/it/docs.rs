//! The README stays true to the tree: its development map names every file
//! under `src/` and nothing that is not there, and "How a call flows" lists
//! the stages of `src/pipeline.rs` in the order the code runs them.

use std::collections::BTreeSet;

use crate::support::modgraph::read_tree;
use crate::support::repo_root;

const MAP_BEGIN: &str = "<!-- map:begin -->";
const MAP_END: &str = "<!-- map:end -->";

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text between the one `begin` marker and the `end` marker after it.
fn between<'a>(text: &'a str, begin: &str, end: &str) -> &'a str {
    assert_eq!(
        text.matches(begin).count(),
        1,
        "README.md must hold {begin} exactly once"
    );
    let start = text.find(begin).unwrap() + begin.len();
    let len = text[start..]
        .find(end)
        .unwrap_or_else(|| panic!("README.md: no {end} after {begin}"));
    &text[start..start + len]
}

/// The lines of the `## heading` section, up to the next `## ` heading.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| l.trim() != heading);
    assert!(
        lines.next().is_some(),
        "README.md has no {heading:?} section"
    );
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// Every `src/….rs` path written out in `text`.
fn src_paths(text: &str) -> BTreeSet<String> {
    let is_path = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("src/") {
        if text[..at].chars().next_back().is_some_and(is_path) {
            continue; // part of a longer path, such as `tests/src/`
        }
        let rest = &text[at..];
        let token = &rest[..rest.find(|c| !is_path(c)).unwrap_or(rest.len())];
        let token = token.trim_end_matches('.');
        if token.ends_with(".rs") {
            found.insert(token.to_owned());
        }
    }
    found
}

/// A stage's name as both files may spell it: `rate_limit`, `rate limit`.
fn normal(name: &str) -> String {
    name.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_ascii_lowercase()
        .replace(['_', '-'], " ")
}

/// `N. text` at the start of `line`: the number and the text after it.
fn numbered(line: &str) -> Option<(u32, &str)> {
    let (n, rest) = line.split_once(". ")?;
    Some((n.parse().ok()?, rest))
}

/// The first word of `text`, as a stage name.
fn first_word(text: &str) -> Option<String> {
    text.split_whitespace().next().map(normal)
}

/// The stages the module doc of `src/pipeline.rs` draws, `//!  N. name …`.
fn drawn_stages(pipeline: &str) -> Vec<(u32, String)> {
    pipeline
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .filter_map(|l| numbered(l.trim_start()))
        .filter_map(|(n, rest)| Some((n, first_word(rest)?)))
        .collect()
}

/// The stage numbers the code of `src/pipeline.rs` marks, in the order they
/// appear: `// N.` comments, and `/// Stage N, name` on a stage's function
/// (with that name).
fn marked_stages(pipeline: &str) -> Vec<(u32, Option<String>)> {
    let mut marks = Vec::new();
    for line in pipeline.lines().map(str::trim_start) {
        if let Some(rest) = line.strip_prefix("/// Stage ") {
            let (n, name) = rest.split_once(", ").unwrap_or((rest, ""));
            if let Ok(n) = n.parse() {
                marks.push((n, first_word(name)));
            }
        } else if let Some(rest) = line.strip_prefix("// ")
            && let Some((n, _)) = numbered(rest).or_else(|| {
                let n = rest.strip_suffix('.')?.parse().ok()?;
                Some((n, ""))
            })
        {
            marks.push((n, None));
        }
    }
    marks
}

#[test]
fn the_development_map_names_every_file_under_src_and_no_other() {
    let readme = read("README.md");
    let mapped = src_paths(between(&readme, MAP_BEGIN, MAP_END));
    let present: BTreeSet<String> = read_tree(&repo_root().join("src"))
        .into_keys()
        .map(|p| format!("src/{p}"))
        .collect();
    let missing: Vec<&String> = present.difference(&mapped).collect();
    let stale: Vec<&String> = mapped.difference(&present).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's development map ({MAP_BEGIN} … {MAP_END}) is out of date\n\
         missing (files under src/ the map does not name): {missing:#?}\n\
         stale (paths in the map that do not exist): {stale:#?}"
    );
}

#[test]
fn how_a_call_flows_lists_the_stages_of_the_pipeline_in_order() {
    let pipeline = read("src/pipeline.rs");
    let drawn = drawn_stages(&pipeline);
    let numbers: Vec<u32> = drawn.iter().map(|(n, _)| *n).collect();
    assert!(
        drawn.len() >= 5 && numbers == (1..=drawn.len() as u32).collect::<Vec<_>>(),
        "src/pipeline.rs's module doc should draw the stages as `//!  N. name`, numbered \
         from 1: {drawn:?}"
    );

    // The code marks the same stages, in the same order, with the same names.
    let marks = marked_stages(&pipeline);
    let mut order: Vec<u32> = marks.iter().map(|(n, _)| *n).collect();
    assert!(
        order.is_sorted(),
        "the stage comments of src/pipeline.rs are out of order: {order:?}"
    );
    order.dedup();
    assert_eq!(
        order, numbers,
        "src/pipeline.rs: the `// N.` stage comments do not mark every drawn stage"
    );
    for (n, name) in marks.iter().filter_map(|(n, m)| Some((n, m.as_ref()?))) {
        let drawn_name = &drawn[*n as usize - 1].1;
        assert_eq!(
            name, drawn_name,
            "src/pipeline.rs: `/// Stage {n}` names another stage than the drawing"
        );
    }

    // README: `N. **name** — …` at the start of a line.
    let readme = read("README.md");
    let listed: Vec<(u32, String)> = section(&readme, "## How a call flows")
        .into_iter()
        .filter_map(|l| numbered(l))
        .filter_map(|(n, rest)| {
            let name = rest.strip_prefix("**")?;
            let name = &name[..name.find("**")?];
            Some((n, normal(name)))
        })
        .collect();
    assert_eq!(
        listed, drawn,
        "README.md's \"How a call flows\" does not list the stages of src/pipeline.rs \
         (number, name) in order"
    );
}

#[test]
fn the_parsers_read_what_they_are_meant_to() {
    let text = "see src/a.rs, `src/b/c.rs`; src/dir/ and tests/src/no.rs. src/d.rs.";
    let found: Vec<String> = src_paths(text).into_iter().collect();
    assert_eq!(found, ["src/a.rs", "src/b/c.rs", "src/d.rs"]);

    let pipeline = "//! ```text\n//!  1. authenticate  ─┐\n//!  2. rate_limit   │\n\
                    //!  3. run:  credential ─▶ shape\n//! ```\n\
                    fn stages() {\n    // 1. Who is asking.\n    // 2.\n    // not 3. a stage\n}\n\
                    /// Stage 3, run: attach, send.\nfn run() {}\n";
    assert_eq!(
        drawn_stages(pipeline),
        [
            (1, "authenticate".to_owned()),
            (2, "rate limit".to_owned()),
            (3, "run".to_owned())
        ]
    );
    assert_eq!(
        marked_stages(pipeline),
        [(1, None), (2, None), (3, Some("run".to_owned()))]
    );
    assert_eq!(normal("**Rate-Limit**"), "rate limit");
}
