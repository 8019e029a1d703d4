//! `bourse-bench journal`: the durable path — sequencer + file journal, replay and
//! start-up.
//!
//! The command stream is the engine benchmark's W1 (one market, 2,000 users,
//! exchange-core's mix: 90 % moves, cancels, reduces, IOCs) as the real `Command`s a
//! gateway sends ([`engines::bourse_core`](crate::engines::bourse_core)), after the setup
//! commands (assets, market, users, deposits, the initial book) and an `admin` user.
//!
//! Measured, each in a fresh temporary directory (`--dir` picks where; it must be a real
//! disk for the fsync numbers to mean anything):
//! - **sequencer**: durable commands per second through `bourse_engine::sequencer` at
//!   each batch limit. The setup is journaled and applied up front; then
//!   `min(--tasks, 4 × batch limit)` (at least 16) concurrent tokio tasks each submit
//!   one command at a time (taking the next command
//!   of the shared stream) for `--seconds`. A reply means journaled (one `write` +
//!   `fdatasync` per batch) and applied. The journal is wrapped to time each append: the
//!   p50/p99 of that write + fdatasync, and the mean batch size. Tasks race for the
//!   stream, so some amends and cancels name an order that is not (yet) theirs and are
//!   rejected — still a journaled command; the row says how many.
//! - **replay**: a journal of `--commands` commands (default 1M) is built once (written
//!   in batches of 4,096 while a core applies it). Then: opening it (every record's
//!   checksum is validated), reading + decoding every record, and reading + applying
//!   every record to a fresh core.
//! - **start-up**: `bourse::start` on that data dir until it listens, with read
//!   models that are already up to date (as after a normal shutdown), first without a
//!   snapshot (full replay) and then with one 50,000 commands before the end (half the
//!   default snapshot interval: the average case).
//!
//! Targets (issue "Durability"): ≥ 200k durable commands/s with group commit, replay
//! ≥ 2M commands/s, start-up with 1M commands ≤ 2 s.

use crate::engines::bourse_core::{setup_commands, step_command};
use crate::workload;
use bourse_core::{Core, CoreConfig};
use bourse_engine::sequencer::{self, Outputs, SequencerConfig};
use bourse_journal::{
    FileJournal, FileJournalConfig, Journal, JournalError, RecordIter, Seq, SnapshotStore,
};
use bourse_model::{Command, CommandKind, Event, Role, Timestamp};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `bourse-bench journal` is asked to do.
#[derive(Debug, Clone)]
pub struct Params {
    pub batch_limits: Vec<usize>,
    pub seconds: f64,
    pub tasks: usize,
    pub commands: usize,
    pub snapshot_back: u64,
    pub dir: PathBuf,
}

impl Params {
    pub fn new(smoke: bool) -> Self {
        Params {
            batch_limits: vec![1, 4, 16, 64, 256, 1024],
            seconds: if smoke { 0.25 } else { 3.0 },
            tasks: 4096,
            commands: if smoke { 30_000 } else { 1_000_000 },
            snapshot_back: if smoke { 5_000 } else { 50_000 },
            dir: std::env::temp_dir(),
        }
    }
}

/// One result line (`--json` prints each as one object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `sequencer`, `replay` or `startup`.
    pub bench: String,
    pub case: String,
    /// Commands processed.
    pub ops: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_limit: Option<usize>,
    /// Mean commands per journal append (group commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_batch: Option<f64>,
    /// Latency of one journal append (write + fdatasync), microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync_p50_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync_p99_us: Option<u64>,
    /// Commands the core answered with a rejection (sequencer rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u64>,
    /// The target for this row, if it has one, and whether it was met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meets_target: Option<bool>,
}

impl Row {
    fn new(bench: &str, case: String, ops: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Row {
            bench: bench.into(),
            case,
            ops,
            seconds,
            ops_per_sec: ops as f64 / seconds.max(1e-9),
            batch_limit: None,
            mean_batch: None,
            fsync_p50_us: None,
            fsync_p99_us: None,
            rejected: None,
            target: None,
            meets_target: None,
        }
    }

    fn target(mut self, text: &str, met: bool) -> Self {
        self.target = Some(text.into());
        self.meets_target = Some(met);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("server: {0}")]
    Server(String),
    #[error("{0}")]
    Check(String),
}

/// The timestamps of the generated stream: one millisecond per 100 commands.
const T0: u64 = 1_750_000_000_000;

/// Setup (journaled up front) and the timed stream of commands.
pub struct Stream {
    pub setup: Vec<Command>,
    pub steps: Vec<CommandKind>,
}

/// W1 as commands, `total` of them in all (setup included).
pub fn stream(total: usize) -> Stream {
    let mut spec = workload::standard("W1", false).expect("W1 exists");
    let mut setup = setup_commands(&spec);
    setup.push(CommandKind::RegisterUser {
        username: "admin".into(),
        password_hash: String::new(),
        role: Role::Admin,
    });
    spec.ops = total.saturating_sub(setup.len() + spec.resting).max(1);
    let w = workload::generate(&spec);
    setup.extend(w.setup.iter().map(step_command));
    Stream {
        setup: setup
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Command::new(T0 + i as u64 / 100, kind))
            .collect(),
        steps: w.steps.iter().map(step_command).collect(),
    }
}

/// Runs everything; `on_row` sees each row as soon as it is measured.
pub fn run(
    p: &Params,
    pb: &ProgressBar,
    on_row: &mut dyn FnMut(&Row) -> std::io::Result<()>,
) -> Result<Vec<Row>, BenchError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    pb.set_message("generating W1 commands");
    let s = stream(p.commands);
    pb.set_length((p.batch_limits.len() + 5) as u64);
    let mut rows = Vec::new();
    let mut emit = |row: Row, rows: &mut Vec<Row>| -> Result<(), BenchError> {
        on_row(&row)?;
        rows.push(row);
        pb.inc(1);
        Ok(())
    };
    for &limit in &p.batch_limits {
        pb.set_message(format!("sequencer, batch limit {limit}"));
        let row = sequencer_row(&rt, p, &s, limit)?;
        emit(row, &mut rows)?;
    }
    let (data, built) = built_journal(p, &s, pb)?;
    for row in replay_rows(data.path(), &built)? {
        emit(row, &mut rows)?;
    }
    pb.set_message("start-up");
    for row in startup_rows(&rt, data.path(), &built)? {
        emit(row, &mut rows)?;
    }
    Ok(rows)
}

/// The start-up rows alone (`bourse-bench e2e` reports them beside its HTTP figures):
/// the same `p.commands`-command journal, the same two starts.
pub fn startup_only(p: &Params, pb: &ProgressBar) -> Result<Vec<Row>, BenchError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    pb.set_message("generating W1 commands");
    let s = stream(p.commands);
    let (data, built) = built_journal(p, &s, pb)?;
    pb.set_message("start-up");
    startup_rows(&rt, data.path(), &built)
}

/// A temporary data dir under `p.dir` holding the journal of `s`.
fn built_journal(
    p: &Params,
    s: &Stream,
    pb: &ProgressBar,
) -> Result<(tempfile::TempDir, Built), BenchError> {
    let data = tempfile::Builder::new()
        .prefix("bourse-bench-journal")
        .tempdir_in(&p.dir)?;
    pb.set_message(format!("building a {}-command journal", p.commands));
    let built = build_journal(data.path(), s, p.snapshot_back)?;
    Ok((data, built))
}

/// Journal append timings and batch sizes, recorded on the sequencer thread.
struct AppendStats {
    micros: Histogram<u64>,
    appends: u64,
    commands: u64,
}

/// A file journal that times every append.
struct Timed {
    inner: FileJournal,
    stats: Arc<Mutex<AppendStats>>,
}

impl Journal for Timed {
    fn append(&mut self, cmds: &[Command]) -> Result<Seq, JournalError> {
        let t = Instant::now();
        let r = self.inner.append(cmds);
        let us = t.elapsed().as_micros() as u64;
        let mut s = self.stats.lock().expect("stats lock");
        s.micros.saturating_record(us.max(1));
        s.appends += 1;
        s.commands += cmds.len() as u64;
        r
    }
    fn last_seq(&self) -> Seq {
        self.inner.last_seq()
    }
    fn read_from(&self, from: Seq) -> Result<RecordIter<'_>, JournalError> {
        self.inner.read_from(from)
    }
    fn poisoned(&self) -> Option<&str> {
        self.inner.poisoned()
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static bounds")
}

fn sequencer_row(
    rt: &tokio::runtime::Runtime,
    p: &Params,
    s: &Stream,
    batch_limit: usize,
) -> Result<Row, BenchError> {
    let dir = tempfile::Builder::new()
        .prefix("bourse-bench-seq")
        .tempdir_in(&p.dir)?;
    let (mut journal, _) = FileJournal::open(FileJournalConfig::new(dir.path().join("journal")))?;
    let last = journal.append(&s.setup)?;
    let mut core = Core::new(CoreConfig::default());
    for c in &s.setup {
        core.apply(c);
    }
    let stats = Arc::new(Mutex::new(AppendStats {
        micros: histogram(),
        appends: 0,
        commands: 0,
    }));
    let journal = Timed {
        inner: journal,
        stats: stats.clone(),
    };
    let last_ts = s.setup.last().map_or(0, |c| c.ts.0);
    let steps = Arc::new(s.steps.clone());
    // Enough waiting submitters to fill every batch, but not so many that draining
    // the queue after the deadline (one fsync per `batch_limit`) dominates the row.
    let tasks = p.tasks.min((4 * batch_limit).max(16));
    let duration = Duration::from_secs_f64(p.seconds);
    let (done, rejected, elapsed) = rt.block_on(async move {
        let (ptx, mut prx) = bourse_engine::feed::channel("projector", usize::MAX);
        // The projector's place: drop what is applied (the read side is not measured).
        tokio::spawn(async move { while prx.recv().await.is_some() {} });
        let (handle, thread) = sequencer::spawn(
            core,
            Some(Box::new(journal)),
            last,
            last_ts,
            SequencerConfig {
                leader: None,
                batch_limit,
                queue_capacity: tasks.max(1024),
                snapshot_every: 0,
                prune_journal: false,
                feed_capacity: usize::MAX,
            },
            Outputs {
                projector: ptx,
                snapshots: None,
            },
        )?;
        let next = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let rejected = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + duration;
        let mut joins = Vec::with_capacity(tasks);
        for _ in 0..tasks {
            let (h, steps) = (handle.clone(), steps.clone());
            let (next, done, rejected) = (next.clone(), done.clone(), rejected.clone());
            joins.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(kind) = steps.get(i) else { break };
                    let applied = h.submit(kind.clone()).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                    if applied.rejected().is_some() {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok::<(), sequencer::SequencerError>(())
            }));
        }
        for j in joins {
            j.await
                .map_err(|e| BenchError::Server(e.to_string()))?
                .map_err(|e| BenchError::Server(e.to_string()))?;
        }
        let elapsed = start.elapsed();
        handle.stop().await;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| BenchError::Server(e.to_string()))?
            .map_err(|_| BenchError::Server("the sequencer panicked".into()))?;
        Ok::<_, BenchError>((
            done.load(Ordering::Relaxed),
            rejected.load(Ordering::Relaxed),
            elapsed,
        ))
    })?;
    let st = stats.lock().expect("stats lock");
    let mut row = Row::new(
        "sequencer",
        format!("file journal, batch limit {batch_limit}"),
        done,
        elapsed,
    );
    row.batch_limit = Some(batch_limit);
    row.mean_batch = Some(st.commands as f64 / st.appends.max(1) as f64);
    row.fsync_p50_us = Some(st.micros.value_at_quantile(0.5));
    row.fsync_p99_us = Some(st.micros.value_at_quantile(0.99));
    row.rejected = Some(rejected);
    if batch_limit >= 256 {
        let rate = row.ops_per_sec;
        row = row.target("≥ 200k/s", rate >= 200_000.0);
    }
    Ok(row)
}

/// The journal written once for the replay and start-up rows.
struct Built {
    last: Seq,
    last_ts: u64,
    state_hash: [u8; 32],
    /// A snapshot `(seq, state hash, bytes)` `snapshot_back` commands before the end.
    snapshot: Option<(Seq, [u8; 32], Vec<u8>)>,
}

fn build_journal(data_dir: &Path, s: &Stream, snapshot_back: u64) -> Result<Built, BenchError> {
    let (mut journal, _) = FileJournal::open(FileJournalConfig::new(data_dir.join("journal")))?;
    let mut core = Core::new(CoreConfig::default());
    let total = (s.setup.len() + s.steps.len()) as u64;
    let snap_at = total.saturating_sub(snapshot_back);
    let base = s.setup.len() as u64;
    let all = s.setup.iter().cloned().chain(
        s.steps
            .iter()
            .enumerate()
            .map(|(i, k)| Command::new(T0 + (base + i as u64) / 100, k.clone())),
    );
    let mut batch = Vec::with_capacity(4096);
    let mut seq = 0;
    let mut snapshot = None;
    let mut last_ts = 0;
    for cmd in all {
        core.apply(&cmd);
        seq += 1;
        last_ts = cmd.ts.0;
        batch.push(cmd);
        if seq == snap_at && snap_at > 0 {
            snapshot = Some((seq, core.state_hash(), core.snapshot()));
        }
        if batch.len() == 4096 {
            journal.append(&batch)?;
            batch.clear();
        }
    }
    journal.append(&batch)?;
    core.check_invariants()
        .map_err(|e| BenchError::Check(format!("ledger invariants after the stream: {e}")))?;
    Ok(Built {
        last: journal.last_seq(),
        last_ts,
        state_hash: core.state_hash(),
        snapshot,
    })
}

fn replay_rows(data_dir: &Path, built: &Built) -> Result<Vec<Row>, BenchError> {
    let n = built.last;
    let t = Instant::now();
    let (journal, report) = FileJournal::open(FileJournalConfig::new(data_dir.join("journal")))?;
    let open = t.elapsed();
    if report.last_seq != n {
        return Err(BenchError::Check(format!(
            "reopened journal ends at {}, expected {n}",
            report.last_seq
        )));
    }

    let t = Instant::now();
    let mut count = 0u64;
    for rec in journal.read_from(1)? {
        let (_, cmd) = rec?;
        std::hint::black_box(&cmd);
        count += 1;
    }
    let read = t.elapsed();

    let mut core = Core::new(CoreConfig::default());
    let mut events: Vec<Event> = Vec::new();
    let t = Instant::now();
    for rec in journal.read_from(1)? {
        let (_, cmd) = rec?;
        events.clear();
        core.apply_into(&cmd, &mut events);
    }
    let apply = t.elapsed();
    if core.state_hash() != built.state_hash {
        return Err(BenchError::Check(
            "replay reached a different state hash than the build".into(),
        ));
    }
    drop(journal); // releases the directory lock for the start-up rows
    let read_row = Row::new("replay", "read + decode".into(), count, read);
    let apply_row = Row::new("replay", "read + decode + apply".into(), n, apply);
    let (r1, r2) = (read_row.ops_per_sec, apply_row.ops_per_sec);
    Ok(vec![
        Row::new("replay", "open (validate every record)".into(), n, open),
        read_row.target("≥ 2M/s", r1 >= 2_000_000.0),
        apply_row.target("≥ 2M/s", r2 >= 2_000_000.0),
    ])
}

fn startup_rows(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    built: &Built,
) -> Result<Vec<Row>, BenchError> {
    let config = bourse::Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        snapshot_every: 0,
        ..Default::default()
    };
    // Read models that are already up to date: mark every command projected (their
    // content does not matter to start-up, which then only rebuilds the core).
    rt.block_on(async {
        let store = bourse_store::Store::connect(&config.database_url())
            .await
            .map_err(|e| BenchError::Server(e.to_string()))?;
        let none: &[Event] = &[];
        let marks: Vec<(u64, Timestamp, &[Event])> = (1..=built.last)
            .map(|s| (s, Timestamp(built.last_ts), none))
            .collect();
        store
            .project(&marks)
            .await
            .map_err(|e| BenchError::Server(e.to_string()))?;
        store.close().await;
        Ok::<_, BenchError>(())
    })?;
    let mut rows = Vec::new();
    let start_once = |label: String| -> Result<Row, BenchError> {
        let (elapsed, hash) = rt.block_on(async {
            let t = Instant::now();
            let app = bourse::start(config.clone(), Default::default())
                .await
                .map_err(|e| BenchError::Server(e.to_string()))?;
            let elapsed = t.elapsed();
            let hash = app
                .state
                .seq
                .query(|core| core.state_hash())
                .await
                .map_err(|e| BenchError::Server(e.to_string()))?;
            app.shutdown().await;
            Ok::<_, BenchError>((elapsed, hash))
        })?;
        if hash != built.state_hash {
            return Err(BenchError::Check(format!(
                "{label}: the started server has a different state hash"
            )));
        }
        let row = Row::new("startup", label, built.last, elapsed);
        let secs = row.seconds;
        Ok(row.target("≤ 2 s", secs <= 2.0))
    };
    rows.push(start_once(format!("{} commands, no snapshot", built.last))?);
    if let Some((seq, hash, bytes)) = &built.snapshot {
        SnapshotStore::open(config.engine().snapshot_dir(), 3)?.save(*seq, *hash, bytes)?;
        rows.push(start_once(format!(
            "{} commands, snapshot at {seq}",
            built.last
        ))?);
    }
    Ok(rows)
}

fn count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// The human table with a footer on the targets.
pub fn table(rows: &[Row]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "bench",
        "case",
        "commands",
        "time",
        "commands/s",
        "mean batch",
        "append+fsync p50",
        "p99",
        "rejected",
        "target",
    ]);
    for r in rows {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let target = match (&r.target, r.meets_target) {
            (Some(t), Some(true)) => format!("{t} ✓"),
            (Some(t), _) => format!("{t} ✗"),
            _ => String::new(),
        };
        t.add_row(vec![
            Cell::new(&r.bench),
            Cell::new(&r.case),
            Cell::new(count(r.ops as f64)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3} s", r.seconds)).set_alignment(CellAlignment::Right),
            Cell::new(count(r.ops_per_sec)).set_alignment(CellAlignment::Right),
            Cell::new(opt(r.mean_batch.map(|b| format!("{b:.1}"))))
                .set_alignment(CellAlignment::Right),
            Cell::new(opt(r.fsync_p50_us.map(|v| format!("{v} µs"))))
                .set_alignment(CellAlignment::Right),
            Cell::new(opt(r.fsync_p99_us.map(|v| format!("{v} µs"))))
                .set_alignment(CellAlignment::Right),
            Cell::new(opt(r.rejected.map(|v| count(v as f64)))).set_alignment(CellAlignment::Right),
            Cell::new(target),
        ]);
    }
    let mut out = format!("{t}\n");
    let missed: Vec<String> = rows
        .iter()
        .filter(|r| r.meets_target == Some(false))
        .map(|r| format!("{} / {}", r.bench, r.case))
        .collect();
    if missed.is_empty() {
        out.push_str("All targets met.\n");
    } else {
        out.push_str(&format!("Targets missed: {}\n", missed.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Params {
        Params {
            batch_limits: vec![1, 64],
            seconds: 0.05,
            tasks: 64,
            commands: 8_000,
            snapshot_back: 500,
            dir: std::env::temp_dir(),
        }
    }

    #[test]
    fn rows_cover_every_case_and_agree_with_the_build() {
        let mut seen = 0;
        let rows = run(&tiny(), &ProgressBar::hidden(), &mut |_| {
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, rows.len());
        let benches: Vec<&str> = rows.iter().map(|r| r.bench.as_str()).collect();
        assert_eq!(
            benches,
            [
                "sequencer",
                "sequencer",
                "replay",
                "replay",
                "replay",
                "startup",
                "startup"
            ]
        );
        for r in &rows {
            assert!(r.ops > 0 && r.seconds > 0.0, "{r:?}");
        }
        // Group commit: with many tasks waiting, batches fill beyond one command.
        assert_eq!(rows[0].mean_batch, Some(1.0));
        assert!(rows[1].mean_batch.unwrap() > 1.0, "{:?}", rows[1]);
        assert!(rows[2..].iter().all(|r| r.ops == rows[2].ops));
        let json = serde_json::to_string(&rows[0]).unwrap();
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), rows[0]);
    }

    #[test]
    fn stream_is_deterministic_and_sized() {
        let a = stream(10_000);
        let b = stream(10_000);
        assert_eq!(a.setup, b.setup);
        assert_eq!(a.steps, b.steps);
        let total = a.setup.len() + a.steps.len();
        assert!((9_000..=11_000).contains(&total), "{total}");
    }
}
