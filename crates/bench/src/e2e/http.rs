//! A minimal HTTP/1.1 keep-alive client: one hyper connection per load task.
//!
//! Why not a pooled client (reqwest): a closed-loop task never has more than one request
//! outstanding, so a pool would only add a lock and a lookup per request. One connection
//! per task is what a pool converges to anyway, at the least cost to the generator, which
//! shares the machine's cores with the server it measures.
//!
//! A transport failure (refused, reset, closed mid-answer) drops the connection; the next
//! request opens a new one. The failure is returned, never retried here: the caller counts
//! it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

/// An answer: status and the whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `error.code` of a `{"error":{"code":…}}` body, or `HTTP_<status>` when the body
    /// is not in that shape (so that every non-2xx answer has a key to be counted under).
    pub fn error_code(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Inner {
            code: String,
        }
        #[derive(serde::Deserialize)]
        struct Outer {
            error: Inner,
        }
        serde_json::from_slice::<Outer>(&self.body)
            .map(|o| o.error.code)
            .unwrap_or_else(|_| format!("HTTP_{}", self.status))
    }

    /// The `error.message` of an error body, if it has one (shown once per code).
    pub fn error_message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect()
            })
    }
}

/// One keep-alive connection to `addr`, reopened after a failure.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        let host = HeaderValue::from_str(&addr.to_string()).expect("an address is a valid header");
        Conn {
            addr,
            host,
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if self.sender.as_ref().is_some_and(|s| s.is_closed()) {
            self.sender = None;
        }
        if self.sender.is_none() {
            let tcp = tokio::net::TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            // Small requests go out at once (as the server does for its answers).
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, conn) = http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            // The connection's I/O is driven by its own task on the caller's runtime.
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("just set"))
    }

    /// Sends one request and reads the whole answer. `Err` is a transport failure.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&HeaderValue>,
        body: Option<Bytes>,
    ) -> Result<Answer, String> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, t.clone());
        }
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let result = async {
            let sender = self.connect().await?;
            sender.ready().await.map_err(|e| e.to_string())?;
            let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(Answer { status, body })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// `send` with a JSON body.
    pub async fn json(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&HeaderValue>,
        body: &serde_json::Value,
    ) -> Result<Answer, String> {
        let bytes = Bytes::from(serde_json::to_vec(body).map_err(|e| e.to_string())?);
        self.send(method, path, token, Some(bytes)).await
    }
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())
}

/// `http://host:port[/]` → the first address it resolves to. Plain HTTP only.
pub async fn resolve(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url {url:?}: only http:// URLs are supported"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let mut addrs = tokio::net::lookup_host(&hostport)
        .await
        .map_err(|e| format!("--url {url:?}: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--url {url:?}: no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_the_body_or_the_status() {
        let a = Answer {
            status: 404,
            body: Bytes::from_static(br#"{"error":{"code":"UNKNOWN_ORDER","message":"no"}}"#),
        };
        assert_eq!(a.error_code(), "UNKNOWN_ORDER");
        assert_eq!(a.error_message(), "no");
        let b = Answer {
            status: 502,
            body: Bytes::from_static(b"<html>bad gateway</html>"),
        };
        assert_eq!(b.error_code(), "HTTP_502");
        assert!(!b.ok());
    }
}
