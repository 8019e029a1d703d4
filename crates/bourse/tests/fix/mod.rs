//! FIX test helpers: a server with the test session, and a player for QuickFIX-style
//! definitions (`i`/`I`/`E`/`e` lines, see `shared/fix-conformance/README.md`). The player
//! frames and compares on its own (no code from `bourse-fix`), so it checks the wire, not
//! our codec against itself.
#![allow(dead_code)]

use crate::common::{self, Client};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection a [`Peer`] talks over: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub const SOH: char = '\u{1}';

pub struct TestServer {
    pub app: bourse::RunningApp,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server whose FIX listener (loopback, port 0) has the ISLD/TW44 test session.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::test_config(dir.path(), None);
        config.fix = fix_config();
        Self {
            app: common::start(config).await,
            _dir: dir,
        }
    }

    /// A server on `config` (whose data dir is `dir`).
    pub async fn with(config: bourse::Config, dir: tempfile::TempDir) -> Self {
        Self {
            app: common::start(config).await,
            _dir: dir,
        }
    }

    pub fn fix_addr(&self) -> SocketAddr {
        self.app.fix_addr.expect("FIX listener on")
    }

    pub async fn stop(self) {
        self.app.shutdown().await;
    }
}

pub fn fix_config() -> bourse_fix::FixConfig {
    bourse_fix::FixConfig {
        listen: Some("127.0.0.1:0".into()),
        test_session: Some(bourse_fix::TestSession {
            sender_comp_id: "ISLD".into(),
            target_comp_id: "TW44".into(),
            reset_on_logon: true,
        }),
        ..Default::default()
    }
}

/// Now as a FIX UTCTimestamp, shifted by `shift` seconds.
pub fn utc_time(shift: i64) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + shift * 1000;
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Replaces `<TIME>`, `<TIME+n>`, `<TIME-n>`.
fn substitute_times(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("<TIME") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('>').expect("closed <TIME…>");
        let shift = rest[start + 5..end].parse::<i64>().unwrap_or(0);
        out.push_str(&utc_time(shift));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `tag=value` pairs of a SOH-terminated message.
pub fn fields(msg: &str) -> Vec<(String, String)> {
    msg.split(SOH)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (t, v) = f.split_once('=').unwrap_or((f, ""));
            (t.to_owned(), v.to_owned())
        })
        .collect()
}

fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().map(|b| u32::from(*b)).sum::<u32>() % 256
}

/// Fills in BodyLength (after the first field) and CheckSum when the line lacks them.
pub fn complete(msg: &str) -> String {
    let mut f = fields(msg);
    if !f.iter().any(|(t, _)| t == "9") {
        let end = f.iter().position(|(t, _)| t == "10").unwrap_or(f.len());
        let len: usize = f[1..end].iter().map(|(t, v)| t.len() + v.len() + 2).sum();
        f.insert(1, ("9".into(), len.to_string()));
    }
    let mut out: String = f
        .iter()
        .filter(|(t, _)| t != "10")
        .map(|(t, v)| format!("{t}={v}{SOH}"))
        .collect();
    match f.iter().find(|(t, _)| t == "10") {
        Some((_, v)) => out.push_str(&format!("10={v}{SOH}")),
        None => out.push_str(&format!("10={:03}{SOH}", checksum(out.as_bytes()))),
    }
    out
}

fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 17 || (b.len() == 21 && b[17] == b'.' && digits(18..21)))
        && digits(0..8)
        && b[8] == b'-'
        && digits(9..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
}

/// Compares a received message with an `E` line as the README says.
pub fn compare(expected: &str, actual: &str) -> Result<(), String> {
    let exp = fields(expected);
    let mut act = fields(actual);
    if !exp.iter().any(|(t, _)| t == "10") {
        act.retain(|(t, _)| t != "10");
    }
    let show = |m: &str| m.replace(SOH, "|");
    let mismatch = || format!("expected {}\n     got {}", show(expected), show(actual));
    if exp.len() != act.len() {
        return Err(mismatch());
    }
    for ((et, ev), (at, av)) in exp.iter().zip(&act) {
        let ok = et == at
            && match et.as_str() {
                "10" => av.len() == 3 && av.bytes().all(|b| b.is_ascii_digit()),
                "52" | "42" | "60" | "122" => is_timestamp(av),
                _ => ev == av,
            };
        if !ok {
            return Err(mismatch());
        }
    }
    Ok(())
}

/// One connection of a definition, reading whole messages.
pub struct Peer {
    pub stream: Box<dyn Io>,
    buf: Vec<u8>,
}

impl Peer {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self::over(TcpStream::connect(addr).await?))
    }

    /// A peer on an established connection (a TLS stream, say).
    pub fn over(stream: impl Io + 'static) -> Self {
        Self {
            stream: Box::new(stream),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, msg: &str) -> std::io::Result<()> {
        self.stream.write_all(msg.as_bytes()).await?;
        // TLS holds records back until flushed.
        self.stream.flush().await
    }

    /// The next message (up to `SOH 10=ddd SOH`), checked for a correct BodyLength and
    /// CheckSum; `Ok(None)` when the server closed the connection.
    pub async fn read(&mut self, within: Duration) -> Result<Option<String>, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = frame_end(&self.buf) {
                let frame: Vec<u8> = self.buf.drain(..end).collect();
                let text = String::from_utf8(frame).map_err(|e| e.to_string())?;
                check_frame(&text)?;
                return Ok(Some(text));
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(format!("nothing within {within:?}")),
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

fn frame_end(buf: &[u8]) -> Option<usize> {
    let pat = b"\x0110=";
    let at = buf.windows(4).position(|w| w == pat)?;
    (buf.len() >= at + 8 && buf[at + 7] == 1).then_some(at + 8)
}

/// BodyLength and CheckSum of a server frame are right.
fn check_frame(text: &str) -> Result<(), String> {
    let f = fields(text);
    let (Some(("8", _)), Some(("9", len))) = (
        f.first().map(|(t, v)| (t.as_str(), v.as_str())),
        f.get(1).map(|(t, v)| (t.as_str(), v.as_str())),
    ) else {
        return Err(format!("frame does not start with 8, 9: {text:?}"));
    };
    let body_start = text.find(&format!("{SOH}9={len}{SOH}")).unwrap() + len.len() + 4;
    let trailer = text.rfind(&format!("{SOH}10=")).unwrap() + 1;
    if len.parse::<usize>() != Ok(trailer - body_start) {
        return Err(format!("wrong BodyLength in {text:?}"));
    }
    if text[trailer + 3..trailer + 6].parse::<u32>() != Ok(checksum(&text.as_bytes()[..trailer])) {
        return Err(format!("wrong CheckSum in {text:?}"));
    }
    Ok(())
}

/// Splits `1,rest` into (connection number, rest); no number means connection 1.
fn connection(s: &str) -> (u32, &str) {
    match s.split_once(',') {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (n.parse().unwrap(), rest)
        }
        _ => (1, s),
    }
}

/// Plays a definition against `addr`; the error names the failing line.
pub async fn play(definition: &str, addr: SocketAddr) -> Result<(), String> {
    let mut peers: HashMap<u32, Peer> = HashMap::new();
    for (i, raw) in definition.lines().enumerate() {
        let line = raw.trim_end_matches(['\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", i + 1);
        let (kind, rest) = line.split_at(1);
        let (n, body) = connection(rest);
        match (kind, body) {
            ("i", "CONNECT") => {
                let p = Peer::connect(addr).await.map_err(|e| at(e.to_string()))?;
                peers.insert(n, p);
            }
            ("i", "DISCONNECT") => {
                peers.remove(&n);
            }
            ("e", "DISCONNECT") => {
                let p = peers
                    .get_mut(&n)
                    .ok_or_else(|| at("no such connection".into()))?;
                // Whatever comes first (a Logout with the reason, say), the connection
                // must close.
                loop {
                    match p.read(Duration::from_secs(15)).await.map_err(at)? {
                        None => break,
                        Some(_) => continue,
                    }
                }
                peers.remove(&n);
            }
            ("I", msg) => {
                let p = peers
                    .get_mut(&n)
                    .ok_or_else(|| at("no such connection".into()))?;
                let msg = complete(&substitute_times(msg));
                // A closed connection shows up at the next E or e line.
                let _ = p.send(&msg).await;
            }
            ("E", msg) => {
                let p = peers
                    .get_mut(&n)
                    .ok_or_else(|| at("no such connection".into()))?;
                let expected = substitute_times(msg);
                match p.read(Duration::from_secs(20)).await.map_err(at)? {
                    None => {
                        return Err(at(format!(
                            "closed; expected {}",
                            expected.replace(SOH, "|")
                        )))
                    }
                    Some(actual) => compare(&expected, &actual).map_err(at)?,
                }
            }
            _ => return Err(at(format!("unknown directive {line:?}"))),
        }
    }
    Ok(())
}

pub const WAIT: Duration = Duration::from_secs(10);

/// `fields` as a SOH message with BodyLength and CheckSum.
pub fn msg(fields: &[(&str, &str)]) -> String {
    let body: String = fields
        .iter()
        .map(|(t, v)| format!("{t}={v}{SOH}"))
        .collect();
    complete(&format!("8=FIX.4.4{SOH}{body}"))
}

/// `m` with BodyLength and CheckSum computed again (after an edit).
pub fn reframe(m: &str) -> String {
    let kept: String = fields(m)
        .into_iter()
        .filter(|(t, _)| t != "9" && t != "10")
        .map(|(t, v)| format!("{t}={v}{SOH}"))
        .collect();
    complete(&kept)
}

pub fn get<'a>(m: &'a [(String, String)], tag: &str) -> Option<&'a str> {
    m.iter().find(|(t, _)| t == tag).map(|(_, v)| v.as_str())
}

pub async fn expect(p: &mut Peer, msg_type: &str) -> Vec<(String, String)> {
    let m = p.read(WAIT).await.unwrap().expect("a message, not a close");
    let f = fields(&m);
    assert_eq!(get(&f, "35"), Some(msg_type), "{}", m.replace(SOH, "|"));
    f
}

pub async fn expect_close(p: &mut Peer) {
    let next = p.read(WAIT).await.unwrap();
    assert!(next.is_none(), "expected a close, got {next:?}");
}

pub fn sign(secret: &str, payload: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A signed Logon of `sender` to BOURSE.
pub fn logon(key: &str, secret: &str, sender: &str, seq: u64, reset: bool) -> String {
    logon_with(key, secret, sender, seq, reset, &[])
}

/// A signed Logon with `extra` fields after the credentials.
pub fn logon_with(
    key: &str,
    secret: &str,
    sender: &str,
    seq: u64,
    reset: bool,
    extra: &[(&str, &str)],
) -> String {
    let time = utc_time(0);
    let seq = seq.to_string();
    let signature = sign(secret, &format!("{time}{seq}{sender}BOURSE"));
    let mut f = vec![
        ("35", "A"),
        ("34", seq.as_str()),
        ("49", sender),
        ("52", time.as_str()),
        ("56", "BOURSE"),
        ("98", "0"),
        ("108", "30"),
    ];
    if reset {
        f.push(("141", "Y"));
    }
    f.extend([("553", key), ("554", signature.as_str())]);
    f.extend_from_slice(extra);
    msg(&f)
}

/// An admin or application message of ALICE to BOURSE.
pub fn alice(msg_type: &str, seq: u64, extra: &[(&str, &str)]) -> String {
    from("ALICE", msg_type, seq, extra)
}

/// A message of `sender` to BOURSE.
pub fn from(sender: &str, msg_type: &str, seq: u64, extra: &[(&str, &str)]) -> String {
    let (seq, time) = (seq.to_string(), utc_time(0));
    let mut f = vec![
        ("35", msg_type),
        ("34", seq.as_str()),
        ("49", sender),
        ("52", time.as_str()),
        ("56", "BOURSE"),
    ];
    f.extend_from_slice(extra);
    msg(&f)
}

/// A new trader `user` and an API key of theirs (default permissions).
pub async fn api_key(server: &TestServer, user: &str) -> (String, String) {
    let c = Client::new(server.app.addr);
    let token = c.trader(user).await;
    key_for(&c, &token, None).await
}

/// An API key of the user of `token`, with `permissions` (the default when `None`).
pub async fn key_for(c: &Client, token: &str, permissions: Option<&[&str]>) -> (String, String) {
    let mut body = json!({"label": "fix"});
    if let Some(p) = permissions {
        body["permissions"] = json!(p);
    }
    let (s, key) = c.post("/api/v1/api-keys", Some(token), body).await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{key}");
    (
        key["key"].as_str().unwrap().to_owned(),
        key["secret"].as_str().unwrap().to_owned(),
    )
}

/// A logged-on API-key session that numbers its own messages.
pub struct Session {
    pub peer: Peer,
    pub sender: String,
    pub seq: u64,
}

impl Session {
    /// Logs `sender` on with the key (ResetSeqNumFlag=Y) and `extra` Logon fields.
    pub async fn logon(
        server: &TestServer,
        (key, secret): &(String, String),
        sender: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let peer = Peer::connect(server.fix_addr()).await.unwrap();
        Self::logon_over(peer, &(key.clone(), secret.clone()), sender, extra).await
    }

    /// [`logon`](Self::logon) on a connection already made (TLS).
    pub async fn logon_over(
        mut peer: Peer,
        (key, secret): &(String, String),
        sender: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        peer.send(&logon_with(key, secret, sender, 1, true, extra))
            .await
            .unwrap();
        expect(&mut peer, "A").await;
        Self {
            peer,
            sender: sender.to_owned(),
            seq: 1,
        }
    }

    pub async fn send(&mut self, msg_type: &str, extra: &[(&str, &str)]) {
        self.seq += 1;
        let m = from(&self.sender, msg_type, self.seq, extra);
        self.peer.send(&m).await.unwrap();
    }

    pub async fn expect(&mut self, msg_type: &str) -> Vec<(String, String)> {
        expect(&mut self.peer, msg_type).await
    }

    /// Nothing arrives within `within`.
    pub async fn quiet(&mut self, within: Duration) {
        if let Ok(Some(m)) = self.peer.read(within).await {
            panic!("unexpected {}", m.replace(SOH, "|"));
        }
    }
}

/// Every value of `tag`, in order (a repeating group's entries).
pub fn all<'a>(m: &'a [(String, String)], tag: &str) -> Vec<&'a str> {
    m.iter()
        .filter(|(t, _)| t == tag)
        .map(|(_, v)| v.as_str())
        .collect()
}
