//! The machine's floor under `bourse-bench ws`: the same fan-out with nothing but TCP.
//!
//! N loopback connections. Per burst, one thread writes one frame-sized message to every
//! server-side socket (a server with no per-connection cost at all: no task, no queue,
//! no WebSocket framing), and one thread reads every client socket through epoll (mio).
//! Latency is burst start → the read of that socket's message, over every (burst,
//! socket) pair, like the WebSocket benchmark's publish → client read. Bursts are spaced
//! so each starts on quiet sockets. Whatever Bourse's fan-out adds is the ratio of its
//! p99 to this one, measured in the same run on the same machine.

use hdrhistogram::Histogram;
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// About the size of one trades frame.
const FRAME: usize = 160;

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Floor {
    pub bursts: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Writer thread time per socket write.
    pub write_us: f64,
}

pub fn measure(n: usize, bursts: usize) -> Result<Floor, String> {
    let e = |e: std::io::Error| e.to_string();
    let listener = TcpListener::bind("127.0.0.1:0").map_err(e)?;
    let addr = listener.local_addr().map_err(e)?;
    let poll = Poll::new().map_err(e)?;
    let mut servers = Vec::with_capacity(n);
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let client = TcpStream::connect(addr).map_err(e)?;
        let (server, _) = listener.accept().map_err(e)?;
        server.set_nodelay(true).map_err(e)?;
        client.set_nodelay(true).map_err(e)?;
        client.set_nonblocking(true).map_err(e)?;
        let mut client = MioStream::from_std(client);
        poll.registry()
            .register(&mut client, Token(i), Interest::READABLE)
            .map_err(e)?;
        servers.push(server);
        clients.push(client);
    }

    let base = Instant::now();
    let started = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let reader = {
        let started = started.clone();
        std::thread::spawn(move || read_bursts(poll, clients, bursts, base, &started, &done_tx))
    };
    let frame = [b'x'; FRAME];
    let mut write_time = Duration::ZERO;
    for _ in 0..bursts {
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        started.store(t0.duration_since(base).as_nanos() as u64, Ordering::Release);
        for s in &mut servers {
            s.write_all(&frame).map_err(e)?;
        }
        write_time += t0.elapsed();
        // The next burst starts once this one is read in full.
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "floor: a burst was not read within 30 s".to_string())?;
    }
    let hist = reader
        .join()
        .map_err(|_| "floor: reader panicked".to_string())??;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Floor {
        bursts,
        p50_ms: ms(hist.value_at_quantile(0.5)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
        write_us: write_time.as_secs_f64() * 1e6 / (bursts * n).max(1) as f64,
    })
}

fn read_bursts(
    mut poll: Poll,
    mut clients: Vec<MioStream>,
    bursts: usize,
    base: Instant,
    started: &AtomicU64,
    done: &mpsc::Sender<()>,
) -> Result<Histogram<u64>, String> {
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 4096];
    let per_burst = clients.len() * FRAME;
    for _ in 0..bursts {
        let mut got = 0;
        while got < per_burst {
            poll.poll(&mut events, Some(Duration::from_secs(30)))
                .map_err(|e| e.to_string())?;
            if events.is_empty() {
                return Err("floor: no data for 30 s".into());
            }
            for ev in &events {
                // Edge-triggered: read until the socket is empty.
                let c = &mut clients[ev.token().0];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) => return Err("floor: a connection closed".into()),
                        Ok(k) => got += k,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.to_string()),
                    }
                }
                let at = base.elapsed().as_nanos() as u64;
                let us = at.saturating_sub(started.load(Ordering::Acquire)) / 1000;
                let _ = hist.record(us.max(1));
            }
        }
        let _ = done.send(());
    }
    Ok(hist)
}
