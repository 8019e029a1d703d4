//! A request's parameters as Binance takes them: the query string and, for POST/PUT/DELETE,
//! the `application/x-www-form-urlencoded` body, merged (the body wins). Unknown
//! parameters are ignored, as Binance does (clients send some). Signed requests are
//! checked here: `signature` is hex HMAC-SHA256 of the query string followed by the body
//! (`signature=` itself removed), the key is `X-MBX-APIKEY`, `timestamp` is checked by the
//! gateway's signature window.

use crate::error::{BinanceError, Result};
use axum::http::HeaderMap;
use bourse_gateway::auth::Signature;
use bourse_gateway::market_info::MarketInfo;
use bourse_gateway::{Caller, Gateway};
use std::collections::HashMap;
use std::net::IpAddr;

/// The merged parameters and what the signature covers.
#[derive(Debug, Default)]
pub struct Params {
    map: HashMap<String, String>,
    /// `totalParams` without `signature`: the signed payload.
    payload: String,
    signature: Option<String>,
}

fn strip_signature(raw: &str, sig: &mut Option<String>) -> String {
    let mut kept = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        if let Some(s) = part.strip_prefix("signature=") {
            *sig = Some(s.to_owned());
        } else {
            kept.push(part);
        }
    }
    kept.join("&")
}

impl Params {
    pub fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let query = query.unwrap_or("");
        let body = std::str::from_utf8(body).unwrap_or("");
        let mut out = Params::default();
        for (k, v) in
            form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(body.as_bytes()))
        {
            out.map.insert(k.into_owned(), v.into_owned());
        }
        let q = strip_signature(query, &mut out.signature);
        let b = strip_signature(body, &mut out.signature);
        out.payload = q + &b;
        out
    }

    /// A parameter, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| BinanceError::missing(name))
    }

    pub fn u64(&self, name: &str) -> Result<Option<u64>> {
        self.get(name)
            .map(|s| s.parse::<u64>().map_err(|_| BinanceError::illegal(name)))
            .transpose()
    }

    /// `limit`, defaulted, and clamped to `max` (Binance clamps a too-large limit).
    pub fn limit(&self, default: u32, max: u32) -> Result<u32> {
        Ok(self
            .u64("limit")?
            .map_or(default, |l| l.clamp(1, u64::from(max)) as u32))
    }

    /// Checks the signature and answers the caller.
    pub async fn authenticate(
        &self,
        gw: &Gateway,
        headers: &HeaderMap,
        ip: Option<IpAddr>,
    ) -> Result<Caller> {
        let key = headers
            .get("x-mbx-apikey")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| BinanceError::new(-2014, "API-key format invalid."))?;
        let timestamp = self.require("timestamp")?;
        let signature = self
            .signature
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| BinanceError::missing("signature"))?;
        if let Some(w) = self.u64("recvWindow")? {
            if w > 60_000 {
                return Err(BinanceError::new(
                    -1131,
                    "recvWindow must be less than 60000",
                ));
            }
        }
        let sig = Signature {
            key_id: key,
            timestamp,
            signature,
        };
        Ok(gw
            .authenticate_signed(sig, self.payload.as_bytes(), ip)
            .await?)
    }
}

/// Bourse's `BTC-USD` as Binance spells it: `BTCUSD`.
pub fn binance_symbol(m: &MarketInfo) -> String {
    m.symbol().replace('-', "")
}

/// The market a Binance symbol names (`BTCUSD`, case-insensitive), or -1121.
pub fn market<'a>(markets: &'a [MarketInfo], symbol: &str) -> Result<&'a MarketInfo> {
    markets
        .iter()
        .find(|m| binance_symbol(m).eq_ignore_ascii_case(symbol))
        .ok_or_else(BinanceError::invalid_symbol)
}

/// `symbol` (required) resolved.
pub fn symbol_param<'a>(p: &Params, markets: &'a [MarketInfo]) -> Result<&'a MarketInfo> {
    market(markets, p.require("symbol")?)
}

/// The markets `symbol` or `symbols=["A","B"]` name; all of them without either.
pub fn symbols_param(p: &Params, markets: &[MarketInfo]) -> Result<Vec<MarketInfo>> {
    if let Some(s) = p.get("symbol") {
        return Ok(vec![market(markets, s)?.clone()]);
    }
    match p.get("symbols") {
        None => Ok(markets.to_vec()),
        Some(list) => {
            let names: Vec<String> =
                serde_json::from_str(list).map_err(|_| BinanceError::illegal("symbols"))?;
            names.iter().map(|s| market(markets, s).cloned()).collect()
        }
    }
}
