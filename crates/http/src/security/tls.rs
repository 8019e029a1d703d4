//! HTTPS: `[http.tls]` through the gateway's PEM loader (shared with the FIX listener),
//! offering HTTP/1.1 by ALPN, the only protocol the server speaks.

pub use bourse_gateway::tls::TlsFiles;

/// The acceptor for `files`, or why it cannot be built.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    bourse_gateway::tls::acceptor(files, &[b"http/1.1"])
}
