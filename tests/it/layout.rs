//! The shape of `src/`: its import graph has no cycle, and no file is over
//! 600 lines. The checker itself is tested on small synthetic trees.

use std::collections::BTreeMap;

use crate::support::modgraph::{cycles, describe, graph, read_tree};
use crate::support::repo_root;

const MAX_LINES: usize = 600;

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

fn cycles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    cycles(&graph(&tree(files)))
}

#[test]
fn the_checker_finds_a_cycle_through_use_and_inline_paths() {
    let found = cycles_of(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        // An inline path two levels deep, in code.
        ("b.rs", "pub fn f() { crate::c::g::h(); }\n"),
        ("c.rs", "pub mod g;\n"),
        ("c/g.rs", "use super::super::a::{self, X};\n"),
    ]);
    assert_eq!(
        found,
        [vec!["crate::a", "crate::b", "crate::c::g"]],
        "{found:?}"
    );
}

#[test]
fn a_re_export_of_a_descendant_is_the_module_s_face_not_an_edge() {
    // `store` re-exports its children and they use its trait: no cycle.
    let facade = cycles_of(&[
        ("lib.rs", "pub mod store;\n"),
        (
            "store/mod.rs",
            "mod file;\npub use file::FileStore;\npub(crate) use self::file::open;\npub trait Store {}\n",
        ),
        (
            "store/file.rs",
            "use crate::store::Store;\npub struct FileStore;\n",
        ),
    ]);
    assert!(facade.is_empty(), "{facade:?}");
    // A module that *uses* its child for its own code, while the child uses it, is a cycle.
    let used = cycles_of(&[
        ("lib.rs", "pub mod store;\n"),
        (
            "store/mod.rs",
            "mod file;\nuse file::FileStore;\npub trait Store {}\n",
        ),
        (
            "store/file.rs",
            "use crate::store::Store;\npub struct FileStore;\n",
        ),
    ]);
    assert_eq!(
        used,
        [vec!["crate::store", "crate::store::file"]],
        "{used:?}"
    );
}

#[test]
fn the_checker_passes_an_acyclic_tree_and_ignores_comments_strings_and_mod_declarations() {
    let g = graph(&tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\nuse a::Top;\n"),
        (
            "a.rs",
            "//! Uses crate::b in prose only.\nuse crate::b::{Leaf, deeper::{One, Two as Three}};\n\
             /* crate::lib_thing() */ const S: &str = \"crate::b\";\nconst R: &str = r#\"super::b \"x\"\"#;\n\
             fn f<'a>(c: char) -> bool { c == '{' }\n",
        ),
        (
            "b.rs",
            "// use crate::a::Top;\nconst T: &str = \"use crate::a\";\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use self::inner::X;\n    mod inner { pub struct X; }\n}\n",
        ),
    ]));
    assert!(cycles(&g).is_empty(), "{}", describe(&g, &cycles(&g)));
    // The edges that are there: the library root on `a` (`use a::Top`), `a` on `b`.
    let edges: Vec<(&str, Vec<&str>)> = g
        .edges
        .iter()
        .map(|(f, to)| (f.as_str(), to.keys().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        edges,
        [("crate", vec!["crate::a"]), ("crate::a", vec!["crate::b"])]
    );
}

#[test]
fn a_child_naming_its_parent_is_an_edge_and_mod_rs_is_its_directory() {
    let files = [
        ("lib.rs", "pub mod p;\n"),
        (
            "p/mod.rs",
            "mod c;\npub struct Thing;\nfn f() { c::run() }\nuse crate::p::c::Helper;\n",
        ),
        ("p/c.rs", "pub fn run() -> super::Thing { super::Thing }\n"),
    ];
    let g = graph(&tree(&files));
    let found = cycles(&g);
    assert_eq!(found, [vec!["crate::p", "crate::p::c"]], "{found:?}");
    let text = describe(&g, &found);
    assert!(
        text.contains("crate::p::c -> crate::p: src/p/c.rs:1 crate::p::Thing"),
        "{text}"
    );
    assert!(
        text.contains("crate::p -> crate::p::c: src/p/mod.rs:4 crate::p::c::Helper"),
        "{text}"
    );
    // Without the parent's use of the child, no cycle.
    let files = [
        files[0],
        ("p/mod.rs", "mod c;\npub struct Thing;\n"),
        files[2],
    ];
    assert!(cycles_of(&files).is_empty());
}

#[test]
fn main_is_a_root_of_its_own_that_uses_the_library_by_name() {
    let g = graph(&tree(&[
        ("lib.rs", "pub mod a;\n"),
        ("a.rs", "pub fn f() {}\n"),
        (
            "main.rs",
            "use toolgate::a;\nfn main() { toolgate::a::f(); crate::helper(); }\nfn helper() {}\n",
        ),
    ]));
    assert_eq!(
        g.edges["main"].keys().collect::<Vec<_>>(),
        ["crate::a"],
        "{:?}",
        g.edges
    );
    assert!(cycles(&g).is_empty());
}

#[test]
fn the_import_graph_of_src_has_no_cycle() {
    let g = graph(&read_tree(&repo_root().join("src")));
    assert!(
        g.files.contains_key("crate::pipeline"),
        "{:?}",
        g.files.keys()
    );
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "the import graph of src/ has {} cycle(s); break each by moving what both sides need \
         into a module of its own, or by passing it in:\n{}",
        found.len(),
        describe(&g, &found)
    );
}

#[test]
fn no_src_file_is_over_600_lines() {
    let over: Vec<String> = read_tree(&repo_root().join("src"))
        .iter()
        .map(|(path, text)| (path, text.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(path, n)| format!("src/{path}: {n} lines"))
        .collect();
    assert!(
        over.is_empty(),
        "files over {MAX_LINES} lines (split them by responsibility):\n{}",
        over.join("\n")
    );
}
