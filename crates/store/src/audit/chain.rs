//! The chain rule: an entry's canonical form and its hash.
//!
//! `hash = hex(SHA-256(canonical(id, record, prev_hash)))`, where the canonical form is
//! the tag `bourse-audit-v1\n` followed by, in this order: id, ts, seq, channel, actor,
//! key_id, ip, request_id, action, target, outcome, code, prev_hash. Integers are 8 bytes
//! big-endian; strings are a 4-byte big-endian length then UTF-8; an optional field is
//! one byte `0` when absent, or `1` then the value. Every field is length-delimited, so
//! no two different entries have the same canonical form. Changing this is a new tag
//! (`v2`) and a verifier that knows both.

use super::AuditRecord;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const TAG: &[u8] = b"bourse-audit-v1\n";

/// The canonical bytes of entry `id` (see the module doc).
pub fn canonical(id: u64, r: &AuditRecord, prev_hash: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(256);
    b.extend_from_slice(TAG);
    u64_(&mut b, id);
    u64_(&mut b, r.ts.0);
    opt(&mut b, r.seq, u64_);
    str_(&mut b, r.channel.as_str());
    opt(&mut b, r.actor.map(|u| u.0), u64_);
    opt(&mut b, r.key_id.as_deref(), str_);
    opt(&mut b, r.ip.as_deref(), str_);
    opt(&mut b, r.request_id.as_deref(), str_);
    str_(&mut b, &r.action);
    opt(&mut b, r.target.as_deref(), str_);
    str_(&mut b, r.outcome.as_str());
    opt(&mut b, r.outcome.code(), str_);
    str_(&mut b, prev_hash);
    b
}

/// The hex SHA-256 of [`canonical`].
pub fn hash(id: u64, r: &AuditRecord, prev_hash: &str) -> String {
    hex::encode(Sha256::digest(canonical(id, r, prev_hash)))
}

fn u64_(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn str_(b: &mut Vec<u8>, s: &str) {
    // Fields are short (ids, names, codes); a longer one is cut by the edge before this.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn opt<T>(b: &mut Vec<u8>, v: Option<T>, f: fn(&mut Vec<u8>, T)) {
    match v {
        None => b.push(0),
        Some(v) => {
            b.push(1);
            f(b, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditOutcome;
    use bourse_model::{Channel, Timestamp, UserId};

    fn record() -> AuditRecord {
        AuditRecord {
            ts: Timestamp(1_700_000_000_000),
            seq: Some(4),
            channel: Channel::Rest,
            actor: Some(UserId(2)),
            key_id: None,
            ip: Some("127.0.0.1".into()),
            request_id: Some("r-1".into()),
            action: "place_order".into(),
            target: Some("order:1".into()),
            outcome: AuditOutcome::Accepted,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = hash(1, &record(), GENESIS);
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash(1, &record(), GENESIS), "deterministic");
        let edits: Vec<fn(&mut AuditRecord)> = vec![
            |r| r.ts.0 += 1,
            |r| r.seq = None,
            |r| r.channel = Channel::Fix,
            |r| r.actor = None,
            |r| r.key_id = Some(String::new()),
            |r| r.ip = None,
            |r| r.request_id = Some("r-2".into()),
            |r| r.action = "cancel_order".into(),
            |r| r.target = None,
            |r| r.outcome = AuditOutcome::Rejected("X".into()),
        ];
        for edit in edits {
            let mut r = record();
            edit(&mut r);
            assert_ne!(hash(1, &r, GENESIS), base, "{r:?}");
        }
        assert_ne!(hash(2, &record(), GENESIS), base);
        assert_ne!(hash(1, &record(), &"1".repeat(64)), base);
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let mut a = record();
        a.action = "ab".into();
        a.target = Some("c".into());
        let mut b = record();
        b.action = "a".into();
        b.target = Some("bc".into());
        assert_ne!(canonical(1, &a, GENESIS), canonical(1, &b, GENESIS));
    }
}
