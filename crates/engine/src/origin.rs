//! The origin of the request being served, as ambient task context.
//!
//! Rules:
//! - A channel (REST, WebSocket, FIX, Binance) runs each request inside [`scope`] with
//!   what it knows (channel, client ip, request id); the gateway's credential checks add
//!   the actor and key id when they succeed ([`identify`]), whichever channel called them. [`SequencerHandle::submit`](crate::SequencerHandle::submit) stamps
//!   whatever is in scope on the command's envelope, so every gateway call that submits
//!   gets it without each signature carrying it.
//! - Why ambient and not a parameter: the envelope never changes what a command does
//!   (the core ignores it), it is request metadata like the tracing span's request id,
//!   and a parameter would thread through every gateway call for the audit trail alone.
//! - Outside any scope (timers, start-up policy, the demo bot, a task spawned without
//!   re-scoping) commands carry no envelope and get no audit entry.

use bourse_model::{Origin, UserId};
use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    // A cell: authentication happens inside the scope, after the channel opened it.
    static ORIGIN: RefCell<Origin>;
}

/// Runs `f` with `origin` as the origin of the commands it submits.
pub async fn scope<F: Future>(origin: Origin, f: F) -> F::Output {
    ORIGIN.scope(RefCell::new(origin), f).await
}

/// The origin in scope, if any.
pub fn current() -> Option<Origin> {
    ORIGIN.try_with(|o| o.borrow().clone()).ok()
}

/// An address as the envelope holds it (16 bytes, IPv4 mapped into IPv6).
pub fn ip_bytes(ip: std::net::IpAddr) -> [u8; 16] {
    match ip {
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(a) => a.octets(),
    }
}

/// Names the authenticated actor (and the API key that signed) in the scope, if any.
pub fn identify(actor: UserId, key_id: Option<&str>) {
    let _ = ORIGIN.try_with(|o| {
        let mut o = o.borrow_mut();
        o.actor = Some(actor);
        o.key_id = key_id.map(str::to_owned);
    });
}

/// Sets the request id in the scope, if any: for a channel that serves many requests
/// in one scope (a FIX session names each message).
pub fn set_request_id(id: String) {
    let _ = ORIGIN.try_with(|o| o.borrow_mut().request_id = Some(id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_model::{Channel, UserId};

    #[tokio::test]
    async fn identify_fills_the_scope_and_nothing_outside() {
        identify(UserId(1), None);
        assert_eq!(current(), None);
        let seen = scope(Origin::new(Channel::Rest), async {
            identify(UserId(3), Some("k1"));
            current()
        })
        .await
        .unwrap();
        assert_eq!(seen.actor, Some(UserId(3)));
        assert_eq!(seen.key_id.as_deref(), Some("k1"));
        assert_eq!(current(), None);
    }
}
