//! Output: one JSON object per line (`--json`) or a human table with a footer that
//! checks the targets.

use crate::engines::EngineKind;
use crate::latency::{ClosedLoop, OpenLoop};
use crate::workload::Workload;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::{Deserialize, Serialize};

/// One (engine, workload) closed-loop result, as printed by `--json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub engine: String,
    pub workload: String,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub ns_per_op: f64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    /// Hex [`book_hash`](crate::workload::book_hash) of the engine's final book.
    pub book_hash: String,
    /// Whether it equals the reference model's.
    pub book_matches: bool,
}

impl Row {
    pub fn new(kind: EngineKind, w: &Workload, r: &ClosedLoop) -> Self {
        Row {
            engine: kind.name().to_string(),
            workload: w.spec.name.to_string(),
            ops: r.ops,
            ops_per_sec: r.ops_per_sec(),
            ns_per_op: r.ns_per_op(),
            p50_ns: r.latency.value_at_quantile(0.5),
            p99_ns: r.latency.value_at_quantile(0.99),
            p999_ns: r.latency.value_at_quantile(0.999),
            book_hash: format!("{:016x}", r.book_hash),
            book_matches: r.book_hash == w.expected_hash,
        }
    }
}

/// One open-loop result, as printed by `--json --open-loop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenRow {
    pub mode: String,
    pub engine: String,
    pub workload: String,
    pub rate_per_sec: u64,
    pub ops: u64,
    /// Achieved rate (ops over the wall time of the run).
    pub achieved_per_sec: f64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    pub max_ns: u64,
}

impl OpenRow {
    pub fn new(kind: EngineKind, w: &Workload, r: &OpenLoop) -> Self {
        OpenRow {
            mode: "open_loop".to_string(),
            engine: kind.name().to_string(),
            workload: w.spec.name.to_string(),
            rate_per_sec: r.rate,
            ops: r.ops,
            achieved_per_sec: r.ops as f64 / r.elapsed.as_secs_f64().max(1e-12),
            p50_ns: r.latency.value_at_quantile(0.5),
            p99_ns: r.latency.value_at_quantile(0.99),
            p999_ns: r.latency.value_at_quantile(0.999),
            p9999_ns: r.latency.value_at_quantile(0.9999),
            max_ns: r.latency.max(),
        }
    }
}

pub fn json_line<T: Serialize>(row: &T) -> String {
    serde_json::to_string(row).expect("rows serialise")
}

/// Human-friendly duration in ns/µs/ms.
pub fn ns(v: u64) -> String {
    match v {
        0..=9_999 => format!("{v} ns"),
        10_000..=9_999_999 => format!("{:.1} µs", v as f64 / 1e3),
        _ => format!("{:.1} ms", v as f64 / 1e6),
    }
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M/s", v / 1e6)
    } else {
        format!("{:.0} k/s", v / 1e3)
    }
}

/// One line per workload: its shape and the generated mix.
pub fn describe(w: &Workload) -> String {
    let c = w.counts;
    let n = w.steps.len().max(1) as f64;
    let pct = |k: usize| 100.0 * k as f64 / n;
    format!(
        "{}: {} market(s), {} users, {} resting, {} cmds: move {:.1}%, ioc {:.1}%, reduce {:.1}%, \
         cancel {:.1}%, place {:.1}%; {} fills",
        w.spec.name,
        w.spec.markets,
        w.spec.users,
        w.setup.len(),
        w.steps.len(),
        pct(c.moves),
        pct(c.ioc),
        pct(c.reduce),
        pct(c.cancel),
        pct(c.place),
        c.fills
    )
}

/// The closed-loop table, with hash marks and the target checks in the footer.
pub fn table(rows: &[Row], clock_floor_ns: u64) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "workload",
        "engine",
        "ops",
        "ops/s",
        "ns/op",
        "p50",
        "p99",
        "p99.9",
        "final book",
    ]);
    for r in rows {
        let mark = if r.book_matches {
            format!("{} ✓", r.book_hash)
        } else {
            let why = EngineKind::ALL
                .iter()
                .find(|k| k.name() == r.engine)
                .and_then(|k| k.divergence())
                .map_or("MISMATCH", |_| "differs*");
            format!("{} {why}", r.book_hash)
        };
        t.add_row(vec![
            Cell::new(&r.workload),
            Cell::new(&r.engine),
            Cell::new(r.ops).set_alignment(CellAlignment::Right),
            Cell::new(rate(r.ops_per_sec)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.0}", r.ns_per_op)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p50_ns)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p99_ns)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p999_ns)).set_alignment(CellAlignment::Right),
            Cell::new(mark),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
    for line in footer(rows, clock_floor_ns) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn find<'a>(rows: &'a [Row], engine: EngineKind, workload: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.engine == engine.name() && r.workload == workload)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// Target checks from the issue, for the rows that are present.
pub fn footer(rows: &[Row], clock_floor_ns: u64) -> Vec<String> {
    let mut out = Vec::new();
    for (w, target) in [("W1", 1.2), ("W2", 2.0)] {
        if let (Some(b), Some(m)) = (
            find(rows, EngineKind::BourseBook, w),
            find(rows, EngineKind::Matchcore, w),
        ) {
            let ratio = b.ops_per_sec / m.ops_per_sec;
            out.push(format!(
                "{w}: bourse-book / matchcore = {ratio:.2}× (target ≥ {target}×: {})",
                verdict(ratio >= target)
            ));
        }
    }
    if let Some(c) = find(rows, EngineKind::BourseCore, "W1") {
        out.push(format!(
            "W1: bourse-core {} (target ≥ 5 M/s: {}), p99 {} (target < 1 µs: {})",
            rate(c.ops_per_sec),
            verdict(c.ops_per_sec >= 5e6),
            ns(c.p99_ns),
            verdict(c.p99_ns < 1_000)
        ));
    }
    out.push(format!(
        "Latency columns time each command with two clock reads (floor ≈ {} here); ops/s and ns/op come from an untimed pass.",
        ns(clock_floor_ns)
    ));
    if rows.iter().any(|r| !r.book_matches) {
        out.push(
            "final book: ✓ = same levels as the reference model; differs* = expected, the engine emulates reduce by \
             cancel + re-add (loses priority); MISMATCH = a bug."
                .to_string(),
        );
    }
    out
}

/// The open-loop table.
pub fn open_table(rows: &[OpenRow]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "workload", "engine", "rate", "achieved", "ops", "p50", "p99", "p99.9", "p99.99", "max",
    ]);
    for r in rows {
        t.add_row(vec![
            Cell::new(&r.workload),
            Cell::new(&r.engine),
            Cell::new(rate(r.rate_per_sec as f64)).set_alignment(CellAlignment::Right),
            Cell::new(rate(r.achieved_per_sec)).set_alignment(CellAlignment::Right),
            Cell::new(r.ops).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p50_ns)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p99_ns)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p999_ns)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.p9999_ns)).set_alignment(CellAlignment::Right),
            Cell::new(ns(r.max_ns)).set_alignment(CellAlignment::Right),
        ]);
    }
    format!("{t}\nLatency = completion − scheduled release (no coordinated omission).\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: EngineKind, workload: &str, ops_per_sec: f64) -> Row {
        Row {
            engine: engine.name().into(),
            workload: workload.into(),
            ops: 10,
            ops_per_sec,
            ns_per_op: 1e9 / ops_per_sec,
            p50_ns: 50,
            p99_ns: 900,
            p999_ns: 2_000,
            book_hash: "00".into(),
            book_matches: true,
        }
    }

    #[test]
    fn json_rows_parse_with_the_contract_fields() {
        let r = row(EngineKind::Matchcore, "W1", 1e6);
        let line = json_line(&r);
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for k in [
            "engine",
            "workload",
            "ops",
            "ops_per_sec",
            "ns_per_op",
            "p50_ns",
            "p99_ns",
            "p999_ns",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(serde_json::from_str::<Row>(&line).unwrap(), r);
    }

    #[test]
    fn footer_checks_the_targets() {
        let rows = [
            row(EngineKind::BourseBook, "W1", 3e6),
            row(EngineKind::Matchcore, "W1", 2e6),
            row(EngineKind::BourseBook, "W2", 3e6),
            row(EngineKind::Matchcore, "W2", 2e6),
            row(EngineKind::BourseCore, "W1", 6e6),
        ];
        let f = footer(&rows, 20).join("\n");
        assert!(
            f.contains("W1: bourse-book / matchcore = 1.50× (target ≥ 1.2×: met)"),
            "{f}"
        );
        assert!(
            f.contains("W2: bourse-book / matchcore = 1.50× (target ≥ 2×: MISSED)"),
            "{f}"
        );
        assert!(
            f.contains(
                "bourse-core 6.00 M/s (target ≥ 5 M/s: met), p99 900 ns (target < 1 µs: met)"
            ),
            "{f}"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(ns(950), "950 ns");
        assert_eq!(ns(12_345), "12.3 µs");
        assert_eq!(ns(12_345_678), "12.3 ms");
    }
}
