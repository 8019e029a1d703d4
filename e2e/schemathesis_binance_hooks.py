"""Schemathesis hooks for the Binance-compatible API's document (/binance/openapi.json).

`before_call` signs the signed operations (those with a `signature` parameter) as a
Binance client does: a fresh `timestamp` (ms) and `signature` = hex HMAC-SHA256, keyed with
BINANCE_API_SECRET, of the query string exactly as it will be sent (built the way the
requests transport encodes it), with `signature` appended last. Only a schema-valid
generated `timestamp` / `signature` is replaced: a negative case that broke one of them
stays broken, so the server must still refuse it. A missing one stays missing.

New-order cases of positive data are first made consistent (`_consistent_order`), and
the placeholders LIVE-ORDER / LIVE-LISTEN-KEY become a fresh resting order's client id /
the live listen key (`_live_resources`).

`binance_beyond_schema_refusals_only` narrows the 400 that the runner lets positive data
get on operations whose `x-beyond-schema` lists codes: that 400 must carry one of those
codes (or one of the listed messages); any other refusal is a rule missing from the
document.
"""

import hashlib
import hmac
import json
import os
import re
import time
import urllib.parse
import urllib.request
import uuid

import requests
import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case
from schemathesis.transport.requests import prepare_query

SECRET = os.environ.get("BINANCE_API_SECRET", "")
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
TIME_MAX = 253_402_300_799_999


def _signed(case):
    params = case.operation.definition.raw.get("parameters", [])
    return any(p.get("name") == "signature" for p in params)


def _schema_valid_time(v):
    try:
        return 0 <= int(str(v)) <= TIME_MAX and str(v).isdigit()
    except ValueError:
        return False


ORDER_PATHS = {"/api/v3/order", "/api/v3/order/test", "/api/v3/order/cancelReplace"}
PRICED = {"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT"}


def _consistent_order(case):
    """Steers a positive new-order case to a consistent one: the rules between an order's
    parameters (the type's required and refused ones; -1102, -1106) are beyond what query
    parameters' schemas can state, so random schema-valid data would almost never get
    past them. Every value stays schema-valid; negative cases are left alone."""
    meta = case.meta
    if case.method != "POST" or case.operation.path not in ORDER_PATHS:
        return
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.query, dict):
        return
    q = case.query
    kind = q.get("type")
    if kind not in PRICED | {"MARKET", "STOP_LOSS"}:
        return
    if kind in PRICED:
        q.setdefault("price", "100.00")
    else:
        q.pop("price", None)
    if kind in ("LIMIT", "STOP_LOSS_LIMIT"):
        q.setdefault("timeInForce", "GTC")
    if kind.startswith("STOP_LOSS"):
        q.setdefault("stopPrice", "100.00")
    else:
        q.pop("stopPrice", None)
    if kind != "MARKET":
        q.pop("quoteOrderQty", None)
    if "quantity" not in q and "quoteOrderQty" not in q:
        q["quantity"] = "0.010"


BASE = os.environ.get("BINANCE_BASE_URL", "")
KEY = os.environ.get("BINANCE_API_KEY", "")
# Dictionary values (e2e/schemathesis_run.py) that stand for a live resource, made fresh for
# each case that uses them: the run cancels orders and closes listen keys as it goes, so
# fixed ids would soon name nothing and every positive case of those routes get -2011 /
# -1125. Both placeholders are schema-valid, and so is what replaces them.
LIVE_ORDER = "LIVE-ORDER"
LIVE_LISTEN_KEY = "LIVE-LISTEN-KEY"


def _sign(params):
    wire = urllib.parse.urlencode(params)
    return wire + "&signature=" + hmac.new(SECRET.encode(), wire.encode(), hashlib.sha256).hexdigest()


def _post(path, query=""):
    req = urllib.request.Request(f"{BASE}{path}?{query}", data=b"", method="POST")
    req.add_header("X-MBX-APIKEY", KEY)
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def _fresh_order():
    """A new resting order of the trader; its client order id."""
    cid = "resting-" + uuid.uuid4().hex[:16]
    params = {"symbol": "BTCUSD", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "99.50",
              "quantity": "0.0200", "newClientOrderId": cid, "newOrderRespType": "ACK",
              "timestamp": str(int(time.time() * 1000))}
    _post("/api/v3/order", _sign(params))
    return cid


def _coverage_positive(case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return False
    phase = getattr(meta.phase.name, "value", meta.phase.name)
    return phase == "coverage"


def _live_resources(case):
    q = case.query
    # The coverage phase draws no dictionary values: its positive cases of the routes that
    # name a live resource get one, or they would all be -2011 / -1125.
    if _coverage_positive(case):
        if "listenKey" in q:
            q["listenKey"] = LIVE_LISTEN_KEY
        if case.method == "DELETE" and case.operation.path == "/api/v3/order":
            q["origClientOrderId"] = LIVE_ORDER
    for name in ("origClientOrderId", "cancelOrigClientOrderId"):
        if q.get(name) == LIVE_ORDER:
            q[name] = _fresh_order()
            q.pop("orderId" if name == "origClientOrderId" else "cancelOrderId", None)
    if q.get("listenKey") == LIVE_LISTEN_KEY:
        q["listenKey"] = _post("/api/v3/userDataStream")["listenKey"]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if not isinstance(case.query, dict):
        return
    _live_resources(case)
    if not _signed(case):
        return
    _consistent_order(case)
    query = case.query
    signature = query.pop("signature", None)
    if "timestamp" in query and _schema_valid_time(query["timestamp"]):
        query["timestamp"] = str(int(time.time() * 1000))
    wire = prepare_query(case)
    if isinstance(wire, dict):
        wire = requests.models.RequestEncodingMixin._encode_params(wire)
    wire = wire or ""
    if signature is None:
        return  # a negative case without a signature: the server must refuse it
    if isinstance(signature, str) and HEX64.match(signature):
        signature = hmac.new(SECRET.encode(), wire.encode(), hashlib.sha256).hexdigest()
    query["signature"] = signature


@schemathesis.check
def binance_beyond_schema_refusals_only(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    if response.status_code != 400:
        return None
    beyond = case.operation.definition.raw.get("x-beyond-schema")
    if not beyond or not beyond.get("codes"):
        return None  # positive_data_acceptance already fails it
    try:
        error = json.loads(response.content)
        code, msg = error["code"], error["msg"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"400 without Binance's error shape: {response.content[:300]!r}")
    if code in beyond["codes"] or msg in beyond.get("messages", []):
        return None
    raise AssertionError(
        f"A schema-valid request was refused with {code}, which the operation's x-beyond-schema "
        f"does not list: {msg!r}"
    )
