//! The audit trail: who did what, from where, over which channel, with what outcome,
//! hash-chained so a changed, removed or inserted entry is detectable.
//!
//! Rules:
//! - Two sources, one chain. Entries for journaled commands are derived from the command's
//!   origin envelope and the events it caused ([`derive`]), and written in the
//!   projector's transaction with the read models ([`Store::project_audited`]): such an
//!   entry exists exactly when the projection includes its command, so a crash or a
//!   restart (journal replay) neither skips nor repeats one. Entries for what never
//!   reaches the journal (logins, 401/403/429 refusals) are handed to the same writer,
//!   the projector task, which appends them in the order they reach it. One writer
//!   serializes the chain; `audit_head` is moved with a compare-and-set, so a second
//!   writer is an error, never a fork.
//! - Entry `n` (ids are 1, 2, … without gaps) holds `prev_hash` = entry `n-1`'s `hash`
//!   (64 zeros for the first) and `hash` = hex SHA-256 of its canonical form
//!   ([`chain::canonical`]): a domain tag, then every field in a fixed order, each
//!   length-prefixed, absent fields marked as such, `prev_hash` last. `audit_head` holds
//!   the last id and hash; [`Store::verify_audit`] recomputes everything and names the
//!   first entry that does not fit (`bourse audit verify`).
//! - Rebuild: the table is owned data, never truncated by a read-model rebuild. A read
//!   model restored from a backup re-derives the entries of the commands after the
//!   backup's projected sequence and continues the backup's chain. A lost database loses
//!   the entries that were never journaled; re-projecting the journal into an empty one
//!   re-derives every journaled entry in a new chain.
//! - A chain is tamper-evident, not tamper-proof: someone who can write the database and
//!   recompute every later hash can forge it. Copy the head (`hash` of the newest entry,
//!   in `GET /api/v1/admin/audit`) somewhere else to anchor it.

pub mod chain;
pub mod derive;

use crate::db::{insert_many, int, uint, Arg, Tx};
use crate::error::{Result, StoreError};
use crate::Store;
use bourse_model::{Channel, Timestamp, UserId};
use std::borrow::Cow;

/// What one audit entry says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub ts: Timestamp,
    /// The journal sequence of the command; `None` for a request refused before it.
    pub seq: Option<u64>,
    pub channel: Channel,
    pub actor: Option<UserId>,
    pub key_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// `place_order`, `cancel_order`, `login`, …, or `METHOD /path` for a refused request.
    pub action: String,
    /// What it acted on: `order:12`, `user:alice`, `withdrawal:3`, `market:BTC-USD`, …
    pub target: Option<String>,
    pub outcome: AuditOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutcome {
    Accepted,
    /// The reject code: the core's (`INSUFFICIENT_BALANCE`) or the edge's (`UNAUTHORIZED`).
    Rejected(String),
}

impl AuditOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditOutcome::Accepted => "accepted",
            AuditOutcome::Rejected(_) => "rejected",
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AuditOutcome::Accepted => None,
            AuditOutcome::Rejected(c) => Some(c),
        }
    }
}

/// An entry as stored: its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: u64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// Filters of [`Store::audit_entries`]; pages go newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<UserId>,
    pub action: Option<String>,
    /// Inclusive bounds on `ts`.
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// The last id of the previous page.
    pub before: Option<u64>,
    pub limit: u32,
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    pub entries: u64,
    /// The first entry that does not fit, and why; `None` when the chain is intact.
    pub first_bad: Option<(u64, String)>,
    /// The hash of the newest entry (the head to anchor elsewhere).
    pub head: String,
}

#[derive(sqlx::FromRow)]
struct RawEntry {
    id: i64,
    ts: i64,
    seq: Option<i64>,
    channel: String,
    actor_id: Option<i64>,
    key_id: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    action: String,
    target: Option<String>,
    outcome: String,
    code: Option<String>,
    prev_hash: String,
    hash: String,
}

impl TryFrom<RawEntry> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: RawEntry) -> Result<AuditEntry> {
        const T: &str = "audit_log";
        let outcome = match (r.outcome.as_str(), r.code) {
            ("accepted", None) => AuditOutcome::Accepted,
            ("rejected", Some(c)) => AuditOutcome::Rejected(c),
            _ => return Err(StoreError::Corrupt(T)),
        };
        Ok(AuditEntry {
            id: uint(r.id, T)?,
            record: AuditRecord {
                ts: Timestamp(uint(r.ts, T)?),
                seq: r.seq.map(|s| uint(s, T)).transpose()?,
                channel: Channel::parse(&r.channel).ok_or(StoreError::Corrupt(T))?,
                actor: r.actor_id.map(|a| uint(a, T).map(UserId)).transpose()?,
                key_id: r.key_id,
                ip: r.ip,
                request_id: r.request_id,
                action: r.action,
                target: r.target,
                outcome,
            },
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawHead {
    last_id: i64,
    last_hash: String,
}

fn oi(v: Option<u64>) -> Result<Arg<'static>> {
    Ok(Arg::OptI64(v.map(|v| int(v, "audit value")).transpose()?))
}

fn os(v: &Option<String>) -> Arg<'_> {
    Arg::OptStr(v.as_deref().map(Cow::Borrowed))
}

/// Appends `records` to the chain inside `tx` (see the module doc).
pub(crate) async fn append(tx: &mut Tx, records: &[&AuditRecord]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let head: RawHead = tx
        .fetch_optional(
            "SELECT last_id, last_hash FROM audit_head WHERE id = 1",
            &[],
        )
        .await?
        .ok_or(StoreError::Corrupt("audit_head"))?;
    let start = uint(head.last_id, "audit_head")?;
    let mut prev = head.last_hash.clone();
    let mut hashes = Vec::with_capacity(records.len());
    for (n, r) in records.iter().enumerate() {
        let hash = chain::hash(start + 1 + n as u64, r, &prev);
        hashes.push((prev, hash.clone()));
        prev = hash;
    }
    let mut flat = Vec::with_capacity(records.len() * 14);
    for (n, (r, (prev_hash, hash))) in records.iter().zip(&hashes).enumerate() {
        flat.extend([
            Arg::I64(int(start + 1 + n as u64, "audit id")?),
            Arg::I64(int(r.ts.0, "audit ts")?),
            oi(r.seq)?,
            Arg::Str(Cow::Borrowed(r.channel.as_str())),
            oi(r.actor.map(|u| u.0))?,
            os(&r.key_id),
            os(&r.ip),
            os(&r.request_id),
            Arg::Str(Cow::Borrowed(&r.action)),
            os(&r.target),
            Arg::Str(Cow::Borrowed(r.outcome.as_str())),
            Arg::OptStr(r.outcome.code().map(Cow::Borrowed)),
            Arg::Str(Cow::Borrowed(prev_hash)),
            Arg::Str(Cow::Borrowed(hash)),
        ]);
    }
    insert_many(
        tx,
        "INSERT INTO audit_log (id, ts, seq, channel, actor_id, key_id, ip, request_id, \
         action, target, outcome, code, prev_hash, hash) VALUES",
        "",
        14,
        &flat,
    )
    .await?;
    let last = start + records.len() as u64;
    let moved = tx
        .exec(
            "UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1 AND last_id = $3",
            &[
                Arg::I64(int(last, "audit id")?),
                Arg::Str(Cow::Borrowed(&prev)),
                Arg::I64(head.last_id),
            ],
        )
        .await?;
    if moved != 1 {
        return Err(StoreError::Inconsistent(
            "another audit writer ran concurrently".into(),
        ));
    }
    Ok(())
}

impl Store {
    /// Appends entries of requests refused before the journal, in one transaction. Only
    /// the chain's one writer (the projector task) calls this.
    pub async fn append_audit(&self, records: &[AuditRecord]) -> Result<()> {
        let records: Vec<&AuditRecord> = records.iter().collect();
        let mut tx = self.backend.begin().await?;
        append(&mut tx, &records).await?;
        tx.commit().await
    }

    /// Entries matching `q`, newest first.
    pub async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from("SELECT * FROM audit_log WHERE 1 = 1");
        let mut args: Vec<Arg<'_>> = Vec::new();
        let mut push = |cond: &str, arg: Arg<'static>, sql: &mut String| {
            args.push(arg);
            sql.push_str(&format!(" AND {cond} ${}", args.len()));
        };
        if let Some(a) = q.actor {
            push("actor_id =", Arg::I64(int(a.0, "user")?), &mut sql);
        }
        if let Some(a) = &q.action {
            push("action =", Arg::Str(Cow::Owned(a.clone())), &mut sql);
        }
        if let Some(t) = q.start {
            push("ts >=", Arg::I64(int(t.0, "start")?), &mut sql);
        }
        if let Some(t) = q.end {
            push("ts <=", Arg::I64(int(t.0, "end")?), &mut sql);
        }
        if let Some(b) = q.before {
            push("id <", Arg::I64(int(b, "cursor")?), &mut sql);
        }
        let limit = q.limit.clamp(1, crate::MAX_PAGE);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
        self.backend
            .fetch_all::<RawEntry>(&sql, &args)
            .await?
            .into_iter()
            .map(AuditEntry::try_from)
            .collect()
    }

    /// Recomputes the whole chain (see the module doc) and reports the first entry that
    /// does not fit: a changed field (its hash), a removed or inserted entry (the ids or
    /// the `prev_hash` links), a truncated tail (the head).
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        const PAGE: i64 = 1000;
        let mut expected_id = 1u64;
        let mut prev = chain::GENESIS.to_string();
        let mut entries = 0u64;
        let bad = |id: u64, why: String, entries: u64, head: &str| AuditVerification {
            entries,
            first_bad: Some((id, why)),
            head: head.to_string(),
        };
        loop {
            let rows: Vec<RawEntry> = self
                .backend
                .fetch_all(
                    "SELECT * FROM audit_log WHERE id >= $1 ORDER BY id LIMIT $2",
                    &[Arg::I64(int(expected_id, "audit id")?), Arg::I64(PAGE)],
                )
                .await?;
            let n = rows.len();
            for raw in rows {
                let raw_id = raw.id;
                let entry = match AuditEntry::try_from(raw) {
                    Ok(e) => e,
                    Err(_) => {
                        let id = u64::try_from(raw_id).unwrap_or(0);
                        return Ok(bad(id, "unreadable row".into(), entries, &prev));
                    }
                };
                if entry.id != expected_id {
                    let why = format!(
                        "missing: the next entry is {} (removed, or ids renumbered)",
                        entry.id
                    );
                    return Ok(bad(expected_id, why, entries, &prev));
                }
                if entry.prev_hash != prev {
                    let why = "prev_hash does not match the previous entry's hash".to_string();
                    return Ok(bad(entry.id, why, entries, &prev));
                }
                if chain::hash(entry.id, &entry.record, &prev) != entry.hash {
                    let why = "hash does not match the entry's fields".to_string();
                    return Ok(bad(entry.id, why, entries, &prev));
                }
                prev = entry.hash;
                entries += 1;
                expected_id += 1;
            }
            if n < PAGE as usize {
                break;
            }
        }
        let head: RawHead = self
            .backend
            .fetch_optional(
                "SELECT last_id, last_hash FROM audit_head WHERE id = 1",
                &[],
            )
            .await?
            .ok_or(StoreError::Corrupt("audit_head"))?;
        if uint(head.last_id, "audit_head")? != entries || head.last_hash != prev {
            let why = format!(
                "the chain ends at entry {entries} but its head says {} (entries were \
                 removed from the end, or added after it)",
                head.last_id
            );
            return Ok(bad(entries + 1, why, entries, &prev));
        }
        Ok(AuditVerification {
            entries,
            first_bad: None,
            head: prev,
        })
    }
}
