//! Writes the input rules of [`bourse_gateway::rules`] (and the id rules of the model) into
//! the OpenAPI document: the validators and the schema read the same declarations, so a
//! bound or a pattern changed in one place changes both. `tests/openapi_rules.rs` probes
//! the real server at every bound, pattern and enum the document states.
//!
//! What JSON Schema cannot state is stated per operation ([`beyond_schema`]): the codes of
//! its documented 422 answer other than `VALIDATION_ERROR` / `UNKNOWN_FIELD` (grid, scale
//! and state rules: `OFF_GRID`, `INSUFFICIENT_BALANCE`, …) and the [`Relation`]s it
//! enforces, in its description and as `x-beyond-schema`
//! (`{"codes": [...], "relations": [{"field", "rule"}]}`). A schema-valid request may be
//! refused with those and nothing else; `e2e/schemathesis_hooks.py` checks exactly that.
//!
//! Query and path parameters are matched by name (optionally on one path only), body
//! fields by component schema and property; a rule is applied only where the type fits
//! (a [`Bounds`] on an integer, a [`Text`] or pattern on a string), so `cursor` can be an
//! integer on one route and a string on another.

use bourse_gateway::rules::{self, Bounds, Relation, Text};
use bourse_store::Interval;
use serde_json::{json, Value};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayItems, Object, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// One rule, as the schema states it.
enum Rule {
    Bounds(Bounds),
    Text(&'static Text),
    /// A pattern and the words that go with it (ids, symbols, decimals).
    Pattern(String, &'static str),
    Enum(Vec<&'static str>),
    /// A pattern on each item of an array.
    Items(String, &'static str),
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
        ("UserPatch", "kyc_level", Bounds(rules::KYC_LEVEL)),
        (
            "UserPatch",
            "beneficial_owner",
            Text(&rules::BENEFICIAL_OWNER),
        ),
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
        (
            "NewKeyBody",
            "allow_ips",
            Items(
                rules::ALLOW_IP.to_owned(),
                "each entry 2 to 39 characters of an IPv4 or IPv6 address, optionally \
                 `/prefix`; it must also parse as an address or a CIDR block without host \
                 bits",
            ),
        ),
    ];
    for (schema, field) in [
        ("MarketBody", "maker_fee_bps"),
        ("MarketBody", "taker_fee_bps"),
        ("MarketBody", "price_band_bps"),
        ("MarketBody", "market_slippage_bps"),
        ("TierFee", "maker_bps"),
        ("TierFee", "taker_bps"),
    ] {
        v.push((schema, field, Bounds(rules::BPS)));
    }
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
    ] {
        v.push((
            schema,
            field,
            decimal(rules::POSITIVE_DECIMAL, "a positive"),
        ));
    }
    for (schema, field) in [
        ("MarketBody", "min_notional"),
        ("MarketBody", "min_quantity"),
        ("MarketBody", "max_quantity"),
    ] {
        v.push((schema, field, decimal(rules::DECIMAL, "a")));
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

fn decimal(pattern: &str, a: &str) -> Rule {
    let words = format!(
        "{a} decimal string (digits, optionally `.` and digits); it must also fit the \
         market's or asset's grid (`INVALID_DECIMAL`: more decimals than the market or asset \
         has, or too large; `OFF_GRID`: not a positive multiple of the tick or lot size)"
    );
    Rule::Pattern(pattern.to_owned(), words.leak())
}

/// Compound rules of whole bodies, in JSON Schema words (utoipa has no field for `not`
/// or `anyOf` next to `properties`; they go in as schema keywords all the same).
/// "Given" is present and not `null` (serde reads a `null` as absent).
fn body_keywords() -> Vec<(&'static str, &'static str, Value)> {
    let given = |f: &[&str]| {
        let props: serde_json::Map<String, Value> = f
            .iter()
            .map(|f| ((*f).to_owned(), json!({"not": {"type": "null"}})))
            .collect();
        json!({"required": f, "properties": props})
    };
    vec![
        // Mutually exclusive: a size in base or in quote, not both.
        (
            "PlaceOrderBody",
            "not",
            given(&["quantity", "quote_quantity"]),
        ),
        (
            "AmendBody",
            "anyOf",
            json!([given(&["price"]), given(&["quantity"])]),
        ),
        // At least one change.
        (
            "UserPatch",
            "anyOf",
            json!([
                given(&["role"]),
                given(&["tier"]),
                given(&["kyc_verified"]),
                given(&["kill_switch"]),
                given(&["kyc_level"]),
                // `null` is a change too (it clears the owner).
                json!({"required": ["beneficial_owner"]})
            ]),
        ),
        // Mutually exclusive: per-tier fees, or the all-tier values.
        (
            "MarketBody",
            "not",
            json!({"anyOf": [given(&["fees", "maker_fee_bps"]), given(&["fees", "taker_fee_bps"])]}),
        ),
    ]
}

/// `(method, path, relations)`: the operations that can refuse a schema-valid request;
/// the codes come from each one's documented 422 answer.
fn beyond_schema() -> Vec<(&'static str, &'static str, Vec<&'static Relation>)> {
    vec![
        ("post", "/api/v1/orders", vec![]),
        ("patch", "/api/v1/orders/{id}", vec![]),
        ("post", "/api/v1/withdrawals", vec![]),
        (
            "post",
            "/api/v1/price-alerts",
            vec![&rules::ALERTS_PER_USER],
        ),
        (
            "get",
            "/api/v1/markets/{symbol}/candles",
            vec![&rules::START_NOT_AFTER_END],
        ),
        (
            "get",
            "/api/v1/admin/reports/trades.csv",
            vec![&rules::START_NOT_AFTER_END],
        ),
        (
            "get",
            "/api/v1/reports/statement.csv",
            vec![&rules::START_NOT_AFTER_END],
        ),
        (
            "post",
            "/api/v1/api-keys",
            vec![
                &rules::ALLOW_IP_ENTRY,
                &rules::ADMIN_NEEDS_ALLOW_IPS,
                &rules::KEYS_PER_USER,
            ],
        ),
        ("post", "/api/v1/admin/deposits", vec![]),
        (
            "post",
            "/api/v1/admin/markets",
            vec![&rules::BASE_NOT_QUOTE],
        ),
        (
            "patch",
            "/api/v1/admin/users/{username}",
            vec![&rules::OWN_ROLE],
        ),
    ]
}

/// Codes a schema-valid request can never get: they mean "the schema should have said so".
const INPUT_CODES: [&str; 4] = [
    "VALIDATION_ERROR",
    "UNKNOWN_FIELD",
    "BAD_REQUEST",
    "MALFORMED_JSON",
];

/// The SCREAMING_SNAKE codes in backticks of a response description.
fn codes_in(description: &str) -> Vec<String> {
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.len() > 2 && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        .map(str::to_owned)
        .collect()
}

fn document_beyond_schema(op: &mut Operation, relations: &[&Relation]) {
    let documented = op
        .responses
        .responses
        .get("422")
        .and_then(|r| match r {
            RefOr::T(r) => Some(codes_in(&r.description)),
            RefOr::Ref(_) => None,
        })
        .unwrap_or_default();
    let codes: Vec<String> = documented
        .into_iter()
        .filter(|c| !INPUT_CODES.contains(&c.as_str()))
        .collect();
    let mut words = String::from(
        "\n\n**Beyond the schema.** A request the schema accepts can still be refused with 422",
    );
    if !codes.is_empty() {
        let list: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
        words.push_str(&format!(
            " {} (the market's or asset's grid and scale, balances, limits)",
            list.join(", ")
        ));
    }
    for r in relations {
        words.push_str(&format!("; `VALIDATION_ERROR` `{}`: {}", r.field, r.says));
    }
    words.push('.');
    op.description
        .get_or_insert_with(String::new)
        .push_str(&words);
    let relations: Vec<Value> = relations
        .iter()
        .map(|r| json!({"field": r.field, "rule": r.says}))
        .collect();
    op.extensions.get_or_insert_with(Default::default).insert(
        "x-beyond-schema".to_owned(),
        json!({"codes": codes, "relations": relations}),
    );
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
    for (method, path, relations) in beyond_schema() {
        let item = doc
            .paths
            .paths
            .get_mut(path)
            .unwrap_or_else(|| panic!("no path {path} in the document"));
        let op = match method {
            "get" => &mut item.get,
            "post" => &mut item.post,
            "patch" => &mut item.patch,
            _ => unreachable!("{method}"),
        };
        let op = op
            .as_mut()
            .unwrap_or_else(|| panic!("no {method} {path} in the document"));
        document_beyond_schema(op, &relations);
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (schema, field, rule) in fields() {
        let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(schema) else {
            panic!("no schema {schema} in the document");
        };
        match (body.properties.get_mut(field), &rule) {
            (Some(RefOr::T(Schema::Object(o))), _) if fits(o, &rule) => apply(o, &rule),
            (Some(RefOr::T(Schema::Array(a))), Rule::Items(p, words)) => {
                match &mut a.items {
                    ArrayItems::RefOrSchema(item) => match item.as_mut() {
                        RefOr::T(Schema::Object(o)) if is(o, Type::String) => {
                            o.pattern = Some(p.clone());
                        }
                        _ => panic!("{schema}.{field}: items are not strings"),
                    },
                    ArrayItems::False => panic!("{schema}.{field}: no items"),
                }
                let d = a.description.get_or_insert_with(String::new);
                d.push_str(&format!("\n\nRule: {words}."));
            }
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
        Rule::Items(..) => false,
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
        Rule::Items(..) => unreachable!("applied to arrays"),
    }
}
