//! The server process as the kernel sees it: resident memory and open file descriptors,
//! for `GET /api/v1/monitoring/system/status`.
//!
//! Read from `/proc/self` on each call (two small reads; the endpoint is admin-only and
//! polled every few seconds at most), so the figures are there with `[metrics]` off too.
//! Elsewhere than Linux they are `null`. Prometheus has the same two as
//! `bourse_process_resident_memory_bytes` and `bourse_process_open_fds`.

/// Resident set size in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Open file descriptors: the entries of `/proc/self/fd` (less the one reading it).
pub fn open_fds() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_new_descriptor_is_counted() {
        let before = open_fds().unwrap();
        let f = std::fs::File::open("/proc/self/status").unwrap();
        // Other test threads may open files meanwhile; ours is at least one more.
        assert!(open_fds().unwrap() > before);
        drop(f);
    }

    #[test]
    fn memory_grows_when_touched() {
        let before = resident_memory_bytes().unwrap();
        assert!(before > 0);
        let block = vec![1u8; 64 << 20];
        assert!(resident_memory_bytes().unwrap() >= before + (32 << 20));
        drop(block);
    }
}
