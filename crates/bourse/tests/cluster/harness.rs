//! A 3-node JetStream cluster of real `nats-server` processes on loopback ports, for the
//! cluster suite. Each node has its own store dir in a temp dir; every process is killed
//! when the [`NatsCluster`] is dropped (also when the test panics). Never touches the
//! shared server at 127.0.0.1:4222.
//!
//! The binary is `BOURSE_TEST_NATS_SERVER` or `nats-server` on the `PATH`/`/usr/sbin`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node {
    name: String,
    port: u16,
    cluster_port: u16,
    monitor_port: u16,
    child: Option<Child>,
}

pub struct NatsCluster {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
    cluster_name: String,
    http: reqwest::Client,
}

fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("BOURSE_TEST_NATS_SERVER") {
        return p.into();
    }
    let sbin = PathBuf::from("/usr/sbin/nats-server");
    if sbin.exists() {
        sbin
    } else {
        "nats-server".into()
    }
}

/// `n` distinct free loopback ports below the kernel's ephemeral range (32768 on): there no
/// outgoing connection (a route, a client) can take a port while its node is down, and
/// concurrent tests pick from a random spot of 20 000 ports.
fn free_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::with_capacity(n);
    let mut candidate = 12_000 + (rand::random::<u16>() % 20_000);
    while ports.len() < n {
        candidate = if candidate >= 32_000 {
            12_000
        } else {
            candidate + 1
        };
        if TcpListener::bind(("127.0.0.1", candidate)).is_ok() {
            ports.push(candidate);
        }
    }
    ports
}

impl NatsCluster {
    /// Starts three nodes and waits until JetStream has a meta leader on every one.
    pub async fn start() -> Self {
        let ports = free_ports(9);
        let dir = tempfile::tempdir().unwrap();
        let cluster_name = format!("bt{:06x}", rand::random::<u32>() & 0xffffff);
        let nodes = (0..3)
            .map(|i| Node {
                name: format!("{cluster_name}-n{i}"),
                port: ports[i],
                cluster_port: ports[3 + i],
                monitor_port: ports[6 + i],
                child: None,
            })
            .collect();
        let mut c = NatsCluster {
            nodes,
            dir,
            cluster_name,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        };
        for i in 0..3 {
            c.spawn(i);
        }
        c.wait_ready(Duration::from_secs(30)).await;
        c
    }

    fn spawn(&mut self, i: usize) {
        let routes = self
            .nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let node = &self.nodes[i];
        let store = self.dir.path().join(&node.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", node.name)))
            .unwrap();
        let child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-js", "-sd"])
            .arg(&store)
            .args(["-p", &node.port.to_string()])
            .args(["-m", &node.monitor_port.to_string()])
            .args([
                "-cluster",
                &format!("nats://127.0.0.1:{}", node.cluster_port),
            ])
            .args(["-routes", &routes])
            .args(["--cluster_name", &self.cluster_name])
            .args(["-n", &node.name])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts (set BOURSE_TEST_NATS_SERVER)");
        self.nodes[i].child = Some(child);
    }

    /// The client URLs of all three nodes, comma-separated (what `nats_url` takes).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// `kill -9` of node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again on its ports and store dir; waits until it sees a meta leader.
    pub async fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "node {i} is running");
        self.spawn(i);
        self.wait_ready(Duration::from_secs(30)).await;
    }

    async fn jsz(&self, i: usize, query: &str) -> Option<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/{query}", self.nodes[i].monitor_port);
        let r = self.http.get(url).send().await.ok()?;
        r.json().await.ok()
    }

    /// Waits until every running node reports the same JetStream meta leader.
    pub async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let mut leaders = Vec::new();
            for (i, n) in self.nodes.iter().enumerate() {
                if n.child.is_some() {
                    let v = self.jsz(i, "jsz").await;
                    leaders.push(
                        v.and_then(|v| v["meta_cluster"]["leader"].as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    );
                }
            }
            if leaders.iter().all(|l| !l.is_empty() && *l == leaders[0]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no JetStream meta leader within {within:?}: {leaders:?} (logs in {})",
                self.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The node holding the client connection named `name` (the journal's is
    /// `bourse-journal`), if any.
    pub async fn connected_node(&self, name: &str) -> Option<usize> {
        for (i, n) in self.nodes.iter().enumerate() {
            if n.child.is_none() {
                continue;
            }
            if let Some(v) = self.jsz(i, "connz?limit=1024").await {
                let conns = v["connections"].as_array().cloned().unwrap_or_default();
                if conns.iter().any(|c| c["name"] == name) {
                    return Some(i);
                }
            }
        }
        None
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
