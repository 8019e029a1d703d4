use serde::{Deserialize, Serialize};

/// Why the core refused a command. Stable, SCREAMING_SNAKE on the wire; the HTTP layer
/// maps each to a status code. A rejected command changes no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectCode {
    UnknownUser,
    UnknownAsset,
    UnknownMarket,
    /// Also answered for another user's order, so ids do not leak.
    UnknownOrder,
    UnknownWithdrawal,
    UnknownApiKey,
    AssetExists,
    MarketExists,
    InvalidMarketSpec,
    UsernameTaken,
    ApiKeyExists,
    InvalidAmount,
    InsufficientBalance,
    /// Price missing, zero, or present where the order type forbids it.
    InvalidPrice,
    /// Quantity missing, zero, or an impossible combination of size fields.
    InvalidQuantity,
    /// A combination of type, time in force and flags that makes no sense.
    InvalidOrder,
    QuantityTooSmall,
    QuantityTooLarge,
    NotionalTooSmall,
    /// Arithmetic would overflow: the order is absurdly large.
    NotionalTooLarge,
    PriceOutOfBand,
    TooManyOpenOrders,
    MarketHalted,
    KillSwitchActive,
    KycRequired,
    PostOnlyWouldTake,
    FokCannotFill,
    DuplicateClientOrderId,
    ExpireAtInPast,
    StopWouldTriggerImmediately,
    OrderNotAmendable,
    WithdrawalNotPending,
    MarketAlreadyInState,
    InvalidAssetSpec,
    /// A withdrawal request reused a client withdrawal id the core still remembers; the
    /// rejection names the original withdrawal.
    DuplicateClientWithdrawalId,
    /// The withdrawal would pass the daily limit of the user's KYC level; the rejection
    /// carries what is left of the day's allowance.
    WithdrawalLimit,
    InvalidKycLevel,
    InvalidKycPolicy,
    InvalidBeneficialOwner,
}

impl RejectCode {
    /// The wire name, e.g. `INSUFFICIENT_BALANCE`.
    pub fn as_str(self) -> &'static str {
        // serde_json is not a dependency of this crate; keep the names in one match.
        use RejectCode::*;
        match self {
            UnknownUser => "UNKNOWN_USER",
            UnknownAsset => "UNKNOWN_ASSET",
            UnknownMarket => "UNKNOWN_MARKET",
            UnknownOrder => "UNKNOWN_ORDER",
            UnknownWithdrawal => "UNKNOWN_WITHDRAWAL",
            UnknownApiKey => "UNKNOWN_API_KEY",
            AssetExists => "ASSET_EXISTS",
            MarketExists => "MARKET_EXISTS",
            InvalidMarketSpec => "INVALID_MARKET_SPEC",
            UsernameTaken => "USERNAME_TAKEN",
            ApiKeyExists => "API_KEY_EXISTS",
            InvalidAmount => "INVALID_AMOUNT",
            InsufficientBalance => "INSUFFICIENT_BALANCE",
            InvalidPrice => "INVALID_PRICE",
            InvalidQuantity => "INVALID_QUANTITY",
            InvalidOrder => "INVALID_ORDER",
            QuantityTooSmall => "QUANTITY_TOO_SMALL",
            QuantityTooLarge => "QUANTITY_TOO_LARGE",
            NotionalTooSmall => "NOTIONAL_TOO_SMALL",
            NotionalTooLarge => "NOTIONAL_TOO_LARGE",
            PriceOutOfBand => "PRICE_OUT_OF_BAND",
            TooManyOpenOrders => "TOO_MANY_OPEN_ORDERS",
            MarketHalted => "MARKET_HALTED",
            KillSwitchActive => "KILL_SWITCH_ACTIVE",
            KycRequired => "KYC_REQUIRED",
            PostOnlyWouldTake => "POST_ONLY_WOULD_TAKE",
            FokCannotFill => "FOK_CANNOT_FILL",
            DuplicateClientOrderId => "DUPLICATE_CLIENT_ORDER_ID",
            ExpireAtInPast => "EXPIRE_AT_IN_PAST",
            StopWouldTriggerImmediately => "STOP_WOULD_TRIGGER_IMMEDIATELY",
            OrderNotAmendable => "ORDER_NOT_AMENDABLE",
            WithdrawalNotPending => "WITHDRAWAL_NOT_PENDING",
            MarketAlreadyInState => "MARKET_ALREADY_IN_STATE",
            InvalidAssetSpec => "INVALID_ASSET_SPEC",
            DuplicateClientWithdrawalId => "DUPLICATE_CLIENT_WITHDRAWAL_ID",
            WithdrawalLimit => "WITHDRAWAL_LIMIT",
            InvalidKycLevel => "INVALID_KYC_LEVEL",
            InvalidKycPolicy => "INVALID_KYC_POLICY",
            InvalidBeneficialOwner => "INVALID_BENEFICIAL_OWNER",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RejectCode;

    #[test]
    fn wire_name_matches_serde() {
        for code in [
            RejectCode::InsufficientBalance,
            RejectCode::FokCannotFill,
            RejectCode::MarketAlreadyInState,
            RejectCode::DuplicateClientWithdrawalId,
            RejectCode::WithdrawalLimit,
            RejectCode::InvalidBeneficialOwner,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
