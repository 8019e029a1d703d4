//! Where a command came from: the origin envelope the gateways stamp on commands for the
//! audit trail.
//!
//! Rules:
//! - The core never reads it: state, events and the state hash are the same with or
//!   without an envelope (two replays of the same kinds agree whatever their origins).
//! - It is journaled with its command (see `bourse-journal`'s codec for the format rule),
//!   so an audit entry derived from it is as durable as the command itself.
//! - Commands the exchange issues itself (timers, start-up policy, the demo bot) carry
//!   none, and the audit trail records only commands that do.
//! - [`Channel`] variants are only ever appended: the journal stores the variant index.

use crate::ids::UserId;
use serde::{Deserialize, Serialize};

/// The wire a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    Rest,
    WebSocket,
    Fix,
    Binance,
}

impl Channel {
    /// The name the audit trail and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Rest => "rest",
            Channel::WebSocket => "websocket",
            Channel::Fix => "fix",
            Channel::Binance => "binance",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        [
            Channel::Rest,
            Channel::WebSocket,
            Channel::Fix,
            Channel::Binance,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Who sent a command, from where, over which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub channel: Channel,
    /// The authenticated user (an admin for admin actions); `None` before authentication
    /// (a registration).
    pub actor: Option<UserId>,
    /// The API key that signed the request, if one did.
    pub key_id: Option<String>,
    /// The client address as the transport saw it (after trusted-proxy resolution), as
    /// 16 bytes, IPv4 mapped into IPv6 like [`crate::IpBlock`]'s (the model does no
    /// networking, not even the `std::net` types).
    pub ip: Option<[u8; 16]>,
    /// `X-Request-Id` on HTTP; the session and message sequence number on FIX.
    pub request_id: Option<String>,
}

impl Origin {
    pub fn new(channel: Channel) -> Origin {
        Origin {
            channel,
            actor: None,
            key_id: None,
            ip: None,
            request_id: None,
        }
    }
}
