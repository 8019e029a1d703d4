//! A record's payload: one `bourse_model::Command`, postcard-encoded, in both backends.
//!
//! Rules:
//! - Records are always written in the current encoding. Postcard writes no field names
//!   or lengths, so a field can only be added at the end of the `Command` (or of a
//!   variant), and a record written before it simply ends where that field would start.
//! - Reading is strict, with two legacy forms, each an `Option` field added later and
//!   read as `None` (which postcard encodes as one `0` byte):
//!   1. journals written before commands had their origin envelope (`Command::origin`,
//!      the audit trail's ip / key id / request id / channel): the payload with one `0`
//!      appended must decode with `origin: None` and re-encode to exactly those bytes;
//!   2. journals written before `RequestWithdrawal` had `client_withdrawal_id` (and so
//!      also before the envelope): the payload with two `0`s appended must decode as a
//!      `RequestWithdrawal` with both `None` and re-encode to exactly those bytes.
//!
//!   A record ending anywhere else (cut inside a field, or short by anything but those
//!   trailing `None`s) stays an error: nothing else that fails to decode is ever read.
//! - An old record never decodes strictly: the current form always has at least the one
//!   byte of `origin` after the kind, so the forms cannot be confused.

use bourse_model::{Command, CommandKind};

/// Decodes a record's payload (see the module doc for the legacy forms).
pub(crate) fn decode(payload: &[u8]) -> Result<Command, postcard::Error> {
    postcard::from_bytes(payload).or_else(|e| {
        legacy_without_origin(payload)
            .or_else(|| legacy_withdrawal(payload))
            .ok_or(e)
    })
}

/// `payload` with `zeros` `None` bytes appended, decoded, if it re-encodes exactly.
fn padded(payload: &[u8], zeros: usize) -> Option<(Command, Vec<u8>)> {
    let mut padded = Vec::with_capacity(payload.len() + zeros);
    padded.extend_from_slice(payload);
    padded.resize(payload.len() + zeros, 0);
    let cmd: Command = postcard::from_bytes(&padded).ok()?;
    (cmd.origin.is_none() && postcard::to_allocvec(&cmd).ok()? == padded).then_some((cmd, padded))
}

/// Any command written before the origin envelope.
fn legacy_without_origin(payload: &[u8]) -> Option<Command> {
    padded(payload, 1).map(|(cmd, _)| cmd)
}

/// A `RequestWithdrawal` written without `client_withdrawal_id` (and without an origin).
fn legacy_withdrawal(payload: &[u8]) -> Option<Command> {
    let (cmd, _) = padded(payload, 2)?;
    let old_form = matches!(
        cmd.kind,
        CommandKind::RequestWithdrawal {
            client_withdrawal_id: None,
            ..
        }
    );
    old_form.then_some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_model::{Amount, AssetId, Channel, ClientWithdrawalId, Origin, Timestamp, UserId};

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// `RequestWithdrawal` as journals wrote it before `client_withdrawal_id`, encoded by
    /// hand from postcard's format: varints, the variant index, a length-prefixed string.
    fn old_request(ts: u64, user: u64, asset: u64, amount: u64, address: &str) -> Vec<u8> {
        let mut b = Vec::new();
        varint(ts, &mut b);
        varint(10, &mut b); // CreateAsset = 0, …, Deposit = 9, RequestWithdrawal = 10
        varint(user, &mut b);
        varint(asset, &mut b);
        varint(amount, &mut b);
        varint(address.len() as u64, &mut b);
        b.extend_from_slice(address.as_bytes());
        b
    }

    fn request(key: Option<&str>) -> Command {
        Command {
            origin: None,
            ts: Timestamp(1_700_000_000_123),
            kind: CommandKind::RequestWithdrawal {
                user: UserId(7),
                asset: AssetId(2),
                amount: Amount(1_000_000),
                address: "bc1qxyz".into(),
                client_withdrawal_id: key.map(|k| ClientWithdrawalId::new(k).unwrap()),
            },
        }
    }

    #[test]
    fn an_old_withdrawal_request_reads_without_a_key() {
        let old = old_request(1_700_000_000_123, 7, 2, 1_000_000, "bc1qxyz");
        assert!(
            postcard::from_bytes::<Command>(&old).is_err(),
            "not the current form"
        );
        assert_eq!(decode(&old).unwrap(), request(None));
        // The current form is the old one plus the two fields.
        let mut with_none = old.clone();
        with_none.extend([0, 0]);
        assert_eq!(postcard::to_allocvec(&request(None)).unwrap(), with_none);
    }

    #[test]
    fn current_records_decode_strictly() {
        for cmd in [request(None), request(Some("w-1"))] {
            let bytes = postcard::to_allocvec(&cmd).unwrap();
            assert_eq!(decode(&bytes).unwrap(), cmd);
        }
    }

    #[test]
    fn other_short_payloads_stay_errors() {
        let deposit = Command {
            origin: None,
            ts: Timestamp(5),
            kind: CommandKind::Deposit {
                user: UserId(1),
                asset: AssetId(0),
                amount: Amount(300),
            },
        };
        let bytes = postcard::to_allocvec(&deposit).unwrap();
        // Without its last byte it is the pre-envelope form; cut inside `amount` it is
        // nothing.
        assert_eq!(decode(&bytes[..bytes.len() - 1]).unwrap(), deposit);
        assert!(decode(&bytes[..bytes.len() - 2]).is_err());
        // A request cut inside its address, or inside its key, is not an old form.
        let old = old_request(1, 7, 2, 5, "addr");
        assert!(decode(&old[..old.len() - 1]).is_err());
        let keyed = postcard::to_allocvec(&request(Some("w-1"))).unwrap();
        assert!(decode(&keyed[..keyed.len() - 2]).is_err());
        assert!(decode(&[]).is_err());
    }

    fn with_origin() -> Command {
        let mut cmd = request(Some("w-2"));
        cmd.origin = Some(Box::new(Origin {
            channel: Channel::Fix,
            actor: Some(UserId(7)),
            key_id: Some("bk_1".into()),
            ip: Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]),
            request_id: Some("req-1".into()),
        }));
        cmd
    }

    #[test]
    fn an_envelope_round_trips_and_is_never_cut_to_none() {
        let cmd = with_origin();
        let bytes = postcard::to_allocvec(&cmd).unwrap();
        assert_eq!(decode(&bytes).unwrap(), cmd);
        // Any cut inside the envelope is an error, never "no envelope".
        let plain = postcard::to_allocvec(&request(Some("w-2"))).unwrap();
        for end in plain.len()..bytes.len() {
            assert!(decode(&bytes[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn a_record_from_before_the_envelope_reads_without_one() {
        let cmd = request(Some("w-3"));
        let bytes = postcard::to_allocvec(&cmd).unwrap();
        assert_eq!(bytes.last(), Some(&0), "origin: None is one 0 byte");
        let old = &bytes[..bytes.len() - 1];
        assert!(
            postcard::from_bytes::<Command>(old).is_err(),
            "not the current form"
        );
        assert_eq!(decode(old).unwrap(), cmd);
    }
}
