//! Authentication and authorization.
//!
//! - [`password`]: argon2id hashing. Hashes are computed in the gateway (on a blocking
//!   thread) and journaled as `RegisterUser.password_hash`, so the core never sees a
//!   password.
//! - [`token`]: HS256 JWT bearer tokens with an expiry, signed with a key derived from the
//!   server key.
//! - [`extract`]: the [`AuthUser`] extractor (who is calling) and [`AdminUser`] (role
//!   check). Every credential check goes through `extract::authenticate`: that is the
//!   seam for API-key (HMAC) requests and for token revocation (logout, password change).

pub mod extract;
pub mod password;
pub mod token;

pub use extract::{AdminUser, AuthUser};
pub use token::TokenKeys;
