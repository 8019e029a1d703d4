//! Authentication and authorization.
//!
//! - [`password`]: argon2id hashing. Hashes are computed in the gateway (on a blocking
//!   thread) and journaled as `RegisterUser.password_hash` / `SetPassword`, so the core
//!   never sees a password.
//! - [`token`]: HS256 JWT bearer tokens with an expiry, signed with a key derived from the
//!   server key.
//! - [`api_key`]: API keys (secret encrypted at rest) and HMAC-signed requests.
//! - [`login`]: password login with back-off per account and per IP.
//! - [`verify`]: checks a bearer token or a signed request and answers the [`Caller`];
//!   each channel extracts the credential from its own wire format (the HTTP crate's
//!   auth layer, the WebSocket `auth` frame).
//!
//! # Rules
//! - A request carries either `Authorization: Bearer <jwt>` or a signed request
//!   (`X-API-KEY`, `X-API-TIMESTAMP`, `X-API-SIGNATURE`); the latter wins if both are
//!   present. A bad credential is answered 401 by any route that needs a user (codes
//!   `UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`,
//!   `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`); public routes
//!   serve it as anonymous.
//! - **Live role and tier.** Every authenticated request reads the user from the core
//!   (`seq.query`, one short closure between batches), so a role, tier or password change
//!   applies to the very next request; the token's `role` claim is informational. The
//!   alternative, short-lived tokens plus refresh, would leave a window in which a demoted
//!   admin keeps admin rights.
//! - **Password change revokes every earlier token** without any new state: a token
//!   carries a keyed fingerprint of the password hash it was issued under, and a request
//!   is refused when it no longer matches the core's hash. The hash comes from the
//!   journaled `PasswordChanged` event, so this survives restarts, snapshots and
//!   followers for free, and `SetPassword` always changes it (fresh salt).
//! - **Logout revokes that one token** (`jti`) until its expiry: a journaled
//!   `RevokeToken` command, so the core's list survives restarts and snapshots and every
//!   gateway and follower refuses the token — the same path as a password change. The
//!   check is part of the per-request user query, so it costs nothing extra.
//! - API keys are not sessions: a password change does not revoke them, deleting the key
//!   does (immediately: the key is looked up in the core on each request).
//! - **Permissions.** The [`Caller`] carries what it may do (`bourse_model::Permissions`):
//!   a password session everything its role allows; an API key what it was created with
//!   (`read`, `trade`, `withdraw`, `admin`; see `bourse_model::ApiKeyScope`). The services
//!   check them ([`Caller::require`]): order entry needs `trade`, withdrawals `withdraw`,
//!   private reads `read`, admin routes role `admin` and, for a key, `admin`, which a key
//!   only keeps if it has an IP allow-list. A key with an allow-list is refused
//!   (`IP_NOT_ALLOWED`, 403) from any other address, checked right after its signature.

pub mod api_key;
pub mod login;
pub mod password;
pub mod token;
pub mod verify;

pub use token::TokenKeys;
pub use verify::{Caller, Signature, Via};

use crate::keys::ServerKey;
use serde::Deserialize;

/// `[auth]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How far `X-API-TIMESTAMP` may be from the server's clock, either way (ms).
    pub signature_window_ms: u64,
    /// Consecutive failed logins of one account before the back-off starts.
    pub login_free_failures: u32,
    /// Failed logins from one IP (any accounts) before its back-off starts.
    pub login_ip_free_failures: u32,
    /// The first lock; each later failure doubles it (ms).
    pub login_backoff_base_ms: u64,
    /// The longest lock (ms).
    pub login_backoff_max_ms: u64,
    /// Most accounts, and most IPs, the login throttle remembers (LRU).
    pub login_throttle_entries: usize,
    /// Password hashes at once (each takes 19 MiB); 0 = the number of cores.
    pub hash_concurrency: usize,
    /// How long a request waits for a hashing slot before 503 `BUSY` (ms).
    pub hash_wait_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            signature_window_ms: 5_000,
            login_free_failures: 3,
            login_ip_free_failures: 50,
            login_backoff_base_ms: 1_000,
            login_backoff_max_ms: 15 * 60_000,
            login_throttle_entries: 100_000,
            hash_concurrency: 0,
            hash_wait_ms: 2_000,
        }
    }
}

/// What the credential checks keep between requests.
pub struct AuthState {
    pub secrets: api_key::SecretBox,
    pub replay: api_key::ReplayCache,
    /// Failed logins per account and per IP.
    pub login: login::LoginThrottle,
    /// The bounded password-hashing pool.
    pub hasher: password::HashPool,
}

impl AuthState {
    /// Derives the API-secret key; sizes the login throttle and the hashing pool.
    pub fn new(key: &ServerKey, config: &AuthConfig) -> Self {
        Self {
            secrets: api_key::SecretBox::new(&key.derive("bourse api-key secrets v1")),
            replay: api_key::ReplayCache::default(),
            login: login::LoginThrottle::new(config),
            hasher: password::HashPool::new(
                config.hash_concurrency,
                std::time::Duration::from_millis(config.hash_wait_ms),
            ),
        }
    }
}
