//! The core must stay pure: no I/O crates in its dependency tree, and no file, network,
//! console or clock access in its source or in the sources of the workspace crates it is
//! built from (`bourse-book`, `bourse-model`). The source check reads code only (comments
//! and literals removed) and follows `use` trees, so `use std::{fs::File, net};` is caught.

use std::path::Path;

const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "mio",
    "sqlx",
    "rusqlite",
    "postgres",
    "axum",
    "hyper",
    "reqwest",
    "tower",
    "async-nats",
    "libc-print",
    "chrono",
    "time",
    "rand",
    "getrandom",
];

/// Modules of `std` (or `core`/`alloc`) that reach the outside world or the clock. Any
/// path through one of them is refused, however the `use` is written.
const FORBIDDEN_MODULES: &[&str] = &["fs", "io", "net", "time", "process", "env", "thread"];

/// Identifiers that mean a clock or an I/O crate, wherever they appear in code.
const FORBIDDEN_IDENTS: &[&str] = &["Instant", "SystemTime", "UNIX_EPOCH", "tokio"];

/// Macros that write to stdout/stderr.
const FORBIDDEN_MACROS: &[&str] = &["println", "print", "eprintln", "eprint", "dbg"];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn cargo_toml_has_no_io_dependencies() {
    let toml = std::fs::read_to_string(manifest_dir().join("Cargo.toml")).unwrap();
    let deps = toml
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    let names: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect();
    assert!(names.contains(&"bourse-book"), "parsed {names:?}");
    for n in &names {
        assert!(!FORBIDDEN_CRATES.contains(n), "bourse-core depends on {n}");
    }
}

#[test]
fn dependency_tree_has_no_io_crates() {
    // `cargo tree` is the source of truth for transitive dependencies (normal edges only).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "bourse-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(manifest_dir())
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(
            !FORBIDDEN_CRATES.contains(&name),
            "bourse-core pulls in {name}"
        );
    }
    assert!(tree.contains("bourse-book"));
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The code of `src` without comments and without the contents of string and char
/// literals (so docs and messages may name what the code must not use), with whitespace
/// kept only between two identifier characters (so `std :: { fs }` reads `std::{fs}`).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut space = false;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            space = true;
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            space = true;
        } else if c == b'"' || (c == b'r' && matches!(next, Some(b'"' | b'#')) && raw_start(b, i)) {
            i = skip_string(b, i);
            out.extend_from_slice(b"\"\"");
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some(b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.extend_from_slice(b"' '");
            } else if let Some(len) = src[i + 1..].chars().next().map(char::len_utf8) {
                if b.get(i + 1 + len) == Some(&b'\'') {
                    i += len + 2;
                    out.extend_from_slice(b"' '");
                } else {
                    out.push(c);
                    i += 1;
                }
            } else {
                i += 1;
            }
        } else if c.is_ascii_whitespace() {
            space = true;
            i += 1;
        } else {
            if space && out.last().is_some_and(|&l| is_ident(l)) && is_ident(c) {
                out.push(b' ');
            }
            space = false;
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True if the `r` at `i` starts a raw string (`r"`, `r#"`), not an identifier's end.
fn raw_start(b: &[u8], i: usize) -> bool {
    if i > 0 && is_ident(b[i - 1]) {
        return false;
    }
    let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
    b.get(i + 1 + hashes) == Some(&b'"')
}

/// The index after the string literal starting at `i` (plain or raw).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'r' {
        let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
        let mut close = vec![b'"'];
        close.extend(std::iter::repeat_n(b'#', hashes));
        i += 2 + hashes;
        while i < b.len() && !b[i..].starts_with(&close) {
            i += 1;
        }
        return i + close.len();
    }
    i += 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// Positions where `word` occurs as a whole identifier.
fn word_at<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let b = code.as_bytes();
    code.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        (i == 0 || !is_ident(b[i - 1])) && b.get(i + word.len()).is_none_or(|&c| !is_ident(c))
    })
}

/// The first segment of every path in the use tree at `code[i..]`: `fs` for `fs::File`,
/// `fs` and `net` for `{fs::File,net}`, nested groups included.
fn first_segments(code: &str, i: usize, out: &mut Vec<String>) {
    let b = code.as_bytes();
    if b.get(i) == Some(&b'{') {
        let (mut depth, mut item) = (0, i + 1);
        for (j, &c) in b.iter().enumerate().skip(i) {
            match c {
                b'{' => depth += 1,
                b'}' | b',' if depth == 1 => {
                    first_segments(code, item, out);
                    item = j + 1;
                    if c == b'}' {
                        return;
                    }
                }
                b'}' => depth -= 1,
                _ => {}
            }
        }
    } else {
        let len = b[i..].iter().take_while(|&&c| is_ident(c)).count();
        out.push(code[i..i + len].to_owned());
    }
}

/// What in `src` is I/O or a clock (empty: nothing).
fn violations(src: &str) -> Vec<String> {
    let code = code_only(src);
    let b = code.as_bytes();
    let mut found = Vec::new();
    for root in ["std", "core", "alloc"] {
        for i in word_at(&code, root) {
            let after = i + root.len();
            if code[after..].starts_with("::") {
                let mut segs = Vec::new();
                first_segments(&code, after + 2, &mut segs);
                for s in segs {
                    if FORBIDDEN_MODULES.contains(&s.as_str()) {
                        found.push(format!("{root}::{s}"));
                    }
                }
            }
        }
    }
    // A forbidden module as a path segment anywhere (`io::stdout()` after `use std::io`,
    // or through an alias of `std`).
    for m in FORBIDDEN_MODULES {
        for i in word_at(&code, m) {
            if code[i + m.len()..].starts_with("::") {
                found.push(format!("{m}::"));
            }
        }
    }
    for w in FORBIDDEN_IDENTS {
        if word_at(&code, w).next().is_some() {
            found.push((*w).to_owned());
        }
    }
    for m in FORBIDDEN_MACROS {
        if word_at(&code, m).any(|i| b.get(i + m.len()) == Some(&b'!')) {
            found.push(format!("{m}!"));
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_matcher_catches_io_however_written() {
    let caught = [
        (
            "use std::{fs::File, net};",
            vec!["fs::", "std::fs", "std::net"],
        ),
        (
            "use std::{\n    collections::BTreeMap,\n    io::{self, Write},\n};",
            vec!["io::", "std::io"],
        ),
        ("use std :: net;", vec!["std::net"]),
        ("use ::std::{{time}};", vec!["std::time"]),
        (
            "let t = std::time::Instant::now();",
            vec!["Instant", "std::time", "time::"],
        ),
        ("use std as s; fn f() { s::fs::read(\"x\"); }", vec!["fs::"]),
        (
            "let e = core::time::Duration::ZERO;",
            vec!["core::time", "time::"],
        ),
        (
            "fn f() { println!(\"{}\", 1); dbg!(2); }",
            vec!["dbg!", "println!"],
        ),
        (
            "let n = SystemTime::UNIX_EPOCH;",
            vec!["SystemTime", "UNIX_EPOCH"],
        ),
        ("let s = r#\"a\"#; use std::env;", vec!["std::env"]),
        ("let c = '\"'; use std::thread;", vec!["std::thread"]),
    ];
    for (src, want) in caught {
        assert_eq!(violations(src), want, "{src}");
    }
    let clean = [
        "// reads no std::fs, no Instant\nuse std::fmt;",
        "/* println!(\"x\") */ use std::{collections::BTreeMap, fmt::Write as _};",
        "let m = \"std::net and io:: are only text\"; let n = r#\"std::time\"#;",
        "fn ratio::<'a>(x: &'a str) -> Instantly { fmt::printed(x) }",
    ];
    for src in clean {
        assert_eq!(violations(src), Vec::<String>::new(), "{src}");
    }
}

#[test]
fn sources_use_no_io_or_clock() {
    // The core and everything it is built from in this workspace.
    let root = manifest_dir().join("..");
    let mut files = Vec::new();
    for dir in ["core/src", "book/src", "model/src"] {
        let before = files.len();
        rust_files(&root.join(dir), &mut files);
        assert!(files.len() > before + 3, "{dir}: too few files found");
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let found = violations(&text);
        assert!(found.is_empty(), "{} uses {found:?}", f.display());
    }
}
