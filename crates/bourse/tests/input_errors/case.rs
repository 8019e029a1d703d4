//! The table's vocabulary: who sends a case, its body, what it must get back.

use reqwest::Method;
use serde_json::{json, Value};

#[derive(Clone, Copy)]
pub(crate) enum Who {
    Anon,
    Trader,
    Admin,
}

pub(crate) enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
}

pub(crate) struct Case {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) who: Who,
    pub(crate) body: Body,
    pub(crate) status: u16,
    pub(crate) code: &'static str,
}

pub(crate) fn case(
    method: Method,
    path: &str,
    who: Who,
    body: Body,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        who,
        body,
        status,
        code,
    }
}

pub(crate) fn order(extra: Value) -> Body {
    let mut o = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "1"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v.clone();
        }
    }
    Body::Json(o)
}

pub(crate) fn raw(s: &str) -> Body {
    Body::Raw("application/json", s.to_owned())
}
