//! A dependency-free SVG bar chart of ops/s per engine, grouped by workload.

use crate::report::Row;
use std::fmt::Write;

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

pub fn svg(rows: &[Row]) -> String {
    let mut workloads: Vec<&str> = Vec::new();
    let mut engines: Vec<&str> = Vec::new();
    for r in rows {
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
        if !engines.contains(&r.engine.as_str()) {
            engines.push(&r.engine);
        }
    }
    let max = rows.iter().map(|r| r.ops_per_sec).fold(1.0, f64::max);
    let (bar, gap, plot_h, left, top) = (18.0, 30.0, 300.0, 60.0, 40.0);
    let group_w = bar * engines.len() as f64 + gap;
    let width = left + group_w * workloads.len() as f64 + 180.0;
    let height = top + plot_h + 60.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14">ops/s per engine (higher is better)</text>"#
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{:.1}M</text>"##,
            width - 180.0,
            left - 4.0,
            y + 4.0,
            v / 1e6
        );
    }
    for (wi, w) in workloads.iter().enumerate() {
        let x0 = left + gap / 2.0 + group_w * wi as f64;
        for (ei, e) in engines.iter().enumerate() {
            if let Some(r) = rows.iter().find(|r| r.workload == *w && r.engine == *e) {
                let h = plot_h * r.ops_per_sec / max;
                let _ = writeln!(
                    s,
                    r#"<rect x="{}" y="{}" width="{}" height="{h}" fill="{}"><title>{e} {w}: {:.0} ops/s</title></rect>"#,
                    x0 + bar * ei as f64,
                    top + plot_h - h,
                    bar - 2.0,
                    COLORS[ei % COLORS.len()],
                    r.ops_per_sec
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{w}</text>"#,
            x0 + bar * engines.len() as f64 / 2.0,
            top + plot_h + 16.0
        );
    }
    for (ei, e) in engines.iter().enumerate() {
        let y = top + 14.0 * ei as f64;
        let x = width - 170.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{e}</text>"#,
            COLORS[ei % COLORS.len()],
            x + 14.0,
            y + 9.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_row() {
        let row = |engine: &str, workload: &str, v: f64| Row {
            engine: engine.into(),
            workload: workload.into(),
            ops: 1,
            ops_per_sec: v,
            ns_per_op: 1.0,
            p50_ns: 1,
            p99_ns: 1,
            p999_ns: 1,
            book_hash: String::new(),
            book_matches: true,
        };
        let svg = svg(&[
            row("a", "W1", 2e6),
            row("b", "W1", 1e6),
            row("a", "W2", 3e6),
        ]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<title>").count(), 3);
    }
}
