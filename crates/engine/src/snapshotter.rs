//! The sequencer's snapshot writer: a background thread, so the sequencer only pays for
//! encoding the core, and only for snapshots that will be written (see the sequencer's
//! rules).

use bourse_journal::{Seq, SnapshotStore};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Writes snapshots on a background thread so the sequencer only pays for encoding, and
/// only for snapshots that will be written.
pub(crate) struct Snapshotter {
    tx: std::sync::mpsc::SyncSender<(Seq, Vec<u8>)>,
    /// Set by `offer` when it hands a snapshot over, cleared by the writer once that
    /// snapshot is saved (or failed). The sequencer is the only one that sets it, so a
    /// set flag means the channel holds or the writer works on a snapshot.
    busy: Arc<AtomicBool>,
    /// Sequence of the oldest snapshot on disk after the last save (0: none yet).
    pub(crate) oldest_kept: Arc<AtomicU64>,
    join: std::thread::JoinHandle<()>,
}

impl Snapshotter {
    pub(crate) fn spawn(store: SnapshotStore) -> std::io::Result<Self> {
        let oldest_kept = Arc::new(AtomicU64::new(0));
        let oldest = oldest_kept.clone();
        let mut s = Self::spawn_with(move |seq, bytes| {
            let started = std::time::Instant::now();
            let hash = *blake3::hash(bytes).as_bytes();
            let saved = store.save(seq, hash, bytes);
            metrics::histogram!(crate::metrics::SNAPSHOT_SECONDS).record(started.elapsed());
            match saved {
                Ok(path) => tracing::info!(seq, path = %path.display(), "snapshot written"),
                Err(e) => tracing::warn!(seq, error = %e, "snapshot failed"),
            }
            if let Ok(Some(o)) = store.oldest_seq() {
                oldest.store(o, Ordering::Release);
            }
        })?;
        s.oldest_kept = oldest_kept;
        Ok(s)
    }

    /// The writer thread around `write` (the file store, or a test's probe).
    fn spawn_with(mut write: impl FnMut(Seq, &[u8]) + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Seq, Vec<u8>)>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let done = busy.clone();
        let join = std::thread::Builder::new()
            .name("bourse-snapshot".into())
            .spawn(move || {
                for (seq, bytes) in rx {
                    write(seq, &bytes);
                    drop(bytes);
                    done.store(false, Ordering::Release);
                }
            })?;
        Ok(Self {
            tx,
            busy,
            oldest_kept: Arc::new(AtomicU64::new(0)),
            join,
        })
    }

    /// Hands the snapshot `encode` makes over to the writer, unless the writer is still
    /// busy with the previous one: then `encode` is not called and `false` says "ask
    /// again later".
    pub(crate) fn offer(&mut self, seq: Seq, encode: impl FnOnce() -> Vec<u8>) -> bool {
        if self.busy.load(Ordering::Acquire) {
            return false;
        }
        self.busy.store(true, Ordering::Release);
        match self.tx.try_send((seq, encode())) {
            Ok(()) => true,
            Err(e) => {
                // Full cannot happen (busy was clear, so the channel is empty); a gone
                // writer can. `busy` stays set: no more encoding for nothing.
                tracing::error!(seq, error = %e, "snapshot writer is gone; no more snapshots");
                false
            }
        }
    }

    pub(crate) fn finish(self) {
        drop(self.tx);
        let _ = self.join.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A writer stuck on a slow disk: offers made meanwhile must not encode the core.
    #[test]
    fn the_core_is_encoded_only_when_the_writer_is_idle() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let written = Arc::new(Mutex::new(Vec::new()));
        let w = written.clone();
        let mut s = Snapshotter::spawn_with(move |seq, bytes| {
            gate.recv().expect("released");
            w.lock().unwrap().push((seq, bytes.to_vec()));
        })
        .unwrap();
        let encoded = AtomicUsize::new(0);
        let encode = |seq: Seq| {
            encoded.fetch_add(1, Ordering::SeqCst);
            seq.to_le_bytes().to_vec()
        };

        assert!(s.offer(10, || encode(10)));
        for seq in 11..200 {
            assert!(!s.offer(seq, || encode(seq)), "busy writer took {seq}");
        }
        assert_eq!(encoded.load(Ordering::SeqCst), 1, "encoded for nothing");

        release.send(()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while s.busy.load(Ordering::Acquire) {
            assert!(
                std::time::Instant::now() < deadline,
                "writer never finished"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(s.offer(200, || encode(200)));
        assert_eq!(encoded.load(Ordering::SeqCst), 2);
        release.send(()).unwrap();
        s.finish();
        assert_eq!(
            *written.lock().unwrap(),
            vec![
                (10, 10u64.to_le_bytes().to_vec()),
                (200, 200u64.to_le_bytes().to_vec())
            ]
        );
    }
}
