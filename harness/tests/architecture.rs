//! The harness's module graph, built from its sources: no import circles between files, and every
//! import points down the stack of layers that `docs/architecture.md` draws.
//!
//! A file depends on another when it names an item defined there: through a `use`, or a path
//! (`crate::record::Failure`, `super::cell::evaluate`, `Stage::Task` after `use`). Re-exports
//! (`pub use`) are followed to the file that defines the item and are not dependencies
//! themselves; `mod` declarations are not either, nor is a folder's `mod.rs` using the files it
//! declares (that is the module tree; a child may use its parent's items). Test code (`#[cfg(test)]`) is left out: tests
//! may reach anywhere. The parse is syn's, so the graph is the compiler's view of paths, not a
//! text search; names it cannot resolve (std, other crates, locals) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One source file: its module path, what it defines, what it imports, what it names.
#[derive(Default)]
struct ModuleFile {
    file: PathBuf,
    /// Items defined here, by name.
    defines: BTreeSet<String>,
    /// Child modules declared here (`mod x;` and inline `mod x { … }`).
    children: BTreeSet<String>,
    /// Names brought in by `use`: name → (path as written, re-export?, line).
    imports: BTreeMap<String, (Vec<String>, bool, usize)>,
    /// `use a::b::*`: the glob's path.
    globs: Vec<Vec<String>>,
    /// Every path this file names outside re-exports, with its line.
    paths: Vec<(Vec<String>, usize)>,
}

type Modules = BTreeMap<String, ModuleFile>;

/// `a::b` of `src/a/b.rs` or `src/a/b/mod.rs`; `""` for `lib.rs`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test")))
}

fn is_public(vis: &syn::Visibility) -> bool {
    !matches!(vis, syn::Visibility::Inherited)
}

/// Flattens a use tree into (path, name it binds or `*`).
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                out.push((prefix.clone(), prefix.last().cloned().unwrap_or_default()));
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((path, name));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push((path, r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), "*".into())),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten(t, prefix, out)),
    }
}

/// Collects every path a file names (types, expressions, patterns, attributes' `with = "…"`).
struct PathCollector<'a> {
    paths: &'a mut Vec<(Vec<String>, usize)>,
}

impl<'ast> Visit<'ast> for PathCollector<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = path.segments.first().map_or(0, |s| s.ident.span().start().line);
        self.paths.push((segments, line));
        syn::visit::visit_path(self, path);
    }
    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        syn::visit::visit_macro(self, mac);
        scan_tokens(mac.tokens.clone(), self.paths);
    }
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test_only(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test_only(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if !is_test_only(&i.attrs) {
            syn::visit::visit_item_impl(self, i);
        }
    }
    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        // serde's `with = "crate::float"` and `deserialize_with = "…"` name modules in strings.
        if attr.path().is_ident("serde") {
            let line = attr.pound_token.span.start().line;
            let _ = attr.parse_nested_meta(|meta| {
                if let Ok(value) = meta.value() {
                    if let Ok(text) = value.parse::<syn::LitStr>() {
                        let path: Vec<String> = text.value().split("::").map(str::to_string).collect();
                        if path.first().is_some_and(|s| s == "crate" || s == "super") {
                            self.paths.push((path, line));
                        }
                    }
                }
                Ok(())
            });
        }
    }
}

/// Paths inside a macro's tokens (`matches!(x, Stage::Task)`, `format!("{}", crate::f())`),
/// which syn leaves unparsed: every run of `ident :: ident …`.
fn scan_tokens(tokens: proc_macro2::TokenStream, out: &mut Vec<(Vec<String>, usize)>) {
    use proc_macro2::TokenTree;
    let mut run: Vec<String> = Vec::new();
    let mut line = 0;
    let mut colons = 0;
    fn flush(run: &mut Vec<String>, line: usize, out: &mut Vec<(Vec<String>, usize)>) {
        if run.len() > 1 {
            out.push((std::mem::take(run), line));
        }
        run.clear();
    }
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                if run.is_empty() || colons != 2 {
                    flush(&mut run, line, out);
                    line = ident.span().start().line;
                }
                run.push(ident.to_string());
                colons = 0;
            }
            TokenTree::Punct(p) if p.as_char() == ':' && !run.is_empty() => colons += 1,
            TokenTree::Group(g) => {
                flush(&mut run, line, out);
                colons = 0;
                scan_tokens(g.stream(), out);
            }
            _ => {
                flush(&mut run, line, out);
                colons = 0;
            }
        }
    }
    flush(&mut run, line, out);
}

fn read_module(src: &Path, file: &Path) -> ModuleFile {
    let text = std::fs::read_to_string(file).unwrap();
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut module = ModuleFile { file: file.strip_prefix(src).unwrap().to_path_buf(), ..Default::default() };
    for item in &parsed.items {
        let name = |ident: &syn::Ident| ident.to_string();
        match item {
            syn::Item::Mod(m) if !is_test_only(&m.attrs) => {
                module.children.insert(name(&m.ident));
            }
            syn::Item::Use(u) if !is_test_only(&u.attrs) => {
                let mut flat = Vec::new();
                flatten(&u.tree, &mut Vec::new(), &mut flat);
                let line = u.use_token.span.start().line;
                for (path, bound) in flat {
                    if bound == "*" {
                        module.globs.push(path);
                    } else {
                        module.imports.insert(bound, (path, is_public(&u.vis), line));
                    }
                }
            }
            syn::Item::Struct(s) => drop(module.defines.insert(name(&s.ident))),
            syn::Item::Enum(e) => drop(module.defines.insert(name(&e.ident))),
            syn::Item::Fn(f) if !is_test_only(&f.attrs) => drop(module.defines.insert(name(&f.sig.ident))),
            syn::Item::Trait(t) => drop(module.defines.insert(name(&t.ident))),
            syn::Item::Type(t) => drop(module.defines.insert(name(&t.ident))),
            syn::Item::Const(c) => drop(module.defines.insert(name(&c.ident))),
            syn::Item::Static(s) => drop(module.defines.insert(name(&s.ident))),
            syn::Item::Union(u) => drop(module.defines.insert(name(&u.ident))),
            syn::Item::Macro(m) => {
                if let Some(ident) = &m.ident {
                    module.defines.insert(name(ident));
                }
            }
            _ => {}
        }
    }
    let mut collector = PathCollector { paths: &mut module.paths };
    collector.visit_file(&parsed);
    module
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn read_modules(src: &Path) -> Modules {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| (module_path(src, f), read_module(src, f)))
        .collect()
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}::{child}")
    }
}

fn parent_of(module: &str) -> String {
    module.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string())
}

/// Where a name leads: a module (a file) or an item defined in a file.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    Module(String),
    Item(String),
}

struct Resolver<'a> {
    modules: &'a Modules,
}

impl Resolver<'_> {
    /// Resolves `path` as named in module `from`; `None` for names outside the crate.
    fn resolve(&self, from: &str, path: &[String], depth: usize) -> Option<Target> {
        if depth > 16 || path.is_empty() {
            return None;
        }
        let (mut at, rest) = match path[0].as_str() {
            "crate" => (String::new(), &path[1..]),
            "super" => (parent_of(from), &path[1..]),
            "self" => (from.to_string(), &path[1..]),
            _ => (from.to_string(), path),
        };
        let mut rest = rest;
        // Leading `super::super::…`.
        while rest.first().is_some_and(|s| s == "super") {
            at = parent_of(&at);
            rest = &rest[1..];
        }
        let mut target = Target::Module(at);
        for (i, segment) in rest.iter().enumerate() {
            let Target::Module(module) = &target else { break };
            let file = self.modules.get(module)?;
            let child = join(module, segment);
            target = if file.children.contains(segment) && self.modules.contains_key(&child) {
                Target::Module(child)
            } else if file.defines.contains(segment) {
                Target::Item(module.clone())
            } else if let Some((import, _, _)) = file.imports.get(segment) {
                let found = self.resolve(module, import, depth + 1)?;
                if i + 1 < rest.len() {
                    // A module imported by name, then a path inside it.
                    return match found {
                        Target::Module(m) => {
                            let mut tail = vec!["self".to_string()];
                            tail.extend(rest[i + 1..].iter().cloned());
                            self.resolve(&m, &tail, depth + 1)
                        }
                        item => Some(item),
                    };
                }
                found
            } else {
                let from_glob = file.globs.iter().find_map(|glob| {
                    let mut p = glob.clone();
                    p.push(segment.clone());
                    self.resolve(module, &p, depth + 1)
                });
                from_glob?
            };
            // The first segment of a plain path (no `crate`/`super`/`self`) must be a name of
            // `from` itself; any other is outside the crate (std, a dependency, a local).
        }
        Some(target)
    }
}

/// One dependency between files, with where it is named.
struct Edge {
    line: usize,
    path: String,
}

type Graph = BTreeMap<String, BTreeMap<String, Edge>>;

fn graph(modules: &Modules) -> Graph {
    let resolver = Resolver { modules };
    let mut graph: Graph = modules.keys().map(|m| (m.clone(), BTreeMap::new())).collect();
    for (name, file) in modules {
        // `use` lines first, so that an edge is shown where it is imported.
        let mut named: Vec<(Vec<String>, usize)> =
            file.imports.values().filter(|(_, public, _)| !public).map(|(p, _, l)| (p.clone(), *l)).collect();
        named.sort_by_key(|(_, line)| *line);
        named.extend(file.paths.iter().cloned());
        for (path, line) in named {
            let anchored = matches!(path[0].as_str(), "crate" | "super" | "self");
            let local = file.imports.contains_key(&path[0]) || file.children.contains(&path[0]);
            if !anchored && !local {
                continue;
            }
            let to = match resolver.resolve(name, &path, 0) {
                Some(Target::Item(m)) => m,
                Some(Target::Module(m)) if path.len() > 1 || anchored => m,
                _ => continue,
            };
            // A folder's `mod.rs` using the files it declares is the module tree itself, not an
            // import; children may still use their parent's items, and siblings each other's,
            // without a circle.
            let own_child = parent_of(&to) == *name;
            if to != *name && !own_child && modules.contains_key(&to) {
                graph.get_mut(name).unwrap().entry(to).or_insert(Edge { line, path: path.join("::") });
            }
        }
    }
    graph
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// One circle through `component`, as `a.rs:12 (names crate::b::X) → b.rs:3 (…) → a.rs`.
fn describe_cycle(graph: &Graph, modules: &Modules, component: &[String]) -> String {
    let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = component[0].as_str();
    // Breadth-first from start's successors back to start, inside the component.
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    'search: while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().map(String::as_str).filter(|w| inside.contains(w)) {
            if w == start {
                previous.insert("", v);
                break 'search;
            }
            if !previous.contains_key(w) {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    let mut chain = vec![start];
    let mut at = previous[""];
    while at != start {
        chain.push(at);
        at = previous[at];
    }
    chain.push(start);
    chain.reverse();
    let file = |m: &str| modules[m].file.display().to_string();
    let steps: Vec<String> = chain
        .windows(2)
        .map(|pair| {
            let edge = &graph[pair[0]][pair[1]];
            format!("{}:{} (names {})", file(pair[0]), edge.line, edge.path)
        })
        .collect();
    format!("{} → {}", steps.join(" → "), file(start))
}

fn harness_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layers of `docs/architecture.md`, bottom first: the top-level modules each may hold.
fn layers() -> Vec<Vec<String>> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
    let text = std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
    let section = text.split("## Layers").nth(1).expect("docs/architecture.md has a `## Layers` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (number, rest) = line.split_once(". ")?;
            number.parse::<usize>().ok()?;
            let names = rest.split(':').next()?;
            let modules: Vec<String> =
                names.split('`').skip(1).step_by(2).map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
            (!modules.is_empty()).then_some(modules)
        })
        .collect()
}

#[test]
fn no_file_of_the_harness_imports_in_a_circle() {
    let modules = read_modules(&harness_src());
    let graph = graph(&modules);
    let found: Vec<String> = cycles(&graph).iter().map(|c| describe_cycle(&graph, &modules, c)).collect();
    assert!(found.is_empty(), "import circles between harness files:\n  {}", found.join("\n  "));
}

#[test]
fn every_import_points_down_the_documented_layers() {
    let modules = read_modules(&harness_src());
    let layers = layers();
    let layer_of: BTreeMap<&str, usize> =
        layers.iter().enumerate().flat_map(|(i, l)| l.iter().map(move |m| (m.as_str(), i))).collect();
    let top = |m: &str| m.split("::").next().unwrap_or_default().to_string();
    let tops: BTreeSet<String> = modules.keys().filter(|m| !m.is_empty()).map(|m| top(m)).collect();
    let undocumented: Vec<&String> = tops.iter().filter(|m| !layer_of.contains_key(m.as_str())).collect();
    assert!(undocumented.is_empty(), "modules missing from docs/architecture.md's layers: {undocumented:?}");
    let mut upward = Vec::new();
    for (from, edges) in graph(&modules) {
        for (to, edge) in edges {
            let (a, b) = (top(&from), top(&to));
            if from.is_empty() || to.is_empty() || a == b {
                continue;
            }
            if layer_of[b.as_str()] > layer_of[a.as_str()] {
                upward.push(format!(
                    "{}:{} names {} (layer {} `{b}` is above layer {} `{a}`)",
                    modules[&from].file.display(),
                    edge.line,
                    edge.path,
                    layer_of[b.as_str()] + 1,
                    layer_of[a.as_str()] + 1
                ));
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up the layers:\n  {}", upward.join("\n  "));
}

/// The checker itself finds a circle it is shown, names its files and lines, and sees through
/// re-exports and serde's `with` strings.
#[test]
fn the_checker_finds_a_planted_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::Thing;\npub struct A(Thing);\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "mod inner;\npub use inner::Thing;\n").unwrap();
    std::fs::write(src.join("b/inner.rs"), "pub struct Thing {\n    #[serde(with = \"crate::c\")]\n    x: f64,\n}\n")
        .unwrap();
    std::fs::write(src.join("c.rs"), "pub fn f() -> crate::a::A { todo!() }\n").unwrap();
    let modules = read_modules(src);
    let graph = graph(&modules);
    let found = cycles(&graph);
    assert_eq!(found, vec![vec!["a".to_string(), "b::inner".into(), "c".into()]]);
    let text = describe_cycle(&graph, &modules, &found[0]);
    assert_eq!(
        text,
        "a.rs:1 (names crate::b::Thing) → b/inner.rs:2 (names crate::c) → c.rs:1 (names crate::a::A) → a.rs"
    );
    // b/mod.rs only re-exports: no file depends on it, it depends on none.
    assert!(graph["b"].is_empty());
}

/// Functions (free, in impls and in traits) outside test code, with their file, name and length
/// in lines.
fn function_lengths(src: &Path) -> Vec<(String, String, usize)> {
    struct Lengths<'a> {
        file: String,
        /// `Type::` inside an impl block.
        prefix: String,
        out: &'a mut Vec<(String, String, usize)>,
    }
    impl Lengths<'_> {
        fn record(&mut self, name: &syn::Ident, block: &syn::Block) {
            let lines = block.brace_token.span.close().start().line - name.span().start().line + 1;
            self.out.push((self.file.clone(), format!("{}{name}", self.prefix), lines));
        }
    }
    impl<'ast> Visit<'ast> for Lengths<'_> {
        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            if !is_test_only(&m.attrs) {
                syn::visit::visit_item_mod(self, m);
            }
        }
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            if !is_test_only(&f.attrs) {
                self.record(&f.sig.ident, &f.block);
                syn::visit::visit_item_fn(self, f);
            }
        }
        fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
            if is_test_only(&i.attrs) {
                return;
            }
            let ty = &*i.self_ty;
            let name = match ty {
                syn::Type::Path(p) => p.path.segments.last().map_or(String::new(), |s| s.ident.to_string()),
                _ => String::new(),
            };
            let outer = std::mem::replace(&mut self.prefix, format!("{name}::"));
            syn::visit::visit_item_impl(self, i);
            self.prefix = outer;
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            self.record(&f.sig.ident, &f.block);
            syn::visit::visit_impl_item_fn(self, f);
        }
    }
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let parsed = syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = file.strip_prefix(src).unwrap().display().to_string();
        Lengths { file: name, prefix: String::new(), out: &mut out }.visit_file(&parsed);
    }
    out
}

/// The most lines a production function may take: one screen.
const MAX_FUNCTION_LINES: usize = 80;

#[test]
fn every_function_reads_in_one_screen() {
    let problems: Vec<String> = function_lengths(&harness_src())
        .into_iter()
        .filter(|(_, _, lines)| *lines > MAX_FUNCTION_LINES)
        .map(|(file, name, lines)| format!("{file}: {name} has {lines} lines (at most {MAX_FUNCTION_LINES}): split it"))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
