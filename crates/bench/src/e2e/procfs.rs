//! What `/proc` tells about this process: resident memory, and CPU time per thread.
//!
//! The in-process server and the load generator share one process, so CPU is split by
//! thread name: the two tokio runtimes name their threads ([`SERVER_THREADS`],
//! [`LOAD_THREADS`]); everything else (the sequencer thread, SQLite's worker threads, …)
//! is reported under its own name. That split is what tells which side was the
//! bottleneck on a machine whose cores both sides share.

use std::collections::BTreeMap;

/// Thread name of the server runtime's workers (and its blocking pool).
pub const SERVER_THREADS: &str = "e2e-server";
/// Thread name of the load generator runtime's workers.
pub const LOAD_THREADS: &str = "e2e-load";

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// A `VmRSS:`/`VmHWM:` line of `/proc/self/status`, in KiB.
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU ticks (user + system) so far, per thread name with trailing digits dropped
/// (`sqlx-sqlite-worker-3` and `-4` are one group).
pub fn thread_ticks() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((name, ticks)) = parse_stat(&stat) {
            *out.entry(name).or_default() += ticks;
        }
    }
    out
}

/// `(name, utime + stime)` from one `stat` line. The name sits in parentheses and may
/// itself hold spaces or parentheses, so the fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let name = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '#');
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    // After the name: state is field 3, utime and stime are fields 14 and 15.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name.to_owned(), ticks))
}

/// The 1-minute load average (`/proc/loadavg`): the machine's business around a run.
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU ticks (user + system) of the whole machine (`/proc/stat`: all but idle and iowait)
/// and of this process (`/proc/self/stat`, exited threads included), read together.
/// Their difference is what other processes used: on a machine shared with other work,
/// that says how far a run's figures were contended.
pub fn machine_and_self_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy = cpu.iter().take(8).sum::<u64>() - cpu.get(3)? - cpu.get(4)?;
    let me = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, ticks) = parse_stat(&me)?;
    Some((busy, ticks))
}

/// Cores that other processes used between two [`machine_and_self_ticks`] readings.
pub fn other_processes_cores(
    before: Option<(u64, u64)>,
    after: Option<(u64, u64)>,
    seconds: f64,
) -> Option<f64> {
    let ((m0, s0), (m1, s1)) = (before?, after?);
    let other = (m1 - m0).saturating_sub(s1 - s0);
    Some(other as f64 / TICKS_PER_SEC / seconds.max(1e-9))
}

/// Cores used per thread group between two [`thread_ticks`] readings `seconds` apart.
pub fn cores_used(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    seconds: f64,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .filter_map(|(name, &t)| {
            let d = t.saturating_sub(before.get(name).copied().unwrap_or(0));
            (d > 0).then(|| (name.clone(), d as f64 / TICKS_PER_SEC / seconds.max(1e-9)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_groups_numbered_threads() {
        let line = "123 (sqlx-sqlite-worker-3) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_stat(line), Some(("sqlx-sqlite-worker".into(), 300)));
        let odd = "7 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 3 4 0";
        assert_eq!(parse_stat(odd), Some(("a (b) c".into(), 7)));
    }

    #[test]
    fn cores_are_tick_deltas_over_wall_time() {
        let a = BTreeMap::from([("x".to_owned(), 100), ("y".to_owned(), 5)]);
        let b = BTreeMap::from([
            ("x".to_owned(), 300),
            ("y".to_owned(), 5),
            ("z".to_owned(), 50),
        ]);
        let c = cores_used(&a, &b, 2.0);
        assert_eq!(c.get("x"), Some(&1.0));
        assert_eq!(c.get("y"), None);
        assert_eq!(c.get("z"), Some(&0.25));
    }

    #[test]
    fn reads_this_process() {
        assert!(status_kib("VmRSS").unwrap_or(0) > 0);
        assert!(!thread_ticks().is_empty());
        let a = machine_and_self_ticks();
        assert!(a.is_some());
        assert!(other_processes_cores(a, machine_and_self_ticks(), 1.0).unwrap() >= 0.0);
    }
}
