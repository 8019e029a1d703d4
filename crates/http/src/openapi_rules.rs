//! Writes the input rules of [`bourse_gateway::rules`] (and the id rules of the model) into
//! the OpenAPI document: the validators and the schema read the same declarations, so a
//! bound or a pattern changed in one place changes both. `tests/openapi_rules.rs` probes
//! the real server at every bound the document states.
//!
//! Query and path parameters are matched by name (optionally on one path only), body
//! fields by component schema and property; a rule is applied only where the type fits
//! (a [`Bounds`] on an integer, a [`Text`] or pattern on a string), so `cursor` can be an
//! integer on one route and a string on another.

use bourse_gateway::rules::{self, Bounds, Text};
use bourse_store::Interval;
use serde_json::{json, Value};
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// One rule, as the schema states it.
enum Rule {
    Bounds(Bounds),
    Text(&'static Text),
    /// A pattern and the words that go with it (ids, symbols, decimals).
    Pattern(String, &'static str),
    Enum(Vec<&'static str>),
}

/// `(path or "" for every path, parameter name, rule)`.
fn params() -> Vec<(&'static str, &'static str, Rule)> {
    use Rule::*;
    let intervals = Interval::ALL.iter().map(|i| i.as_str()).collect();
    vec![
        (
            "/api/v1/markets/{symbol}/candles",
            "limit",
            Bounds(rules::CANDLE_LIMIT),
        ),
        (
            "/api/v1/notifications",
            "limit",
            Bounds(rules::NOTIFICATION_PAGE_LIMIT),
        ),
        (
            "/api/v1/price-alerts",
            "limit",
            Bounds(rules::NOTIFICATION_PAGE_LIMIT),
        ),
        (
            "/api/v1/admin/notifications/dead-letters",
            "limit",
            Bounds(rules::NOTIFICATION_PAGE_LIMIT),
        ),
        (
            "/api/v1/admin/users",
            "limit",
            Bounds(rules::USER_PAGE_LIMIT),
        ),
        ("", "limit", Bounds(rules::PAGE_LIMIT)),
        ("", "depth", Bounds(rules::BOOK_DEPTH)),
        (
            "/api/v1/withdrawals",
            "cursor",
            Text(&rules::WITHDRAWAL_CURSOR),
        ),
        ("/api/v1/deposits", "cursor", Text(&rules::DEPOSIT_CURSOR)),
        ("", "cursor", Bounds(rules::CURSOR)),
        ("", "before", Bounds(rules::CURSOR)),
        ("", "after", Bounds(rules::CURSOR)),
        ("", "start", Bounds(rules::TIME_MS)),
        ("", "end", Bounds(rules::TIME_MS)),
        ("", "interval", Enum(intervals)),
        (
            "/api/v1/orders",
            "status",
            Enum(rules::ORDER_STATUS.to_vec()),
        ),
        (
            "/api/v1/admin/withdrawals",
            "status",
            Enum(rules::PENDING_STATUS.to_vec()),
        ),
        ("", "symbol", symbol()),
        ("", "market", symbol()),
    ]
}

/// `(schema, property, rule)`.
fn fields() -> Vec<(&'static str, &'static str, Rule)> {
    use Rule::*;
    let mut v = vec![
        ("Credentials", "username", Text(&rules::USERNAME)),
        ("Credentials", "password", Text(&rules::PASSWORD)),
        ("PasswordChange", "new_password", Text(&rules::PASSWORD)),
        ("WithdrawalBody", "address", Text(&rules::ADDRESS)),
        ("WithdrawalBody", "client_withdrawal_id", client_id()),
        ("WithdrawalBody", "asset", symbol()),
        ("NewKeyBody", "label", Text(&rules::API_KEY_LABEL)),
        (
            "AnnouncementBody",
            "title",
            Text(&rules::ANNOUNCEMENT_TITLE),
        ),
        (
            "AnnouncementBody",
            "message",
            Text(&rules::ANNOUNCEMENT_MESSAGE),
        ),
        ("PlaceOrderBody", "client_order_id", client_id()),
        ("PlaceOrderBody", "market", symbol()),
        ("PlaceOrderBody", "expire_at", Bounds(rules::TIME_MS)),
        ("AlertBody", "market", symbol()),
        ("DepositBody", "asset", symbol()),
        ("MarketBody", "symbol", symbol()),
        ("MarketBody", "base", symbol()),
        ("MarketBody", "quote", symbol()),
    ];
    for (schema, field) in [
        ("PlaceOrderBody", "price"),
        ("PlaceOrderBody", "quantity"),
        ("PlaceOrderBody", "quote_quantity"),
        ("PlaceOrderBody", "stop_price"),
        ("AmendBody", "price"),
        ("AmendBody", "quantity"),
        ("AlertBody", "price"),
        ("WithdrawalBody", "amount"),
        ("DepositBody", "amount"),
        ("MarketBody", "tick_size"),
        ("MarketBody", "lot_size"),
        ("MarketBody", "min_notional"),
        ("MarketBody", "min_quantity"),
        ("MarketBody", "max_quantity"),
    ] {
        v.push((schema, field, decimal()));
    }
    v
}

fn symbol() -> Rule {
    Rule::Pattern(rules::symbol_pattern(), "1 to 20 characters of `A-Z 0-9 -`")
}

fn client_id() -> Rule {
    Rule::Pattern(
        rules::client_id_pattern(),
        "1 to 36 characters of `A-Z a-z 0-9 _ . : -`",
    )
}

fn decimal() -> Rule {
    Rule::Pattern(
        rules::DECIMAL.to_owned(),
        "a decimal string (digits, optionally `.` and digits); it must also fit the \
         market's or asset's grid (`INVALID_DECIMAL`: too many decimals or too large; \
         `OFF_GRID`: not a positive multiple of the tick or lot size)",
    )
}

/// Compound rules of whole bodies, in JSON Schema words (utoipa has no field for `not`
/// or `anyOf` next to `properties`; they go in as schema keywords all the same).
fn body_keywords() -> Vec<(&'static str, &'static str, Value)> {
    let given = |f: &str| json!({"required": [f], "properties": {f: {"type": "string"}}});
    vec![
        (
            "PlaceOrderBody",
            "not",
            json!({"required": ["quantity", "quote_quantity"],
                   "properties": {"quantity": {"type": "string"}, "quote_quantity": {"type": "string"}}}),
        ),
        (
            "AmendBody",
            "anyOf",
            json!([given("price"), given("quantity")]),
        ),
    ]
}

/// Writes every rule into `doc`.
pub fn document_rules(doc: &mut OpenApi) {
    let params = params();
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            for p in op.parameters.iter_mut().flatten() {
                let rule = params
                    .iter()
                    .find(|(on, name, rule)| {
                        (on.is_empty() || on == path)
                            && *name == p.name
                            && p.schema
                                .as_ref()
                                .and_then(object)
                                .is_some_and(|o| fits(o, rule))
                    })
                    .map(|(_, _, r)| r);
                if let (Some(rule), Some(RefOr::T(Schema::Object(o)))) = (rule, p.schema.as_mut()) {
                    apply(o, rule);
                }
            }
        }
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (schema, field, rule) in fields() {
        let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(schema) else {
            panic!("no schema {schema} in the document");
        };
        match body.properties.get_mut(field) {
            Some(RefOr::T(Schema::Object(o))) if fits(o, &rule) => apply(o, &rule),
            _ => panic!("{schema}.{field} is not a property the rule fits"),
        }
    }
    for (schema, keyword, value) in body_keywords() {
        if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(schema) {
            body.extensions
                .get_or_insert_with(Default::default)
                .insert(keyword.to_owned(), value);
        }
    }
}

fn object(s: &RefOr<Schema>) -> Option<&Object> {
    match s {
        RefOr::T(Schema::Object(o)) => Some(o),
        _ => None,
    }
}

fn is(o: &Object, t: Type) -> bool {
    match &o.schema_type {
        SchemaType::Type(x) => *x == t,
        SchemaType::Array(xs) => xs.contains(&t),
        SchemaType::AnyValue => false,
    }
}

fn fits(o: &Object, rule: &Rule) -> bool {
    match rule {
        Rule::Bounds(_) => is(o, Type::Integer),
        Rule::Text(_) | Rule::Pattern(..) | Rule::Enum(_) => is(o, Type::String),
    }
}

fn apply(o: &mut Object, rule: &Rule) {
    use utoipa::Number::UInt;
    let say = |o: &mut Object, words: &str| {
        let d = o.description.get_or_insert_with(String::new);
        if !d.contains(words) {
            if !d.is_empty() {
                d.push_str("\n\n");
            }
            d.push_str("Rule: ");
            d.push_str(words);
            d.push('.');
        }
    };
    match rule {
        Rule::Bounds(b) => {
            o.minimum = Some(UInt(b.min as usize));
            o.maximum = Some(UInt(b.max as usize));
        }
        Rule::Text(t) => {
            o.min_length = Some(t.min);
            o.max_length = Some(t.max);
            o.pattern = t.pattern.map(str::to_owned);
            say(o, t.says);
        }
        Rule::Pattern(p, words) => {
            o.pattern = Some(p.clone());
            say(o, words);
        }
        Rule::Enum(values) => {
            let mut v: Vec<Value> = values.iter().map(|s| json!(s)).collect();
            if is(o, Type::Null) {
                v.push(Value::Null);
            }
            o.enum_values = Some(v);
        }
    }
}
