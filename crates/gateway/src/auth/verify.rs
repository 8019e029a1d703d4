//! Checking a credential: a bearer token or a signed request. Both answer the
//! [`Caller`] with the role and tier the core has now, or a 401-class [`Error`] with a
//! specific code (see the module doc of [`crate::auth`]).

use super::api_key;
use super::token::TokenError;
use crate::error::Error;
use crate::Gateway;
use bourse_engine::now_ms;
use bourse_model::{Permission, Permissions, Role, Tier, UserId};
use std::net::IpAddr;

/// An authenticated caller, with the role and tier the core has now and what the
/// credential allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub role: Role,
    pub tier: Tier,
    pub via: Via,
    /// [`Permissions::SESSION`] for a password session; an API key's own, with `admin`
    /// only while the key has an allow-list and its owner is an admin.
    pub permissions: Permissions,
}

/// Which credential authenticated the request. Managing credentials (API keys,
/// password, logout) needs a bearer session: a leaked API key cannot mint more keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Token,
    ApiKey,
}

impl Caller {
    /// Refuses (403) callers that did not log in with a password.
    pub fn require_session(&self) -> Result<(), Error> {
        match self.via {
            Via::Token => Ok(()),
            Via::ApiKey => Err(Error::Forbidden(
                "this needs a bearer token from a password login, not an API key".into(),
            )),
        }
    }

    /// Refuses (403 `PERMISSION_DENIED`) an API key without `permission`; a password
    /// session has them all (admin routes check the role too: [`Caller::require_admin`]).
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.permissions.contains(permission) {
            return Ok(());
        }
        Err(Error::forbidden(
            "PERMISSION_DENIED",
            format!(
                "this API key lacks the `{}` permission (choose permissions when creating a key)",
                permission.as_str()
            ),
        ))
    }

    /// Refuses (403) callers without role `admin`, and API keys without the `admin`
    /// permission (which only an admin's key with an IP allow-list keeps).
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.role != Role::Admin {
            return Err(Error::Forbidden("admin role required".into()));
        }
        if self.via == Via::ApiKey && !self.permissions.contains(Permission::Admin) {
            return Err(Error::forbidden(
                "PERMISSION_DENIED",
                "admin routes refuse API keys unless the key was created by an admin with the \
                 `admin` permission and an IP allow-list",
            ));
        }
        Ok(())
    }
}

/// The three parts of a signed request.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    pub key_id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl Gateway {
    /// Checks a bearer token: signature, expiry, logout list, the password it was issued
    /// under, and that the user exists; role and tier are the core's as of the last
    /// batch (the auth index of the read views: no trip through the writer).
    pub async fn authenticate_token(&self, token: &str) -> Result<Caller, Error> {
        let claims = self.tokens.decode(token).map_err(|e| match e {
            TokenError::Expired => {
                Error::unauthorized("TOKEN_EXPIRED", "the token has expired; log in again")
            }
            TokenError::Invalid => Error::unauthorized("UNAUTHORIZED", "invalid token"),
        })?;
        let jti = claims
            .jti_bytes()
            .ok_or_else(|| Error::unauthorized("UNAUTHORIZED", "invalid token"))?;
        let id = UserId(claims.sub);
        let Some(user) = self.seq.views().user(id) else {
            return Err(Error::unauthorized("UNAUTHORIZED", "invalid token"));
        };
        if user.token_revoked(&jti) {
            return Err(Error::unauthorized(
                "TOKEN_REVOKED",
                "the token was revoked (logged out)",
            ));
        }
        if self.tokens.password_fingerprint(&user.password_hash) != claims.pwd {
            return Err(Error::unauthorized(
                "TOKEN_REVOKED",
                "the password was changed after this token was issued; log in again",
            ));
        }
        bourse_engine::origin::identify(id, None);
        Ok(Caller {
            id,
            role: user.role,
            tier: user.tier,
            via: Via::Token,
            permissions: Permissions::SESSION,
        })
    }

    /// Checks a signed request: `payload` is what the channel signs (for REST,
    /// [`api_key::signing_payload`] of timestamp, method, path and body); `ip` is the
    /// client's address as the channel knows it (`None`: unknown, refused by any key
    /// with an allow-list).
    pub async fn authenticate_signed(
        &self,
        sig: Signature<'_>,
        payload: &[u8],
        ip: Option<IpAddr>,
    ) -> Result<Caller, Error> {
        let unknown = || Error::unauthorized("INVALID_API_KEY", "unknown or deleted API key");
        let views = self.seq.views();
        let key = views.api_key(sig.key_id).ok_or_else(unknown)?;
        let owner = views.user(key.user).ok_or_else(unknown)?;
        let secret = self
            .auth
            .secrets
            .open(sig.key_id, &key.secret_enc)
            .ok_or_else(|| {
                Error::internal(format!("API key {}: secret does not decrypt", sig.key_id))
            })?;
        let mac = api_key::verify(&secret, payload, sig.signature).ok_or_else(|| {
            Error::unauthorized(
                "INVALID_SIGNATURE",
                "X-API-SIGNATURE is not hex HMAC-SHA256(secret, timestamp + METHOD + path_and_query + body)",
            )
        })?;
        // Only an authentic request learns that its address is not allowed.
        if !key.scope.allows(ip.map(api_key::ip_bytes)) {
            return Err(Error::forbidden(
                "IP_NOT_ALLOWED",
                match ip {
                    Some(ip) => format!("this API key may not be used from {ip}"),
                    None => "this API key has an IP allow-list and the client address is unknown"
                        .to_owned(),
                },
            ));
        }
        let window = self.config.auth.signature_window_ms;
        let now = now_ms();
        let ts: u64 = sig.timestamp.parse().map_err(|_| {
            Error::unauthorized(
                "TIMESTAMP_OUT_OF_WINDOW",
                "X-API-TIMESTAMP must be milliseconds since the epoch",
            )
        })?;
        if now.abs_diff(ts) > window {
            return Err(Error::unauthorized(
                "TIMESTAMP_OUT_OF_WINDOW",
                format!(
                    "X-API-TIMESTAMP is more than {window} ms away from the server time ({now})"
                ),
            ));
        }
        if !self
            .auth
            .replay
            .first_use(mac, ts.saturating_add(window), now)
        {
            return Err(Error::unauthorized(
                "SIGNATURE_REPLAYED",
                "this signature was already used; sign every request anew",
            ));
        }
        bourse_engine::origin::identify(owner.id, Some(sig.key_id));
        Ok(Caller {
            id: owner.id,
            role: owner.role,
            tier: owner.tier,
            via: Via::ApiKey,
            permissions: key_permissions(&key.scope, owner.role),
        })
    }
}

/// What a key may do now: its permissions, less `admin` unless its owner is an admin and
/// the key has an allow-list (checked again here, not only at creation, so a demoted
/// admin's key loses it at once).
fn key_permissions(scope: &bourse_model::ApiKeyScope, role: Role) -> Permissions {
    if role == Role::Admin && !scope.allow_ips.is_empty() {
        scope.permissions
    } else {
        scope.permissions.without(Permission::Admin)
    }
}
