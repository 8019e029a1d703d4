//! Audit entries for what never reaches the journal: logins and requests refused at the
//! edge (401, 403, 429, a refused FIX logon). Journaled commands get theirs from their
//! origin envelope in the projector (`bourse_store::audit`); these go to the same
//! writer, so both kinds interleave in one hash chain.
//!
//! Rule: an entry takes the origin in scope (`bourse_engine::origin`): channel, ip,
//! request id, and the actor if a credential was verified before the refusal. Outside
//! any scope nothing is recorded (no request was being served).

use crate::Gateway;
use bourse_engine::now_ms;
use bourse_model::{Origin, Timestamp};
use bourse_store::{AuditOutcome, AuditRecord};

/// Longest action or target kept (both may echo client input: a path, a username).
const MAX_FIELD: usize = 128;

/// A field that may echo client input, as it is kept: control characters escaped
/// (PostgreSQL refuses a NUL in text, and one such row would stop the projector that
/// writes the chain), then cut to [`MAX_FIELD`] bytes.
fn cut(s: String) -> String {
    let mut s = if s.chars().any(char::is_control) {
        let mut out = String::with_capacity(s.len() + 8);
        for c in s.chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        s
    };
    if s.len() > MAX_FIELD {
        let mut end = MAX_FIELD;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The entry of `action` on `target` with `outcome`, from `origin`.
pub fn record(
    origin: Origin,
    action: String,
    target: Option<String>,
    outcome: AuditOutcome,
) -> AuditRecord {
    AuditRecord {
        ts: Timestamp(now_ms()),
        seq: None,
        channel: origin.channel,
        actor: origin.actor,
        key_id: origin.key_id.map(cut),
        ip: origin.ip.map(bourse_store::audit::derive::ip_string),
        request_id: origin.request_id,
        action: cut(action),
        target: target.map(cut),
        outcome,
    }
}

impl Gateway {
    /// Records `action` on `target` with the origin in scope (see the module doc).
    pub fn audit(&self, action: String, target: Option<String>, outcome: AuditOutcome) {
        if let Some(origin) = bourse_engine::origin::current() {
            self.projector
                .audit()
                .record(record(origin, action, target, outcome));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn client_text_is_kept_without_control_characters_and_cut() {
        assert_eq!(cut("al\0ice\n".into()), "al\\u{0}ice\\n");
        assert_eq!(cut("plain".into()), "plain");
        let long = "é".repeat(100);
        let kept = cut(long);
        assert!(kept.len() <= super::MAX_FIELD && kept.chars().all(|c| c == 'é'));
    }
}
