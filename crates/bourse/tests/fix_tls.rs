//! The FIX listener over TLS (`[fix] tls = true`): a TLS client logs on and trades; a
//! plain-TCP Logon gets no FIX answer and is closed; failed or stalled handshakes leave
//! the listener serving; the certificate settings (own files, or `[http.tls]`'s) and
//! their refusals at start-up.

mod common;
mod fix;

use common::Client;
use fix::{expect_close, get, key_for, logon, Peer, Session, TestServer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// A self-signed certificate for `localhost`, written as PEM files in `dir`.
struct Cert {
    der: CertificateDer<'static>,
    files: bourse_gateway::tls::TlsFiles,
}

fn cert(dir: &std::path::Path) -> Cert {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = bourse_gateway::tls::TlsFiles {
        cert_file: dir.join("fix-cert.pem"),
        key_file: dir.join("fix-key.pem"),
    };
    std::fs::write(&files.cert_file, c.cert.pem()).unwrap();
    std::fs::write(&files.key_file, c.key_pair.serialize_pem()).unwrap();
    Cert {
        der: c.cert.der().clone(),
        files,
    }
}

/// A server whose FIX listener speaks TLS with its own certificate files (HTTP stays
/// plain, so the REST client of the tests works as everywhere else).
async fn tls_server() -> (TestServer, Cert) {
    let dir = tempfile::tempdir().unwrap();
    let cert = cert(dir.path());
    let mut config = common::test_config(dir.path(), None);
    config.fix = fix::fix_config();
    config.fix.tls = true;
    config.fix.tls_cert_file = Some(cert.files.cert_file.clone());
    config.fix.tls_key_file = Some(cert.files.key_file.clone());
    (TestServer::with(config, dir).await, cert)
}

/// A TLS client trusting `roots` (empty: trusts nothing).
fn connector(roots: &[CertificateDer<'static>]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_peer(addr: SocketAddr, cert: &Cert) -> Peer {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector(std::slice::from_ref(&cert.der))
        .connect(name, tcp)
        .await
        .expect("TLS handshake with a trusted certificate");
    Peer::over(tls)
}

/// Logs on over TLS and places a resting buy; its report agrees with the REST order.
async fn trade_over_tls(server: &TestServer, cert: &Cert, c: &Client, user: &str, sender: &str) {
    let token = c.trader(user).await;
    let admin = c.admin().await;
    c.deposit(&admin, user, "USD", "1000").await;
    let key = key_for(c, &token, None).await;
    let peer = tls_peer(server.fix_addr(), cert).await;
    let mut s = Session::logon_over(peer, &key, sender, &[]).await;
    let cl = format!("{sender}-1");
    let time = fix::utc_time(0);
    s.send(
        "D",
        &[
            ("11", cl.as_str()),
            ("38", "0.5"),
            ("40", "2"),
            ("44", "100"),
            ("54", "1"),
            ("55", "BTC-USD"),
            ("59", "1"),
            ("60", time.as_str()),
        ],
    )
    .await;
    let er = s.expect("8").await;
    assert_eq!(
        (get(&er, "11"), get(&er, "150"), get(&er, "39")),
        (Some(cl.as_str()), Some("0"), Some("0")),
        "{er:?}"
    );
    let id = get(&er, "37").unwrap();
    let (status, o) = c.get(&format!("/api/v1/orders/{id}"), Some(&token)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{o}");
    assert_eq!(o["status"], "open", "{o}");
    assert_eq!(get(&er, "151"), o["remaining_quantity"].as_str(), "{o}");
    assert_eq!(get(&er, "14"), o["filled_quantity"].as_str(), "{o}");
    s.send("5", &[]).await;
    s.expect("5").await;
    expect_close(&mut s.peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_logs_on_and_places_an_order() {
    let (server, cert) = tls_server().await;
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    trade_over_tls(&server, &cert, &c, "tlsalice", "ALICE").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_gets_no_fix_answer_and_bad_handshakes_leave_the_listener_serving() {
    let (server, cert) = tls_server().await;
    let addr = server.fix_addr();
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let token = c.trader("tlsbob").await;
    let (key, secret) = key_for(&c, &token, None).await;

    // A valid, signed Logon in the clear: not a TLS handshake, so no FIX word back (the
    // peer reads no frame) and the connection is closed.
    let mut plain = Peer::connect(addr).await.unwrap();
    plain
        .send(&logon(&key, &secret, "BOB", 1, true))
        .await
        .unwrap();
    expect_close(&mut plain).await;

    // A client that does not trust the certificate: its handshake fails.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    assert!(connector(&[]).connect(name, tcp).await.is_err());
    // One that sends garbage, and one that connects and stalls mid-way (kept open while
    // the good client below trades: handshakes do not hold up the accept loop).
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff])
        .await
        .unwrap();
    garbage.write_all(&[0u8; 64]).await.unwrap();
    let _stalled = tokio::net::TcpStream::connect(addr).await.unwrap();

    // The listener still serves: a good TLS client logs on and trades.
    trade_over_tls(&server, &cert, &c, "tlscarol", "CAROL").await;
    server.stop().await;
}

#[tokio::test]
async fn tls_shares_the_http_certificate_and_bad_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cert = cert(dir.path());
    // `tls = true` without files of its own: `[http.tls]`'s.
    let mut config = common::test_config(dir.path(), None);
    config.http.tls = Some(cert.files.clone());
    config.fix = fix::fix_config();
    config.fix.tls = true;
    assert_eq!(config.fix().tls_files(), Some(cert.files.clone()));
    // Own files win over `[http.tls]`.
    let own = bourse_gateway::tls::TlsFiles {
        cert_file: dir.path().join("own-cert.pem"),
        key_file: dir.path().join("own-key.pem"),
    };
    config.fix.tls_cert_file = Some(own.cert_file.clone());
    config.fix.tls_key_file = Some(own.key_file.clone());
    assert_eq!(config.fix().tls_files(), Some(own));

    // Each on a fresh data dir: a refused start may leave its files behind.
    let refused = |edit: &dyn Fn(&mut bourse::Config)| {
        let data = tempfile::tempdir().unwrap();
        let mut config = common::test_config(data.path(), None);
        config.fix = fix::fix_config();
        edit(&mut config);
        async move {
            let e = bourse::start(config, Default::default())
                .await
                .err()
                .expect("refused")
                .to_string();
            drop(data);
            e
        }
    };
    // No certificate anywhere.
    let e = refused(&|c| c.fix.tls = true).await;
    assert!(e.contains("tls = true needs"), "{e}");
    // Files without `tls = true`, or only one of the two.
    let e = refused(&|c| {
        c.fix.tls_cert_file = Some(cert.files.cert_file.clone());
        c.fix.tls_key_file = Some(cert.files.key_file.clone());
    })
    .await;
    assert!(e.contains("set tls = true"), "{e}");
    let e = refused(&|c| {
        c.fix.tls = true;
        c.fix.tls_cert_file = Some(cert.files.cert_file.clone());
    })
    .await;
    assert!(e.contains("go together"), "{e}");
    // A file that is not a certificate: named in the error.
    let e = refused(&|c| {
        c.fix.tls = true;
        c.fix.tls_cert_file = Some(cert.files.key_file.clone());
        c.fix.tls_key_file = Some(cert.files.key_file.clone());
    })
    .await;
    assert!(e.contains("fix-key.pem"), "{e}");
}
