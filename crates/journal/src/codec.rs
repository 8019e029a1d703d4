//! A record's payload: one `bourse_model::Command`, postcard-encoded, in both backends.
//!
//! Rules:
//! - Records are always written in the current encoding.
//! - Reading is strict, with one exception for journals written before
//!   `RequestWithdrawal` had its last field, `client_withdrawal_id`. Postcard writes no
//!   field names or lengths, so such a record simply ends where that field would start
//!   and does not decode. It is read as `client_withdrawal_id: None` (which encodes as
//!   one `0` byte), and only if the payload with that byte appended decodes as a
//!   `RequestWithdrawal` with `None` whose encoding is exactly those bytes: nothing else
//!   that fails to decode is ever read this way.

use bourse_model::{Command, CommandKind};

/// Decodes a record's payload (see the module doc for the one legacy form).
pub(crate) fn decode(payload: &[u8]) -> Result<Command, postcard::Error> {
    postcard::from_bytes(payload).or_else(|e| legacy_withdrawal(payload).ok_or(e))
}

/// A `RequestWithdrawal` written without `client_withdrawal_id`.
fn legacy_withdrawal(payload: &[u8]) -> Option<Command> {
    let mut padded = Vec::with_capacity(payload.len() + 1);
    padded.extend_from_slice(payload);
    padded.push(0);
    let cmd: Command = postcard::from_bytes(&padded).ok()?;
    let old_form = matches!(
        cmd.kind,
        CommandKind::RequestWithdrawal {
            client_withdrawal_id: None,
            ..
        }
    );
    (old_form && postcard::to_allocvec(&cmd).ok()? == padded).then_some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_model::{Amount, AssetId, ClientWithdrawalId, Timestamp, UserId};

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
        // The current form is the old one plus the field.
        let mut with_none = old.clone();
        with_none.push(0);
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
            ts: Timestamp(5),
            kind: CommandKind::Deposit {
                user: UserId(1),
                asset: AssetId(0),
                amount: Amount(300),
            },
        };
        let bytes = postcard::to_allocvec(&deposit).unwrap();
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        // A request cut inside its address, or with its key cut off, is not the old form.
        let old = old_request(1, 7, 2, 5, "addr");
        assert!(decode(&old[..old.len() - 1]).is_err());
        let keyed = postcard::to_allocvec(&request(Some("w-1"))).unwrap();
        assert!(decode(&keyed[..keyed.len() - 1]).is_err());
        assert!(decode(&[]).is_err());
    }
}
