//! The FIX session layer against QuickFIX's FIX 4.4 acceptance definitions.
//!
//! The definitions live outside the repository (`shared/fix-conformance/fix44/*.def`,
//! QuickFIX's licence); the directory is `$BOURSE_FIX_CONFORMANCE_DIR`, else the first
//! `shared/fix-conformance` found walking up from this crate, else
//! `/work/shared/fix-conformance`. A missing directory fails the test: it is never skipped.
//! Each definition is played against its own server (test session ISLD/TW44 on a
//! loopback port 0), as that directory's README describes.

mod common;
mod fix;

use std::path::PathBuf;

/// The 26 pure session-level definitions the README lists.
const SESSION_DEFINITIONS: [&str; 26] = [
    // The two that wait for heartbeats first: they take longest.
    "6_SendTestRequest",
    "4a_NoDataSentDuringHeartBtInt",
    "10_MsgSeqNumEqual",
    "10_MsgSeqNumGreater",
    "11a_NewSeqNoGreater",
    "11b_NewSeqNoEqual",
    "13b_UnsolicitedLogoutMessage",
    "1a_ValidLogonMsgSeqNumTooHigh",
    "1a_ValidLogonWithCorrectMsgSeqNum",
    "1b_DuplicateIdentity",
    "1c_InvalidSenderCompID",
    "1c_InvalidTargetCompID",
    "1d_InvalidLogonBadSendingTime",
    "1d_InvalidLogonLengthInvalid",
    "1d_InvalidLogonWrongBeginString",
    "1e_NotLogonMessage",
    "2a_MsgSeqNumCorrect",
    "2b_MsgSeqNumTooHigh",
    "2e_PossDupAlreadyReceived",
    "2e_PossDupNotReceived",
    "2t_FirstThreeFieldsOutOfOrder",
    "4b_ReceivedTestRequest",
    "7_ReceiveRejectMessage",
    "8_OnlyAdminMessages",
    "AlreadyLoggedOn",
    "SessionReset",
];

fn definitions_dir() -> PathBuf {
    if let Ok(d) = std::env::var("BOURSE_FIX_CONFORMANCE_DIR") {
        return PathBuf::from(d);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/fix-conformance"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("/work/shared/fix-conformance"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quickfix_session_definitions_pass() {
    let dir = definitions_dir().join("fix44");
    assert!(
        dir.is_dir(),
        "FIX conformance definitions not found at {} (set BOURSE_FIX_CONFORMANCE_DIR)",
        dir.display()
    );
    // A few servers at a time: the heartbeat definitions mostly wait.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut runs = tokio::task::JoinSet::new();
    for name in SESSION_DEFINITIONS {
        let text = std::fs::read_to_string(dir.join(format!("{name}.def")))
            .unwrap_or_else(|e| panic!("{name}.def: {e}"));
        let slots = slots.clone();
        runs.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let server = fix::TestServer::start().await;
            let result = fix::play(&text, server.fix_addr()).await;
            server.stop().await;
            (name, result)
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = runs.join_next().await {
        let (name, result) = done.unwrap();
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} definitions failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
