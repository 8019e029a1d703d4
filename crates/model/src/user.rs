use serde::{Deserialize, Serialize};

/// What a user may do through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Trader,
    /// Trades on behalf of others; broker fee tier is separate (see [`Tier`]).
    Broker,
    Admin,
}

/// Fee and rate-limit tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Standard,
    Premium,
    Broker,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Standard, Tier::Premium, Tier::Broker];
    pub fn index(self) -> usize {
        self as usize
    }
}
