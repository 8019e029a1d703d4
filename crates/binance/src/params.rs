//! A request's parameters as Binance takes them: the query string and, for POST/PUT/DELETE,
//! the `application/x-www-form-urlencoded` body, merged (the body wins). Unknown
//! parameters are ignored, as Binance does (clients send some). Signed requests are
//! checked here: `signature` is hex HMAC-SHA256 of the query string followed by the body
//! (`signature=` itself removed), the key is `X-MBX-APIKEY`, `timestamp` is checked by the
//! gateway's signature window.

use crate::error::{BinanceError, Result};
use crate::rules::{self, Param, Rule};
use axum::http::HeaderMap;
use bourse_gateway::auth::Signature;
use bourse_gateway::market_info::MarketInfo;
use bourse_gateway::rules::Bounds;
use bourse_gateway::{Caller, Gateway};
use bourse_model::ClientOrderId;
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

    /// A declared parameter's value: `None` when absent; sent empty it breaks its rule
    /// (Binance refuses `limit=` rather than take the default).
    fn declared(&self, p: &Param) -> Result<Option<&str>> {
        match self.map.get(p.name) {
            Some(v) if v.is_empty() => Err(p.refused()),
            v => Ok(v.map(String::as_str)),
        }
    }

    /// An integer parameter, checked against its declaration.
    pub fn int(&self, p: &Param) -> Result<Option<u64>> {
        let Some(s) = self.declared(p)? else {
            return Ok(None);
        };
        let bounds = match p.rule {
            Rule::Int(b) => b,
            Rule::Limit { .. } => Bounds {
                min: 1,
                max: rules::ID.max,
            },
            _ => unreachable!("{} is not an integer parameter", p.name),
        };
        // Digits only: `u64::from_str` would take a leading `+`.
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BinanceError::illegal(p.name));
        }
        let v = s.parse::<u64>().map_err(|_| p.refused())?;
        if !(bounds.min..=bounds.max).contains(&v) {
            return Err(p.refused());
        }
        Ok(Some(v))
    }

    /// `limit` as `p` declares it: defaulted, and clamped to the maximum (Binance clamps
    /// a too-large limit).
    pub fn limit(&self, p: &Param) -> Result<u32> {
        let Rule::Limit { default, max } = p.rule else {
            unreachable!("{} is not a limit", p.name)
        };
        Ok(self
            .int(p)?
            .map_or(default, |l| l.min(u64::from(max)) as u32))
    }

    /// An enum parameter, checked against its declaration.
    pub fn choice(&self, p: &Param) -> Result<Option<&str>> {
        let Rule::Enum(values) = p.rule else {
            unreachable!("{} is not an enum", p.name)
        };
        match self.declared(p)? {
            Some(v) if !values.contains(&v) => Err(p.refused()),
            v => Ok(v),
        }
    }

    /// A string parameter, checked against its pattern (or the client id rule).
    pub fn text(&self, p: &Param) -> Result<Option<&str>> {
        let Some(v) = self.declared(p)? else {
            return Ok(None);
        };
        let ok = match &p.rule {
            Rule::Pattern(_, re) => re.is_match(v),
            Rule::ClientId => ClientOrderId::new(v).is_ok(),
            Rule::Decimal => rules::DECIMAL_RE.is_match(v),
            Rule::Any => true,
            _ => unreachable!("{} is not a string parameter", p.name),
        };
        if ok {
            Ok(Some(v))
        } else {
            Err(p.refused())
        }
    }

    /// Checks `p` alone, whatever its rule (the value is read later).
    pub fn check(&self, p: &Param) -> Result<()> {
        match p.rule {
            Rule::Limit { .. } | Rule::Int(_) => self.int(p).map(drop),
            Rule::Enum(_) => self.choice(p).map(drop),
            _ => self.text(p).map(drop),
        }
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
            .ok_or_else(BinanceError::key_format)?;
        self.int(&rules::TIMESTAMP)?;
        let timestamp = self.require("timestamp")?;
        let signature = self
            .signature
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| BinanceError::missing("signature"))?;
        self.int(&rules::RECV_WINDOW)?;
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

/// The market a Binance symbol names (`BTCUSD`, case-insensitive: stream names are lower
/// case; REST parameters are upper case by [`rules::SYMBOL`]'s pattern), or -1121.
pub fn market<'a>(markets: &'a [MarketInfo], symbol: &str) -> Result<&'a MarketInfo> {
    markets
        .iter()
        .find(|m| binance_symbol(m).eq_ignore_ascii_case(symbol))
        .ok_or_else(BinanceError::invalid_symbol)
}

/// `symbol` (required) resolved.
pub fn symbol_param<'a>(p: &Params, markets: &'a [MarketInfo]) -> Result<&'a MarketInfo> {
    match p.text(&rules::SYMBOL)? {
        Some(s) => market(markets, s),
        None => Err(BinanceError::missing("symbol")),
    }
}

/// `symbol` (optional) resolved.
pub fn optional_symbol<'a>(
    p: &Params,
    markets: &'a [MarketInfo],
) -> Result<Option<&'a MarketInfo>> {
    p.text(&rules::SYMBOL)?
        .map(|s| market(markets, s))
        .transpose()
}

/// The markets `symbol` or `symbols=["A","B"]` name; all of them without either.
pub fn symbols_param(p: &Params, markets: &[MarketInfo]) -> Result<Vec<MarketInfo>> {
    let list = p.text(&rules::SYMBOLS)?;
    if let Some(m) = optional_symbol(p, markets)? {
        return Ok(vec![m.clone()]);
    }
    match list {
        None => Ok(markets.to_vec()),
        Some(list) => {
            let names: Vec<String> =
                serde_json::from_str(list).map_err(|_| BinanceError::illegal("symbols"))?;
            names.iter().map(|s| market(markets, s).cloned()).collect()
        }
    }
}
