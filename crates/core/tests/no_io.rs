//! The core must stay pure: no I/O crates in its dependency tree, and no file, network
//! or clock access in its source.

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

const FORBIDDEN_SOURCE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::time",
    "SystemTime",
    "Instant::now",
    "std::env",
    "std::process",
    "std::thread",
    "tokio",
];

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

#[test]
fn sources_use_no_io_or_clock() {
    let mut files = Vec::new();
    rust_files(&manifest_dir().join("src"), &mut files);
    assert!(files.len() > 5);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for needle in FORBIDDEN_SOURCE {
            assert!(!text.contains(needle), "{} uses {needle}", f.display());
        }
    }
}
