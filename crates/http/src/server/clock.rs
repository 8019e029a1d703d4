//! The timers of one HTTP connection, read by the connection's watchdog.
//!
//! hyper's own `header_read_timeout` starts whenever the connection waits for a head,
//! so it also ends every idle keep-alive connection at the same time: the header and the
//! idle timeouts could not differ. This clock tells the phases apart:
//!
//! | phase | starts | the connection is closed |
//! |---|---|---|
//! | fresh | accepted | `header_read` after the accept, unless a request began and ended |
//! | head | first byte after a response | `header_read` after that byte, unless the head is complete |
//! | busy | head complete (the service is called) | never by the clock: the request timeout bounds it |
//! | idle | response returned | `idle` after the last byte read or written |
//!
//! The bytes are counted by [`Tracked`], the connection's IO (plaintext side of TLS).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fresh,
    Head,
    Busy,
    Idle,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// When the phase began (fresh, head).
    since: Instant,
    /// The last byte read or written.
    last_io: Instant,
}

#[derive(Debug)]
pub struct Clock {
    header_read: Duration,
    idle: Duration,
    state: Mutex<State>,
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    HeaderRead,
    Idle,
}

impl Clock {
    pub fn new(header_read: Duration, idle: Duration) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Self {
            header_read,
            idle,
            state: Mutex::new(State {
                phase: Phase::Fresh,
                since: now,
                last_io: now,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn on_read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.lock();
        let now = Instant::now();
        s.last_io = now;
        if s.phase == Phase::Idle {
            s.phase = Phase::Head;
            s.since = now;
        }
    }

    fn on_write(&self, n: usize) {
        if n > 0 {
            self.lock().last_io = Instant::now();
        }
    }

    /// The service was called: the head is complete.
    pub fn request_started(&self) {
        self.lock().phase = Phase::Busy;
    }

    /// The service answered (the body may still be on its way out).
    pub fn request_finished(&self) {
        let mut s = self.lock();
        s.phase = Phase::Idle;
        s.last_io = Instant::now();
    }

    /// When to look again, and whether the connection is past its time already.
    pub fn check(&self, now: Instant) -> Result<Instant, Expired> {
        let s = self.lock();
        let (deadline, why) = match s.phase {
            Phase::Fresh | Phase::Head => (s.since + self.header_read, Expired::HeaderRead),
            Phase::Idle => (s.last_io + self.idle, Expired::Idle),
            Phase::Busy => return Ok(now + self.header_read.min(self.idle)),
        };
        if now >= deadline {
            Err(why)
        } else {
            Ok(deadline)
        }
    }
}

/// IO that reports its traffic to a [`Clock`], and holds the connection's slot under
/// the caps for as long as the socket is open.
pub struct Tracked<IO> {
    pub io: IO,
    pub clock: Arc<Clock>,
    pub _slot: super::caps::Slot,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.io).poll_read(cx, buf);
        if res.is_ready() {
            self.clock.on_read(buf.filled().len() - before);
        }
        res
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            self.clock.on_write(n);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            self.clock.on_write(n);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_choose_the_deadline() {
        let clock = Clock::new(Duration::from_secs(10), Duration::from_secs(60));
        let t0 = Instant::now();
        // Fresh: the header timeout from the accept.
        assert!(clock.check(t0 + Duration::from_secs(9)).is_ok());
        assert_eq!(
            clock.check(t0 + Duration::from_secs(11)),
            Err(Expired::HeaderRead)
        );
        // Busy: never expires by the clock.
        clock.request_started();
        assert!(clock.check(t0 + Duration::from_secs(1000)).is_ok());
        // Idle: the idle timeout from the last byte.
        clock.request_finished();
        let t1 = Instant::now();
        assert!(clock.check(t1 + Duration::from_secs(59)).is_ok());
        assert_eq!(
            clock.check(t1 + Duration::from_secs(61)),
            Err(Expired::Idle)
        );
        // A first byte of the next head: the header timeout again.
        clock.on_read(5);
        let t2 = Instant::now();
        assert!(clock.check(t2 + Duration::from_secs(9)).is_ok());
        assert_eq!(
            clock.check(t2 + Duration::from_secs(11)),
            Err(Expired::HeaderRead)
        );
    }
}
