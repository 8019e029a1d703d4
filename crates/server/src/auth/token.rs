//! JWT bearer tokens: HS256, claims `sub` (user id), `role`, `iat`, `exp` (seconds) and a
//! random `jti` (so a future revocation list can name one token).

use crate::config::ServerKey;
use bourse_model::{Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: u64,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(key: &ServerKey, ttl_secs: u64) -> Self {
        let secret = key.derive("bourse jwt v1");
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            ttl_secs,
        }
    }

    /// A token for `user`; returns it and its expiry in ms since the epoch.
    pub fn issue(&self, user: UserId, role: Role, now_ms: u64) -> Result<(String, u64), String> {
        let iat = now_ms / 1000;
        let exp = iat + self.ttl_secs;
        let claims = Claims {
            sub: user.0,
            role,
            iat,
            exp,
            jti: hex::encode(rand::random::<[u8; 16]>()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())?;
        Ok((token, exp * 1000))
    }

    /// Checks signature, algorithm and expiry.
    pub fn decode(&self, token: &str) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}
