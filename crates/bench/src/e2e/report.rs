//! Counting ([`Tally`]), the figures of one phase ([`Phase`]), the whole run
//! ([`Report`]: one JSON object), same-run ratios, and the human table.
//!
//! Rules:
//! - Latency is recorded for every *answered* request, 2xx or not, in microseconds, from
//!   the moment the request was sent (closed loop) or was due (open loop) to the last
//!   byte of the answer. Transport failures have no latency; they are errors.
//! - `per_sec` is answered requests per second of the phase's wall time (first send to
//!   last answer); `ok_per_sec` counts 2xx answers only. Ratios use `per_sec`.
//! - Every non-2xx answer is an error under its `error.code` (`HTTP_<status>` when the
//!   body has none), every transport failure one under `TRANSPORT`. Each is either
//!   expected ([`is_expected`]) or not; a smoke run fails on any unexpected one.

use super::load::{Mix, Op};
use crate::journal;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which error answers are part of the load's normal course rather than a failure.
///
/// Only a cancel's `UNKNOWN_ORDER` (404: the order was filled by another user's cross,
/// which its owner is not told of, or the cancel raced that fill) and
/// `ORDER_NOT_AMENDABLE` (409: the order is no longer open). Everything else — a place
/// refused, `READ_MODEL_BEHIND`, any 5xx, a transport failure — is unexpected: the
/// requests are well-formed and the users funded far beyond what they can spend.
pub fn is_expected(op: Op, code: &str) -> bool {
    op == Op::Cancel && matches!(code, "UNKNOWN_ORDER" | "ORDER_NOT_AMENDABLE")
}

/// One error kind seen in a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRow {
    pub op: String,
    pub code: String,
    /// HTTP status; 0 for a transport failure or a FIX answer.
    pub status: u16,
    pub count: u64,
    pub expected: bool,
    /// The first message seen (what to look at when it is unexpected).
    pub message: String,
}

/// What the tasks of a phase record; merged at the end.
pub struct Tally {
    micros: Histogram<u64>,
    answered: u64,
    ok: u64,
    sent: BTreeMap<Op, u64>,
    errors: BTreeMap<(Op, String), ErrorRow>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    pub fn new() -> Self {
        Tally {
            // 1 µs to 100 s at 3 significant digits.
            micros: Histogram::new_with_bounds(1, 100_000_000, 3).expect("static bounds"),
            answered: 0,
            ok: 0,
            sent: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    pub fn answer(&mut self, op: Op, a: &super::http::Answer, micros: u64) {
        *self.sent.entry(op).or_default() += 1;
        self.answered += 1;
        self.micros.saturating_record(micros.max(1));
        if a.ok() {
            self.ok += 1;
        } else {
            self.error(op, a.error_code(), a.status, || a.error_message());
        }
    }

    /// An answer that is not HTTP (`bourse-bench fix`: an ExecutionReport or a cancel
    /// reject); `error` is its code and message when it refused the request.
    pub fn outcome(&mut self, op: Op, micros: u64, error: Option<(String, String)>) {
        *self.sent.entry(op).or_default() += 1;
        self.answered += 1;
        self.micros.saturating_record(micros.max(1));
        match error {
            None => self.ok += 1,
            Some((code, message)) => self.error(op, code, 0, || message),
        }
    }

    pub fn transport(&mut self, op: Op, message: &str) {
        *self.sent.entry(op).or_default() += 1;
        self.error(op, "TRANSPORT".into(), 0, || message.to_owned());
    }

    fn error(&mut self, op: Op, code: String, status: u16, message: impl FnOnce() -> String) {
        let expected = is_expected(op, &code);
        self.errors
            .entry((op, code.clone()))
            .or_insert_with(|| ErrorRow {
                op: op.name().into(),
                code,
                status,
                count: 0,
                expected,
                message: message(),
            })
            .count += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.micros.add(&other.micros).expect("same bounds");
        self.answered += other.answered;
        self.ok += other.ok;
        for (op, n) in other.sent {
            *self.sent.entry(op).or_default() += n;
        }
        for (key, row) in other.errors {
            match self.errors.get_mut(&key) {
                Some(r) => r.count += row.count,
                None => {
                    self.errors.insert(key, row);
                }
            }
        }
    }
}

/// The figures of one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    /// `closed` or `open`.
    pub mode: String,
    pub concurrency: usize,
    /// Open loop: the scheduled rate, requests per second.
    pub rate: Option<f64>,
    pub seconds: f64,
    /// Every request sent (answered or failed in transport).
    pub requests: u64,
    pub answered: u64,
    pub ok: u64,
    pub per_sec: f64,
    pub ok_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Requests sent per op (orders: what the mix turned into, see `load`).
    pub sent: BTreeMap<String, u64>,
    /// Error count per code, all ops together.
    pub errors_by_code: BTreeMap<String, u64>,
    pub errors: Vec<ErrorRow>,
    pub expected_errors: u64,
    pub unexpected_errors: u64,
    /// WebSocket messages the subscribers received during the phase.
    pub ws_messages: Option<u64>,
    /// Cores used during the phase, per thread group (see `procfs`).
    pub cores: BTreeMap<String, f64>,
    /// Cores that other processes on the machine used meanwhile (contention).
    pub other_processes_cores: Option<f64>,
}

impl Phase {
    pub fn new(name: &str, concurrency: usize, rate: Option<f64>, t: &Tally, seconds: f64) -> Self {
        let ms = |q: f64| t.micros.value_at_quantile(q) as f64 / 1000.0;
        let errors: Vec<ErrorRow> = t.errors.values().cloned().collect();
        let mut errors_by_code = BTreeMap::new();
        for e in &errors {
            *errors_by_code.entry(e.code.clone()).or_default() += e.count;
        }
        let count = |exp: bool| {
            errors
                .iter()
                .filter(|e| e.expected == exp)
                .map(|e| e.count)
                .sum()
        };
        let secs = seconds.max(1e-9);
        Phase {
            name: name.into(),
            mode: if rate.is_some() { "open" } else { "closed" }.into(),
            concurrency,
            rate,
            seconds,
            requests: t.sent.values().sum(),
            answered: t.answered,
            ok: t.ok,
            per_sec: t.answered as f64 / secs,
            ok_per_sec: t.ok as f64 / secs,
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: t.micros.max() as f64 / 1000.0,
            sent: t
                .sent
                .iter()
                .map(|(op, n)| (op.name().into(), *n))
                .collect(),
            errors_by_code,
            expected_errors: count(true),
            unexpected_errors: count(false),
            errors,
            ws_messages: None,
            cores: BTreeMap::new(),
            other_processes_cores: None,
        }
    }
}

/// Same-run throughput ratios (`per_sec` over `per_sec` of health).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    pub orders_per_health: Option<f64>,
    pub book_per_health: Option<f64>,
    pub balances_per_health: Option<f64>,
}

pub fn ratios(
    orders: Option<&Phase>,
    health: Option<&Phase>,
    book: Option<&Phase>,
    balances: Option<&Phase>,
) -> Ratios {
    let over = |p: Option<&Phase>| {
        let h = health.filter(|h| h.per_sec > 0.0)?;
        p.map(|p| p.per_sec / h.per_sec)
    };
    Ratios {
        orders_per_health: over(orders),
        book_per_health: over(book),
        balances_per_health: over(balances),
    }
}

/// Resident memory of the in-process server before and after it holds `orders` resting
/// orders (and has projected them into its read models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rss {
    pub orders: u64,
    pub before_mib: f64,
    /// Right after the last order was applied (the projector still catching up).
    pub placed_mib: f64,
    pub after_mib: f64,
    /// `VmHWM`: the process's peak, which the projector's backlog may have set.
    pub peak_mib: f64,
    pub bytes_per_order: f64,
    /// Placing them (journaled and applied), then until the read models had them all.
    pub place_seconds: f64,
    pub project_seconds: f64,
    /// The same orders applied to a bare core in a fresh process: its RSS growth.
    pub core_alone_mib: Option<f64>,
    pub core_alone_bytes_per_order: Option<f64>,
}

/// The WebSocket subscribers of the order phases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ws {
    pub subscribers: usize,
    pub connected: usize,
}

/// The one JSON object of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `in-process` or the `--url`.
    pub target: String,
    pub users: usize,
    pub concurrency: usize,
    pub mix: Mix,
    pub orders: Option<Phase>,
    pub orders_open_loop: Option<Phase>,
    pub health: Option<Phase>,
    pub book: Option<Phase>,
    pub balances: Option<Phase>,
    pub ratios: Ratios,
    pub ws: Option<Ws>,
    pub rss: Option<Rss>,
    pub startup: Option<Vec<journal::Row>>,
    /// The machine's 1-minute load average when the run started and when it ended.
    pub loadavg: [Option<f64>; 2],
    pub unexpected_errors: u64,
    /// No unexpected error in any phase.
    pub ok: bool,
    /// Orders/s with Prometheus metrics off and on (in-process only).
    #[serde(default)]
    pub metrics_cost: Option<super::metrics_cost::MetricsCost>,
}

impl Report {
    pub fn phases(&self) -> impl Iterator<Item = &Phase> {
        [
            &self.orders,
            &self.orders_open_loop,
            &self.health,
            &self.book,
            &self.balances,
        ]
        .into_iter()
        .flatten()
    }

    /// Fills in the totals and the ratios from the phases.
    pub fn finish(mut self) -> Self {
        self.ratios = ratios(
            self.orders.as_ref(),
            self.health.as_ref(),
            self.book.as_ref(),
            self.balances.as_ref(),
        );
        self.unexpected_errors = self.phases().map(|p| p.unexpected_errors).sum();
        self.ok = self.unexpected_errors == 0;
        self
    }
}

fn rate(n: f64) -> String {
    if n >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// The human output: a table of the phases, then errors, ratios, memory and start-up.
pub fn table(r: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "phase",
        "loop",
        "req/s",
        "2xx/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "cores: server/load/other",
        "other procs",
    ]);
    for p in r.phases() {
        let mode = match p.rate {
            Some(rate) => format!("open {rate:.0}/s ≤{}", p.concurrency),
            None => format!("closed ×{}", p.concurrency),
        };
        let get = |k: &str| p.cores.get(k).copied().unwrap_or(0.0);
        let server = get(super::procfs::SERVER_THREADS);
        let load = get(super::procfs::LOAD_THREADS);
        let other: f64 = p.cores.values().sum::<f64>() - server - load;
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(&p.name),
            Cell::new(mode),
            right(rate(p.per_sec)),
            right(rate(p.ok_per_sec)),
            right(format!("{:.2}", p.p50_ms)),
            right(format!("{:.2}", p.p99_ms)),
            right(format!("{:.2}", p.p999_ms)),
            right(format!("{:.1}", p.max_ms)),
            right(format!(
                "{} exp / {} unexp",
                p.expected_errors, p.unexpected_errors
            )),
            right(format!("{server:.2} / {load:.2} / {other:.2}")),
            right(
                p.other_processes_cores
                    .map_or_else(|| "?".into(), |c| format!("{c:.2}")),
            ),
        ]);
    }
    let mut out = format!("{t}\n");
    for p in r.phases() {
        if !p.sent.is_empty() && p.name.starts_with("orders") {
            let sent: Vec<String> = p.sent.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!("{}: sent {}", p.name, sent.join(", ")));
            if let Some(m) = p.ws_messages {
                out.push_str(&format!(
                    "; ws messages received {m} ({:.0}/s)",
                    m as f64 / p.seconds.max(1e-9)
                ));
            }
            out.push('\n');
        }
        for e in &p.errors {
            out.push_str(&format!(
                "{}: {} {} {} ×{} ({}): {}\n",
                p.name,
                e.op,
                e.status,
                e.code,
                e.count,
                if e.expected { "expected" } else { "UNEXPECTED" },
                e.message
            ));
        }
    }
    out.push_str(&format!(
        "ratios (req/s over health req/s): orders {}, book {}, balances {}\n",
        ratio(r.ratios.orders_per_health),
        ratio(r.ratios.book_per_health),
        ratio(r.ratios.balances_per_health)
    ));
    if let Some(m) = &r.rss {
        out.push_str(&format!(
            "memory: RSS {:.1} MiB → {:.1} MiB with {} resting orders ({:.0} bytes/order), \
             {:.1} MiB when the last was applied, peak {:.1} MiB; placed in {:.1} s, \
             projected {:.1} s later\n",
            m.before_mib,
            m.after_mib,
            m.orders,
            m.bytes_per_order,
            m.placed_mib,
            m.peak_mib,
            m.place_seconds,
            m.project_seconds
        ));
    }
    if let (Some(m), Some(c), Some(b)) = (
        &r.rss,
        r.rss.as_ref().and_then(|m| m.core_alone_mib),
        r.rss.as_ref().and_then(|m| m.core_alone_bytes_per_order),
    ) {
        out.push_str(&format!(
            "memory: the core alone grows {c:.1} MiB with the same {} orders ({b:.0} bytes/order)\n",
            m.orders
        ));
    }
    if let Some(rows) = &r.startup {
        out.push_str(&journal::table(rows));
    }
    let la = |v: Option<f64>| v.map_or_else(|| "?".into(), |v| format!("{v:.2}"));
    out.push_str(&format!(
        "machine: {} cores, 1-min load average {} at the start, {} at the end\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        la(r.loadavg[0]),
        la(r.loadavg[1])
    ));
    out.push_str(&if r.ok {
        "No unexpected errors.\n".to_owned()
    } else {
        format!("{} UNEXPECTED errors.\n", r.unexpected_errors)
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::e2e::http::Answer;
    use bytes::Bytes;

    fn answer(status: u16, body: &'static str) -> Answer {
        Answer {
            status,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn phase(name: &str, per_sec: f64) -> Phase {
        let mut p = Phase::new(name, 1, None, &Tally::new(), 1.0);
        p.per_sec = per_sec;
        p
    }

    #[test]
    fn tallies_merge_and_classify_errors() {
        let mut a = Tally::new();
        a.answer(Op::Place, &answer(201, "{}"), 1000);
        a.answer(
            Op::Cancel,
            &answer(404, r#"{"error":{"code":"UNKNOWN_ORDER","message":"m"}}"#),
            2000,
        );
        let mut b = Tally::new();
        b.answer(
            Op::Place,
            &answer(
                422,
                r#"{"error":{"code":"INSUFFICIENT_BALANCE","message":"x"}}"#,
            ),
            3000,
        );
        b.answer(
            Op::Place,
            &answer(404, r#"{"error":{"code":"UNKNOWN_ORDER","message":"m"}}"#),
            3000,
        );
        b.transport(Op::Cross, "reset");
        b.answer(
            Op::Cancel,
            &answer(404, r#"{"error":{"code":"UNKNOWN_ORDER","message":"m"}}"#),
            2000,
        );
        a.merge(b);
        let p = Phase::new("orders", 4, None, &a, 2.0);
        assert_eq!(p.requests, 6);
        assert_eq!(p.answered, 5);
        assert_eq!(p.ok, 1);
        assert_eq!(p.per_sec, 2.5);
        assert_eq!(p.ok_per_sec, 0.5);
        assert_eq!(p.expected_errors, 2, "two cancels answered UNKNOWN_ORDER");
        // A place answered UNKNOWN_ORDER is not the expected race; nor is a transport error.
        assert_eq!(p.unexpected_errors, 3);
        assert_eq!(p.errors_by_code["UNKNOWN_ORDER"], 3);
        assert_eq!(p.errors_by_code["TRANSPORT"], 1);
        assert_eq!(p.sent["place"], 3);
        assert!(p.p50_ms >= 1.9 && p.p50_ms <= 3.1, "{}", p.p50_ms);
        assert!(p.p50_ms <= p.p99_ms && p.p99_ms <= p.p999_ms && p.p999_ms <= p.max_ms);
    }

    #[test]
    fn ratios_are_over_health_and_absent_without_it() {
        let r = ratios(
            Some(&phase("orders", 500.0)),
            Some(&phase("health", 2000.0)),
            Some(&phase("book", 1000.0)),
            None,
        );
        assert_eq!(r.orders_per_health, Some(0.25));
        assert_eq!(r.book_per_health, Some(0.5));
        assert_eq!(r.balances_per_health, None);
        let none = ratios(Some(&phase("orders", 1.0)), None, None, None);
        assert_eq!(none.orders_per_health, None);
        let zero = ratios(
            Some(&phase("orders", 1.0)),
            Some(&phase("health", 0.0)),
            None,
            None,
        );
        assert_eq!(zero.orders_per_health, None);
    }

    #[test]
    fn report_is_one_json_object_with_every_figure() {
        let mut orders = phase("orders", 100.0);
        orders.unexpected_errors = 2;
        let r = Report {
            target: "in-process".into(),
            users: 2,
            concurrency: 4,
            mix: Mix::default(),
            orders: Some(orders),
            orders_open_loop: None,
            health: Some(phase("health", 400.0)),
            book: Some(phase("book", 200.0)),
            balances: Some(phase("balances", 100.0)),
            ratios: ratios(None, None, None, None),
            ws: None,
            rss: None,
            startup: None,
            loadavg: [None, None],
            unexpected_errors: 0,
            ok: true,
            metrics_cost: None,
        }
        .finish();
        assert!(!r.ok);
        assert_eq!(r.unexpected_errors, 2);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for key in ["orders", "health", "book", "balances"] {
            for f in ["per_sec", "p50_ms", "p99_ms", "p999_ms", "errors_by_code"] {
                assert!(!v[key][f].is_null(), "{key}.{f}");
            }
        }
        assert_eq!(v["ratios"]["orders_per_health"], 0.25);
        assert_eq!(v["ratios"]["book_per_health"], 0.5);
        assert_eq!(v["ratios"]["balances_per_health"], 0.25);
        assert_eq!(v["mix"]["place"], 70);
        assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), r);
        assert!(table(&r).contains("UNEXPECTED"));
    }
}
