//! The import graph of a crate's source tree, and its cycles.
//!
//! Each file under `src/` is a node named by its module path (`src/a/b.rs`
//! and `src/a/b/mod.rs` are `crate::a::b`; `src/lib.rs` is `crate`;
//! `src/main.rs` is a crate root of its own, `main`, that reaches the
//! library as `toolgate::`). A file has an edge to every module file it
//! refers to: `use crate::…`, `use super::…`, `use self::…`, `use child::…`
//! (a module declared in that file), grouped `use` trees, and inline paths
//! such as `crate::x::y::f(..)` or `super::Thing`; each reference goes to
//! the deepest module file that exists on its path. Comments, string and
//! char literals are skipped; `mod x;` declarations are not edges; inline
//! `mod x { … }` blocks count for `self`/`super` but belong to their file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One reference: where it is and what it names.
#[derive(Debug, Clone)]
pub struct Reference {
    pub line: usize,
    pub path: String,
}

/// Module files and the references between them.
#[derive(Debug, Default)]
pub struct Graph {
    /// Module path of each file node → its file (relative to the tree root).
    pub files: BTreeMap<String, String>,
    /// from node → to node → the references that make the edge.
    pub edges: BTreeMap<String, BTreeMap<String, Vec<Reference>>>,
}

/// Read every `.rs` file under `root` (e.g. the crate's `src/`) as
/// `relative path → text`.
pub fn read_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(root).unwrap();
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The module path of a file (relative to `src/`), as segments.
fn module_of(rel: &str) -> Vec<String> {
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    match stem {
        "lib" => return vec!["crate".to_owned()],
        "main" => return vec!["main".to_owned()],
        _ => {}
    }
    let mut segs = vec!["crate".to_owned()];
    segs.extend(stem.split('/').map(str::to_owned));
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path, // ::
    Punct(char),
}

/// Tokens with their line numbers; comments and literals removed.
fn tokenize(src: &str) -> Vec<(usize, Tok)> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let newlines = |from: usize, to: usize| c[from..to].iter().filter(|&&x| x == '\n').count();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0usize);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += newlines(start, i.min(c.len()));
        } else if ch == '"' || ((ch == 'r' || ch == 'b') && raw_or_byte_string(&c, i)) {
            let start = i;
            i = skip_string(&c, i);
            line += newlines(start, i.min(c.len()));
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // `$crate` in macros is not this file's reference.
            if start > 0 && c[start - 1] == '$' {
                continue;
            }
            out.push((line, Tok::Ident(word)));
        } else if ch == ':' && next == Some(':') {
            out.push((line, Tok::Path));
            i += 2;
        } else {
            out.push((line, Tok::Punct(ch)));
            i += 1;
        }
    }
    out
}

/// At `i`: `r"`, `r#"`, `b"`, `br"`, `br#"`?
fn raw_or_byte_string(c: &[char], i: usize) -> bool {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return false;
    }
    let mut j = i;
    if c[j] == 'b' {
        j += 1;
        if c.get(j) == Some(&'"') {
            return true;
        }
    }
    if c.get(j) != Some(&'r') {
        return false;
    }
    j += 1;
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    c.get(j) == Some(&'"')
}

/// The index after the string literal starting at `i`.
fn skip_string(c: &[char], mut i: usize) -> usize {
    if c[i] == 'b' {
        i += 1;
    }
    if c[i] == 'r' {
        i += 1;
        let mut hashes = 0;
        while c[i] == '#' {
            hashes += 1;
            i += 1;
        }
        i += 1; // the opening quote
        while i < c.len() {
            if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                return i + 1 + hashes;
            }
            i += 1;
        }
        return i;
    }
    i += 1;
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Expand a `use` tree starting at `toks[i]` into full paths (as written);
/// returns the paths and the index after the tree.
fn use_tree(toks: &[(usize, Tok)], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut path = prefix.to_vec();
    let mut out = Vec::new();
    loop {
        match toks.get(i).map(|t| &t.1) {
            Some(Tok::Ident(w)) if w == "as" => {
                i += 2; // `as name`
            }
            Some(Tok::Ident(w)) => {
                if w != "self" || path.is_empty() {
                    path.push(w.clone());
                }
                i += 1;
            }
            Some(Tok::Path | Tok::Punct('*')) => i += 1,
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.1) {
                        Some(Tok::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => i += 1,
                        None => break,
                        _ => {
                            let (paths, j) = use_tree(toks, i, &path);
                            out.extend(paths);
                            i = j;
                        }
                    }
                }
                return (out, i);
            }
            _ => {
                out.push(path);
                return (out, i);
            }
        }
    }
}

/// The modules a file declares (`mod x;` and `mod x { … }`, nested), as
/// absolute paths, and which of them are inline.
fn declared_modules(
    module: &[String],
    toks: &[(usize, Tok)],
) -> (BTreeSet<Vec<String>>, Vec<Vec<String>>) {
    let (mut declared, mut inline) = (BTreeSet::new(), Vec::new());
    let mut scope = Scope::new(module);
    for (k, t) in toks.iter().enumerate() {
        if let (Tok::Ident(w), Some((_, Tok::Ident(name)))) = (&t.1, toks.get(k + 1))
            && w == "mod"
        {
            let mut p = scope.path.clone();
            p.push(name.clone());
            declared.insert(p.clone());
            if let Some((_, Tok::Punct('{'))) = toks.get(k + 2) {
                inline.push(p);
            }
        }
        scope.step(toks, k);
    }
    (declared, inline)
}

/// The module the code at a token is in, inline `mod x { … }` included.
struct Scope {
    path: Vec<String>,
    depth: usize,
    /// The brace depth inside each open inline module.
    opened: Vec<usize>,
    /// An inline module whose `{` is the next brace.
    pending: Option<String>,
}

impl Scope {
    fn new(module: &[String]) -> Scope {
        Scope {
            path: module.to_vec(),
            depth: 0,
            opened: Vec::new(),
            pending: None,
        }
    }

    /// Account for token `k` (after it has been looked at).
    fn step(&mut self, toks: &[(usize, Tok)], k: usize) {
        match &toks[k].1 {
            Tok::Ident(w) if w == "mod" => {
                if let (Some((_, Tok::Ident(name))), Some((_, Tok::Punct('{')))) =
                    (toks.get(k + 1), toks.get(k + 2))
                {
                    self.pending = Some(name.clone());
                }
            }
            Tok::Punct('{') => {
                self.depth += 1;
                if let Some(name) = self.pending.take() {
                    self.path.push(name);
                    self.opened.push(self.depth);
                }
            }
            Tok::Punct('}') => {
                if self.opened.last() == Some(&self.depth) {
                    self.opened.pop();
                    self.path.pop();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ => {}
        }
    }
}

/// Build the graph of a tree given as `relative path → text`.
pub fn graph(tree: &BTreeMap<String, String>) -> Graph {
    let mut g = Graph::default();
    // Every module (file or inline) → the file node it lives in.
    let mut modules: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let mut parsed = Vec::new();
    for (rel, text) in tree {
        let m = module_of(rel);
        let node = m.join("::");
        g.files.insert(node.clone(), rel.clone());
        modules.insert(m.clone(), node.clone());
        let toks = tokenize(text);
        let (declared, inline) = declared_modules(&m, &toks);
        for p in inline {
            modules.insert(p, node.clone());
        }
        parsed.push((m, node, toks, declared));
    }
    for (m, node, toks, declared) in &parsed {
        for (line, path) in references(m, toks, declared) {
            // The deepest existing module on the path.
            let target = (1..=path.len())
                .rev()
                .find_map(|n| modules.get(&path[..n]))
                .cloned();
            let Some(target) = target else { continue };
            if &target == node {
                continue;
            }
            g.edges
                .entry(node.clone())
                .or_default()
                .entry(target)
                .or_default()
                .push(Reference {
                    line,
                    path: path.join("::"),
                });
        }
    }
    g
}

/// `rel` as written in `scope` → an absolute module path; None when it
/// names another crate.
fn absolute(
    root: &str,
    scope: &[String],
    declared: &BTreeSet<Vec<String>>,
    rel: &[String],
) -> Option<Vec<String>> {
    let first = rel.first()?.as_str();
    let (mut base, mut rest) = match first {
        "crate" => (vec![root.to_owned()], &rel[1..]),
        "toolgate" if root == "main" => (vec!["crate".to_owned()], &rel[1..]),
        "self" => (scope.to_vec(), &rel[1..]),
        "super" => (scope[..scope.len().saturating_sub(1)].to_vec(), &rel[1..]),
        _ => {
            // `use child::…` of a module this file declares.
            let mut child = scope.to_vec();
            child.push(first.to_owned());
            if !declared.contains(&child) {
                return None;
            }
            (scope.to_vec(), rel)
        }
    };
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The absolute paths a file refers to, with their lines.
fn references(
    module: &[String],
    toks: &[(usize, Tok)],
    declared: &BTreeSet<Vec<String>>,
) -> Vec<(usize, Vec<String>)> {
    let root = if module[0] == "main" { "main" } else { "crate" };
    let mut scope = Scope::new(module);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (line, t) = &toks[i];
        match t {
            Tok::Ident(w) if w == "use" => {
                let (paths, j) = use_tree(toks, i + 1, &[]);
                let public = is_pub(toks, i);
                for p in paths {
                    if let Some(a) = absolute(root, &scope.path, declared, &p) {
                        // A module re-exporting its own descendant shows its
                        // face, as its `mod` declaration does: not an edge.
                        let descendant = a.len() > scope.path.len() && a.starts_with(&scope.path);
                        if !(public && descendant) {
                            out.push((*line, a));
                        }
                    }
                }
                // A use tree holds no braces of blocks: skip it whole.
                i = j;
                continue;
            }
            Tok::Ident(w)
                if (matches!(w.as_str(), "crate" | "super" | "self")
                    || (w == "toolgate" && root == "main"))
                    && !(i > 0 && toks[i - 1].1 == Tok::Path)
                    && toks.get(i + 1).map(|t| &t.1) == Some(&Tok::Path) =>
            {
                // An inline path: ident (:: ident)*.
                let mut p = vec![w.clone()];
                let mut j = i + 1;
                while toks.get(j).map(|t| &t.1) == Some(&Tok::Path) {
                    let Some((_, Tok::Ident(n))) = toks.get(j + 1) else {
                        break;
                    };
                    p.push(n.clone());
                    j += 2;
                }
                if let Some(a) = absolute(root, &scope.path, declared, &p) {
                    out.push((*line, a));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        scope.step(toks, i);
        i += 1;
    }
    out
}

/// Whether the `use` at `i` is `pub` or `pub(…)`.
fn is_pub(toks: &[(usize, Tok)], i: usize) -> bool {
    let at = |k: usize| i.checked_sub(k).and_then(|k| toks.get(k)).map(|t| &t.1);
    match at(1) {
        Some(Tok::Ident(w)) => w == "pub",
        Some(Tok::Punct(')')) => {
            (2..=4).any(|k| matches!(at(k), Some(Tok::Punct('('))))
                && (3..=5).any(|k| matches!(at(k), Some(Tok::Ident(w)) if w == "pub"))
        }
        _ => false,
    }
}

/// Strongly connected components of more than one node (Tarjan), each sorted.
pub fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(t: &mut T<'g>, v: &'g str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        if let Some(es) = t.g.edges.get(v) {
            for w in es.keys() {
                let w = w.as_str();
                if !t.index.contains_key(w) {
                    visit(t, w);
                    let lw = t.low[w];
                    let lv = t.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if t.on.contains(w) {
                    let iw = t.index[w];
                    let lv = t.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    let nodes: BTreeSet<&str> = g
        .files
        .keys()
        .map(String::as_str)
        .chain(g.edges.keys().map(String::as_str))
        .collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

/// A readable account of each cycle: its modules, and each edge inside it
/// with the first reference that makes it (file:line and path).
pub fn describe(g: &Graph, cycles: &[Vec<String>]) -> String {
    let mut s = String::new();
    for (n, comp) in cycles.iter().enumerate() {
        s.push_str(&format!(
            "cycle {} ({} modules): {}\n",
            n + 1,
            comp.len(),
            comp.join(", ")
        ));
        for from in comp {
            let Some(es) = g.edges.get(from) else {
                continue;
            };
            for (to, refs) in es.iter().filter(|(to, _)| comp.contains(to)) {
                let r = &refs[0];
                let more = if refs.len() > 1 {
                    format!(" (+{} more)", refs.len() - 1)
                } else {
                    String::new()
                };
                s.push_str(&format!(
                    "  {from} -> {to}: src/{}:{} {}{more}\n",
                    g.files.get(from).map_or("?", String::as_str),
                    r.line,
                    r.path
                ));
            }
        }
    }
    s
}
