//! The Binance-compatible API's own OpenAPI 3.1 document, `GET /binance/openapi.json`,
//! generated (with utoipa's builders) from [`ROUTES`] and the parameter declarations of
//! [`crate::rules`] that the handlers validate with: a bound, default, enum or pattern
//! changed there changes the document too.
//!
//! Rules: every REST route of [`crate::router`] is an operation here and nothing else is
//! (`crates/bourse/tests/binance_openapi.rs` compares them and probes every bound); the
//! WebSocket routes (`/binance/ws…`, `/binance/stream`, `/binance/ws-api/v3`) are not HTTP
//! operations and are described in words. Each operation lists the Binance codes it can
//! answer and, as `x-beyond-schema` (`{"codes": [...], "messages": [...]}`), those a
//! schema-valid request can still get (unknown symbol or order, the market's grid,
//! balances, rules between parameters, the signature's time window); nothing else.

use crate::rules::{self, Param, Rule};
use crate::Gw;
use axum::extract::State;
use axum::Json;
use serde_json::json;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder,
    Required, ServerBuilder,
};

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    Public,
    /// `X-MBX-APIKEY` only (Binance's `USER_STREAM`).
    ApiKey,
    /// `X-MBX-APIKEY`, `timestamp` and `signature` (Binance's `TRADE` / `USER_DATA`).
    Signed,
}

/// One REST operation.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    /// `(parameter, required)`.
    pub params: &'static [(&'static Param, bool)],
    /// Codes a schema-valid request can still get, besides the signature's.
    pub beyond: &'static [i32],
    /// Exact messages of other codes a schema-valid request can get (rules between
    /// parameters).
    pub messages: &'static [&'static str],
    /// An object, an array, or either (`None`: one object for `symbol`, an array else).
    pub answer: Option<Type>,
}

use rules::*;
use Auth::*;

const MARKET: &str = "market data";
const ACCOUNT: &str = "account";
const ORDERS: &str = "orders";
const STREAM: &str = "user data stream";

const SYMBOL_REQ: (&Param, bool) = (&SYMBOL, true);
const SYMBOL_OPT: (&Param, bool) = (&SYMBOL, false);

/// What an order takes, on `order`, `order/test` and `order/cancelReplace`.
macro_rules! order_params {
    ($($extra:expr),*) => {
        &[
            SYMBOL_REQ,
            (&SIDE, true),
            (&ORDER_TYPE, true),
            (&TIME_IN_FORCE, false),
            (&QUANTITY, false),
            (&QUOTE_ORDER_QTY, false),
            (&PRICE, false),
            (&STOP_PRICE, false),
            (&NEW_CLIENT_ORDER_ID, false),
            (&STP_MODE, false),
            (&RESP_TYPE, false),
            $($extra),*
        ]
    };
}

const ORDER_CODES: &[i32] = &[-1121, -1013, -1111, -2010, -1102, -1106];
const ORDER_RULES: &[&str] = &[];

/// The REST routes of [`crate::router`], in the document's order.
pub static ROUTES: &[Route] = &[
    Route { method: "GET", path: "/api/v3/ping", tag: MARKET, summary: "Test connectivity: `{}`", auth: Public, params: &[], beyond: &[], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/time", tag: MARKET, summary: "The server's time: `{\"serverTime\"}` (ms)", auth: Public, params: &[], beyond: &[], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/exchangeInfo", tag: MARKET, summary: "Markets and their filters (tick, lot, notional), as Binance's `symbols`", auth: Public, params: &[SYMBOL_OPT, (&SYMBOLS, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/depth", tag: MARKET, summary: "The order book; `lastUpdateId` is the market's book sequence", auth: Public, params: &[SYMBOL_REQ, (&DEPTH_LIMIT, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/trades", tag: MARKET, summary: "The newest trades, oldest first", auth: Public, params: &[SYMBOL_REQ, (&TRADES_LIMIT, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/historicalTrades", tag: MARKET, summary: "Trades from `fromId` on (or the newest); no API key needed, unlike Binance", auth: Public, params: &[SYMBOL_REQ, (&TRADES_LIMIT, false), (&FROM_ID, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/aggTrades", tag: MARKET, summary: "Trades as aggregates (each trade its own); `startTime`/`endTime` filter the newest 1000", auth: Public, params: &[SYMBOL_REQ, (&TRADES_LIMIT, false), (&FROM_ID, false), (&START_TIME, false), (&END_TIME, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/klines", tag: MARKET, summary: "Candles; the taker-buy volumes are \"0\" (Bourse keeps no such split)", auth: Public, params: &[SYMBOL_REQ, (&INTERVAL, true), (&TRADES_LIMIT, false), (&START_TIME, false), (&END_TIME, false)], beyond: &[-1121], messages: &["startTime must not be after endTime."], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/uiKlines", tag: MARKET, summary: "As `klines`", auth: Public, params: &[SYMBOL_REQ, (&INTERVAL, true), (&TRADES_LIMIT, false), (&START_TIME, false), (&END_TIME, false)], beyond: &[-1121], messages: &["startTime must not be after endTime."], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/ticker/24hr", tag: MARKET, summary: "24-hour statistics: one object for `symbol`, an array otherwise", auth: Public, params: &[SYMBOL_OPT, (&SYMBOLS, false), (&TICKER_TYPE, false)], beyond: &[-1121], messages: &[], answer: None },
    Route { method: "GET", path: "/api/v3/ticker/price", tag: MARKET, summary: "Last prices: one object for `symbol`, an array otherwise", auth: Public, params: &[SYMBOL_OPT, (&SYMBOLS, false)], beyond: &[-1121], messages: &[], answer: None },
    Route { method: "GET", path: "/api/v3/ticker/bookTicker", tag: MARKET, summary: "Best bid and ask: one object for `symbol`, an array otherwise", auth: Public, params: &[SYMBOL_OPT, (&SYMBOLS, false)], beyond: &[-1121], messages: &[], answer: None },
    Route { method: "GET", path: "/api/v3/avgPrice", tag: MARKET, summary: "The volume-weighted price of the last 5 minutes (the last price without trades)", auth: Public, params: &[SYMBOL_REQ], beyond: &[-1121], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/account", tag: ACCOUNT, summary: "Balances and commission rates (key permission `read`)", auth: Signed, params: &[], beyond: &[], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/account/commission", tag: ACCOUNT, summary: "The caller's commission rates in a market", auth: Signed, params: &[SYMBOL_REQ], beyond: &[-1121], messages: &[], answer: Some(Type::Object) },
    Route { method: "GET", path: "/sapi/v1/asset/tradeFee", tag: ACCOUNT, summary: "The caller's maker and taker rates, per market", auth: Signed, params: &[SYMBOL_OPT], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "POST", path: "/api/v3/order", tag: ORDERS, summary: "Place an order (key permission `trade`); the same order as on `/api/v1/orders`", auth: Signed, params: order_params!(), beyond: ORDER_CODES, messages: ORDER_RULES, answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/order", tag: ORDERS, summary: "One of the caller's orders, by `orderId` or `origClientOrderId`", auth: Signed, params: &[SYMBOL_REQ, (&ORDER_ID, false), (&ORIG_CLIENT_ORDER_ID, false)], beyond: &[-1121, -2013, -1102], messages: &[], answer: Some(Type::Object) },
    Route { method: "DELETE", path: "/api/v3/order", tag: ORDERS, summary: "Cancel an order, by `orderId` or `origClientOrderId`", auth: Signed, params: &[SYMBOL_REQ, (&ORDER_ID, false), (&ORIG_CLIENT_ORDER_ID, false)], beyond: &[-1121, -2011, -1102], messages: &[], answer: Some(Type::Object) },
    Route { method: "POST", path: "/api/v3/order/test", tag: ORDERS, summary: "Validate an order as `POST /api/v3/order` would, place nothing", auth: Signed, params: order_params!((&COMPUTE_COMMISSION, false)), beyond: ORDER_CODES, messages: ORDER_RULES, answer: Some(Type::Object) },
    Route { method: "POST", path: "/api/v3/order/cancelReplace", tag: ORDERS, summary: "Cancel an order and place another; a failed cancel places nothing", auth: Signed, params: order_params!((&CANCEL_REPLACE_MODE, true), (&CANCEL_ORDER_ID, false), (&CANCEL_ORIG_CLIENT_ORDER_ID, false)), beyond: &[-1121, -1013, -1111, -2010, -2011, -1102, -1106], messages: ORDER_RULES, answer: Some(Type::Object) },
    Route { method: "GET", path: "/api/v3/openOrders", tag: ORDERS, summary: "The caller's open orders, in one market or all", auth: Signed, params: &[SYMBOL_OPT], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "DELETE", path: "/api/v3/openOrders", tag: ORDERS, summary: "Cancel the caller's open orders in a market: the canceled ones (`[]` if none)", auth: Signed, params: &[SYMBOL_REQ], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/allOrders", tag: ORDERS, summary: "The caller's orders in a market, oldest first, from the newest 1000", auth: Signed, params: &[SYMBOL_REQ, (&ALL_ORDERS_FROM, false), (&START_TIME, false), (&END_TIME, false), (&TRADES_LIMIT, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "GET", path: "/api/v3/myTrades", tag: ORDERS, summary: "The caller's fills in a market, oldest first, from the newest 1000", auth: Signed, params: &[SYMBOL_REQ, (&TRADES_OF_ORDER, false), (&FROM_ID, false), (&START_TIME, false), (&END_TIME, false), (&TRADES_LIMIT, false)], beyond: &[-1121], messages: &[], answer: Some(Type::Array) },
    Route { method: "POST", path: "/api/v3/userDataStream", tag: STREAM, summary: "A listen key for `/binance/ws/<listenKey>` (the API key's live one if it has one); lives 60 minutes after its last POST/PUT", auth: ApiKey, params: &[], beyond: &[], messages: &[], answer: Some(Type::Object) },
    Route { method: "PUT", path: "/api/v3/userDataStream", tag: STREAM, summary: "Keep a listen key alive for 60 more minutes", auth: ApiKey, params: &[(&LISTEN_KEY, true)], beyond: &[-1125], messages: &[], answer: Some(Type::Object) },
    Route { method: "DELETE", path: "/api/v3/userDataStream", tag: STREAM, summary: "Close a listen key (and its stream)", auth: ApiKey, params: &[(&LISTEN_KEY, true)], beyond: &[-1125], messages: &[], answer: Some(Type::Object) },
];

/// Signed routes refuse with these too, schema-valid or not: -1021 the timestamp is out of
/// the window, -1022 the signature is wrong (or replayed), -2015 key, IP or permission.
const SIGNED_CODES: &[i32] = &[-1021, -1022, -2015];

const DESCRIPTION: &str = include_str!("openapi_description.md");

/// The schema of one parameter, from its declaration; `symbol` also lists the markets
/// the server has now (another symbol is -1121).
fn schema(p: &Param, symbols: &[String]) -> Schema {
    let mut b = ObjectBuilder::new();
    if std::ptr::eq(p, &SYMBOL) && !symbols.is_empty() {
        b = b.enum_values(Some(symbols.iter().cloned()));
    }
    let b = match &p.rule {
        Rule::Limit { default, max } => b
            .schema_type(Type::Integer)
            .minimum(Some(1usize))
            .maximum(Some(rules::ID.max as usize))
            .default(Some(json!(default)))
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add("x-clamped-to", json!(max))
                    .build(),
            )),
        Rule::Int(bounds) => b
            .schema_type(Type::Integer)
            .minimum(Some(bounds.min as usize))
            .maximum(Some(bounds.max as usize)),
        Rule::Enum(values) => b
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied())),
        Rule::Pattern(pattern, _) => b.schema_type(Type::String).pattern(Some(*pattern)),
        Rule::Any => b.schema_type(Type::String).min_length(Some(1)),
        Rule::ClientId => b
            .schema_type(Type::String)
            .pattern(Some(bourse_gateway::rules::client_id_pattern())),
        Rule::Decimal => b
            .schema_type(Type::String)
            .pattern(Some(bourse_gateway::rules::POSITIVE_DECIMAL)),
    };
    Schema::Object(b.build())
}

fn parameter(p: &Param, required: bool, symbols: &[String]) -> utoipa::openapi::path::Parameter {
    let mut says = p.says.to_owned();
    if let Some((code, _)) = p.refusal {
        says = format!("{says} Outside the rule: {code}.")
            .trim_start()
            .to_owned();
    }
    ParameterBuilder::new()
        .name(p.name)
        .parameter_in(ParameterIn::Query)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description((!says.is_empty()).then_some(says))
        .schema(Some(schema(p, symbols)))
        .build()
}

/// `signature`, `timestamp`, `recvWindow`: what a signed route adds.
fn signing() -> Vec<utoipa::openapi::path::Parameter> {
    let signature = ParameterBuilder::new()
        .name("signature")
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .description(Some(
            "Hex HMAC-SHA256, keyed with the API key's secret, of the query string and then \
             the form body exactly as sent, without `signature=…` itself; wrong (or the same \
             signature twice): -1022.",
        ))
        .schema(Some(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-fA-F]{64}$"))
                .build(),
        )))
        .build();
    vec![
        parameter(&TIMESTAMP, true, &[]),
        parameter(&RECV_WINDOW, false, &[]),
        signature,
    ]
}

/// A Binance error answer: `{"code", "msg"}`.
fn error_schema() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("code", ObjectBuilder::new().schema_type(Type::Integer))
            .property("msg", ObjectBuilder::new().schema_type(Type::String))
            .required("code")
            .required("msg")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .build(),
    )
}

fn codes_text(codes: &[i32]) -> String {
    codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn response(description: String, body: Schema, retry_after: bool) -> utoipa::openapi::Response {
    let weight = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0usize)),
        )
        .description(Some(
            "The weight used in the current minute by the bucket this request was charged \
             to (the verified user's for a signed request, the IP's otherwise)",
        ))
        .build();
    let mut r = ResponseBuilder::new()
        .description(description)
        .header("X-MBX-USED-WEIGHT-1M", weight)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(body)).build(),
        );
    if retry_after {
        r = r.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1usize)),
                )
                .description(Some("Seconds until the request may be retried"))
                .build(),
        );
    }
    r.build()
}

fn operation(r: &Route, weight: u32, symbols: &[String]) -> utoipa::openapi::path::Operation {
    let mut params: Vec<_> = r
        .params
        .iter()
        .map(|&(p, req)| parameter(p, req, symbols))
        .collect();
    let mut beyond: Vec<i32> = r.beyond.to_vec();
    let mut input: Vec<i32> = vec![-1100];
    if r.params.iter().any(|&(_, req)| req) || r.auth == Signed {
        input.push(-1102);
    }
    for (p, _) in r.params {
        if let Some((code, _)) = p.refusal {
            if !input.contains(&code) {
                input.push(code);
            }
        }
    }
    if r.auth == Signed {
        params.extend(signing());
        input.push(-1131);
        beyond.extend_from_slice(SIGNED_CODES);
    }
    let mut all: Vec<i32> = input.clone();
    all.extend(beyond.iter().filter(|c| !input.contains(c)));
    let auth_text = match r.auth {
        Public => "Public.",
        ApiKey => "Needs `X-MBX-APIKEY` (no signature), a key with `read`.",
        Signed => "Signed: `X-MBX-APIKEY`, `timestamp` and `signature` (HMAC-SHA256).",
    };
    let mut description = format!(
        "{auth_text} Weight {weight}. Parameters go in the query string{}; unknown ones are \
         ignored.\n\nBinance codes: {}. A request the schema calls valid can still get {}.",
        if r.method == "GET" {
            ""
        } else {
            " or an `application/x-www-form-urlencoded` body (the body wins)"
        },
        codes_text(&all),
        if beyond.is_empty() {
            "none of them".to_owned()
        } else {
            codes_text(&beyond)
        },
    );
    for m in r.messages {
        description.push_str(&format!(" Also: `-1100 {m}`"));
    }
    let body = match &r.answer {
        Some(t) => Schema::Object(ObjectBuilder::new().schema_type(t.clone()).build()),
        None => Schema::OneOf(
            utoipa::openapi::schema::OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Object))
                .item(ObjectBuilder::new().schema_type(Type::Array))
                .build(),
        ),
    };
    let mut responses = ResponsesBuilder::new()
        .response(
            "200",
            response("The answer, as Binance's".into(), body, false),
        )
        .response(
            "400",
            response(
                format!("Refused: {}", codes_text(&all)),
                error_schema(),
                false,
            ),
        )
        .response(
            "429",
            response(
                "-1003: the rate limit (weight per minute); -1015: too many new orders".into(),
                error_schema(),
                true,
            ),
        )
        .response(
            "503",
            response(
                "-1001: the service is unavailable; retry".into(),
                error_schema(),
                false,
            ),
        );
    if r.auth != Public {
        responses = responses.response(
            "401",
            response(
                "-2014: no `X-MBX-APIKEY`; -2015: unknown key, address not allowed, or the \
                 key lacks the permission"
                    .into(),
                error_schema(),
                false,
            ),
        );
    }
    let mut op = OperationBuilder::new()
        .tag(r.tag)
        .summary(Some(r.summary))
        .description(Some(description))
        .operation_id(Some(format!(
            "{}{}",
            r.method.to_lowercase(),
            r.path.replace(['/', '.'], "_")
        )))
        .parameters(Some(params))
        .responses(responses.build())
        .extensions(Some(
            ExtensionsBuilder::new()
                .add(
                    "x-beyond-schema",
                    json!({"codes": beyond, "messages": r.messages}),
                )
                .add("x-weight", json!(weight))
                .build(),
        ));
    if r.auth != Public {
        op = op.security(SecurityRequirement::new::<_, [&str; 0], &str>("apiKey", []));
    }
    op.build()
}

fn method(m: &str) -> HttpMethod {
    match m {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        _ => unreachable!("no {m} routes"),
    }
}

/// The document; `weight` is the request weight of a route (the gateway's limiter),
/// `symbols` the markets as Binance spells them.
pub fn document(weight: impl Fn(&str, &str) -> u32, symbols: &[String]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for r in ROUTES {
        paths = paths.path(
            r.path,
            PathItem::new(
                method(r.method),
                operation(r, weight(r.method, r.path), symbols),
            ),
        );
    }
    let key = SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
        "X-MBX-APIKEY",
        "A Bourse API key id (`POST /api/v1/api-keys`). Signed routes also need `timestamp` \
         (ms) and `signature` = hex HMAC-SHA256(secret, query string + form body, without \
         `signature`); the key's permissions apply: `read` for account and order queries, \
         `trade` for order entry.",
    )));
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Bourse Binance-compatible API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .servers(Some([ServerBuilder::new()
            .url("/")
            .description(Some("The server that served this document"))
            .build()]))
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme("apiKey", key)
                .build(),
        ))
        .build()
}

/// `GET /binance/openapi.json`: generated per request, so `symbol` lists the markets of
/// the moment.
pub async fn serve(State(gw): State<Gw>) -> Json<OpenApi> {
    let symbols: Vec<String> = gw
        .markets()
        .iter()
        .map(crate::params::binance_symbol)
        .collect();
    Json(document(|m, p| gw.limiter.weight(m, p), &symbols))
}
