//! Audit entries of journaled commands: the action and target a command names, the actor
//! and wire its origin envelope names, and the outcome its events give.
//!
//! Rules:
//! - Only commands with an envelope are audited (the exchange's own commands carry none:
//!   see `bourse_model::Origin`).
//! - Outcome: `rejected` with the core's code when the command's first event is
//!   `Rejected`, `accepted` otherwise.
//! - Target: the entity the command names or, for what the core assigns (a new order's or
//!   withdrawal's id), the id its events give.
//! - Every `CommandKind` is matched without a wildcard: a new command is a compile error
//!   here until someone decides what its entry says.

use super::{AuditOutcome, AuditRecord};
use bourse_model::{CommandKind, Event, Origin, Timestamp};

/// The entry of command `seq`, or `None` when it has no envelope.
pub fn from_command(
    seq: u64,
    ts: Timestamp,
    kind: &CommandKind,
    origin: Option<&Origin>,
    events: &[Event],
) -> Option<AuditRecord> {
    let origin = origin?;
    let (action, target) = action_and_target(kind, events);
    let outcome = match events.first() {
        Some(Event::Rejected { code, .. }) => AuditOutcome::Rejected(code.as_str().to_string()),
        _ => AuditOutcome::Accepted,
    };
    Some(AuditRecord {
        ts,
        seq: Some(seq),
        channel: origin.channel,
        actor: origin.actor,
        key_id: origin.key_id.clone(),
        ip: origin.ip.map(ip_string),
        request_id: origin.request_id.clone(),
        action: action.to_string(),
        target,
        outcome,
    })
}

/// An envelope's address as text: dotted for a mapped IPv4 address.
pub fn ip_string(bytes: [u8; 16]) -> String {
    let v6 = std::net::Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}

fn action_and_target(kind: &CommandKind, events: &[Event]) -> (&'static str, Option<String>) {
    use CommandKind as K;
    let order_of_events = || {
        events.iter().find_map(|e| match e {
            Event::OrderAccepted(info) => Some(info.id),
            Event::Rejected { order, .. } => *order,
            _ => None,
        })
    };
    let withdrawal_of_events = || {
        events.iter().find_map(|e| match e {
            Event::WithdrawalRequested { id, .. } => Some(*id),
            Event::Rejected { withdrawal, .. } => *withdrawal,
            _ => None,
        })
    };
    match kind {
        K::CreateAsset { symbol, .. } => ("create_asset", Some(format!("asset:{symbol}"))),
        K::CreateMarket(spec) => ("create_market", Some(format!("market:{}", spec.symbol))),
        K::SetMarketStatus { market, .. } => {
            ("set_market_status", Some(format!("market:{}", market.0)))
        }
        K::RegisterUser { username, .. } => ("register", Some(format!("user:{username}"))),
        K::SetPassword { user, .. } => ("change_password", Some(format!("user:{}", user.0))),
        K::SetUserRole { user, .. } => ("set_user_role", Some(format!("user:{}", user.0))),
        K::SetUserFlags { user, .. } => ("set_user_flags", Some(format!("user:{}", user.0))),
        K::CreateApiKey { key_id, .. } | K::CreateScopedApiKey { key_id, .. } => {
            ("create_api_key", Some(format!("api_key:{key_id}")))
        }
        K::DeleteApiKey { key_id, .. } => ("delete_api_key", Some(format!("api_key:{key_id}"))),
        K::Deposit { user, .. } => ("deposit", Some(format!("user:{}", user.0))),
        K::RequestWithdrawal { .. } => (
            "request_withdrawal",
            withdrawal_of_events().map(|w| format!("withdrawal:{}", w.0)),
        ),
        K::CompleteWithdrawal { id } => {
            ("approve_withdrawal", Some(format!("withdrawal:{}", id.0)))
        }
        K::RejectWithdrawal { id } => ("reject_withdrawal", Some(format!("withdrawal:{}", id.0))),
        K::PlaceOrder(o) => (
            "place_order",
            Some(match order_of_events() {
                Some(id) => format!("order:{}", id.0),
                None => format!("market:{}", o.market.0),
            }),
        ),
        K::CancelOrder { order, .. } => ("cancel_order", Some(format!("order:{}", order.0))),
        K::CancelAll { market, .. } => ("cancel_all", market.map(|m| format!("market:{}", m.0))),
        K::AmendOrder { order, .. } => ("amend_order", Some(format!("order:{}", order.0))),
        K::ExpireOrders => ("expire_orders", None),
        K::RevokeToken { user, .. } => ("logout", Some(format!("user:{}", user.0))),
        K::SetKycPolicy { .. } => ("set_kyc_policy", None),
        K::SetIdempotencyWindow { .. } => ("set_idempotency_window", None),
        K::SetKycLevels { .. } => ("set_kyc_levels", None),
        K::SetUserCompliance { user, .. } => {
            ("set_user_compliance", Some(format!("user:{}", user.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_model::{Channel, MarketId, OrderId, RejectCode, UserId};

    #[test]
    fn no_envelope_no_entry() {
        let kind = CommandKind::ExpireOrders;
        assert_eq!(from_command(1, Timestamp(1), &kind, None, &[]), None);
    }

    #[test]
    fn a_rejected_cancel_names_the_code_and_the_order() {
        let kind = CommandKind::CancelOrder {
            user: UserId(3),
            order: OrderId(9),
        };
        let mut origin = Origin::new(Channel::Fix);
        origin.actor = Some(UserId(3));
        origin.ip = Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
        let events = [Event::Rejected {
            code: RejectCode::UnknownOrder,
            order: Some(OrderId(9)),
            withdrawal: None,
            remaining: None,
        }];
        let r = from_command(5, Timestamp(7), &kind, Some(&origin), &events).unwrap();
        assert_eq!(r.action, "cancel_order");
        assert_eq!(r.target.as_deref(), Some("order:9"));
        assert_eq!(r.outcome, AuditOutcome::Rejected("UNKNOWN_ORDER".into()));
        assert_eq!(
            (r.seq, r.channel, r.actor),
            (Some(5), Channel::Fix, Some(UserId(3)))
        );
        assert_eq!(r.ip.as_deref(), Some("10.0.0.1"));
        let all = CommandKind::CancelAll {
            user: UserId(3),
            market: Some(MarketId(2)),
        };
        let r = from_command(6, Timestamp(7), &all, Some(&origin), &[]).unwrap();
        assert_eq!(
            (r.action.as_str(), r.outcome),
            ("cancel_all", AuditOutcome::Accepted)
        );
    }
}
