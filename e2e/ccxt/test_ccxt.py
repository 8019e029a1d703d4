#!/usr/bin/env python3
"""ccxt.binance, with every `urls['api']` entry pointed at a real `bourse serve`, on each
read-model backend: markets, public data, every order type the adapter maps, look-ups,
cancel / cancel-all / edit, fees, the ccxt exception of each Binance error code, and a
session of a few hundred orders between two accounts whose balances via ccxt must equal
/api/v1/balances, with the ledger invariant (balances + fees paid = deposits).

Then ccxt.pro (test_pro.py) on the same server, and -1003 (HTTP 429, Retry-After) as
ccxt's DDoSProtection on a server with a low limit.

Server start-up and database handling are those of e2e/schemathesis_run.py.
"""

import argparse
import asyncio
import os
import random
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal as D
from urllib.parse import urlparse

import ccxt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from schemathesis_run import call, expect, on_backend, trader  # noqa: E402

import test_pro  # noqa: E402

SYM = "BTC/USD"
DEPOSITS = {"USD": D("1000000"), "BTC": D("100")}


def user(base, admin, name):
    return trader(base, admin, name, DEPOSITS)


def exchange(base, key):
    ex = ccxt.binance({
        "apiKey": key[0], "secret": key[1], "enableRateLimit": False,
        "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]},
                    "fetchCurrencies": False, "fetchMargins": False},
    })
    for k, v in list(ex.urls["api"].items()):
        if isinstance(v, str):
            ex.urls["api"][k] = base + urlparse(v).path
    return ex


def eq(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def raises(what, exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc:
        return
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e}, want {exc.__name__}") from e
    raise AssertionError(f"{what}: no exception, want {exc.__name__}")


def raises_code(what, exc, code, fn, *args, **kw):
    """Like `raises`, and the Binance code is the one in the answer ccxt quotes."""
    try:
        fn(*args, **kw)
    except exc as e:
        if f'"code":{code}' not in str(e).replace(" ", ""):
            raise AssertionError(f"{what}: {e}, want code {code}") from e
        return
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e}, want {exc.__name__}") from e
    raise AssertionError(f"{what}: no exception, want {exc.__name__}")


def balances_v1(base, token):
    rows = expect(call(base, "GET", "/api/v1/balances", token=token), 200)
    return {r["asset"]: (D(r["available"]), D(r["held"])) for r in rows}


def check_balances(ex, base, token):
    b = ex.fetch_balance()
    for asset, (free, held) in balances_v1(base, token).items():
        eq(f"{asset} free", D(str(b[asset]["free"])), free)
        eq(f"{asset} used", D(str(b[asset]["used"])), held)


def v1_market(base):
    return [x for x in expect(call(base, "GET", "/api/v1/markets"), 200) if x["symbol"] == "BTC-USD"][0]


def scenario(base, admin):
    market = {"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
              "lot_size": "0.0001", "min_notional": "1"}
    expect(call(base, "POST", "/api/v1/admin/markets", market, admin), 201)
    a_tok, a_key, _ = user(base, admin, "alice")
    b_tok, b_key, b_ro = user(base, admin, "bob")
    a, b = exchange(base, a_key), exchange(base, b_key)

    # Markets and time.
    markets = a.load_markets()
    m = markets[SYM]
    eq("spot", (m["spot"], m["type"], m["id"]), (True, "spot", "BTCUSD"))
    eq("precision", (m["precision"]["price"], m["precision"]["amount"]), (0.01, 0.0001))
    eq("min cost", m["limits"]["cost"]["min"], 1.0)
    b.load_markets()
    if abs(a.fetch_time() - time.time() * 1000) > 5000:
        raise AssertionError("fetch_time is off")
    if "x-mbx-used-weight-1m" not in {h.lower() for h in a.last_response_headers}:
        raise AssertionError("no X-MBX-USED-WEIGHT-1M header")

    # Limit GTC, then the book.
    o1 = a.create_order(SYM, "limit", "buy", 1, 100)
    eq("o1", (o1["status"], o1["price"], o1["amount"], o1["filled"]), ("open", 100.0, 1.0, 0.0))
    book = a.fetch_order_book(SYM)
    eq("book bid", book["bids"][0], [100.0, 1.0])
    v1 = expect(call(base, "GET", "/api/v1/markets/BTC-USD/book"), 200)
    eq("book nonce", book["nonce"], v1["sequence"])

    # IOC with a client order id: takes 0.4 from o1.
    o2 = b.create_order(SYM, "limit", "sell", 0.4, 100, {"timeInForce": "IOC", "clientOrderId": "bob-ioc-1"})
    eq("o2", (o2["status"], o2["filled"], o2["clientOrderId"], o2["timeInForce"]), ("closed", 0.4, "bob-ioc-1", "IOC"))
    taker = D(v1_market(base)["taker_fee_bps"]) / 10000
    eq("o2 fee", (o2["fee"]["currency"], D(str(o2["fee"]["cost"]))), ("USD", D("40") * taker))

    # Post-only: would take, then rests.
    raises("post-only taking", ccxt.OrderImmediatelyFillable, b.create_order, SYM, "limit", "sell", 0.1, 100, {"postOnly": True})
    o3 = b.create_order(SYM, "limit", "sell", 0.1, 105, {"postOnly": True})
    eq("o3", (o3["status"], o3["postOnly"]), ("open", True))

    # Market by amount (takes 0.1 of o1), market buy by cost (takes o3).
    o4 = b.create_order(SYM, "market", "sell", 0.1)
    eq("o4", (o4["status"], o4["filled"], o4["average"]), ("closed", 0.1, 100.0))
    o5 = a.create_market_buy_order_with_cost(SYM, 10.5)
    # Bourse's quote budget covers the taker fee too: the size is what 10.5 buys after it.
    lots = (D("10.5") / (1 + taker) / 105 / D("0.0001")).to_integral_value(rounding="ROUND_FLOOR")
    eq("o5", (o5["status"], D(str(o5["filled"])), D(str(o5["cost"]))),
       ("closed", lots * D("0.0001"), lots * D("0.0001") * 105))

    # Stop-limit and stop-market (sell stops below the last price: untriggered).
    o6 = a.create_order(SYM, "limit", "sell", 0.1, 100, {"triggerPrice": 101})
    eq("o6", (o6["status"], o6["info"]["type"], o6["triggerPrice"]), ("open", "STOP_LOSS_LIMIT", 101.0))
    o7 = a.create_order(SYM, "market", "sell", 0.1, None, {"triggerPrice": 100.5})
    eq("o7", (o7["info"]["type"], o7["triggerPrice"]), ("STOP_LOSS", 100.5))
    # Take-profit: Bourse's stops trigger only in the stop-loss direction, so exchangeInfo
    # does not offer TAKE_PROFIT(_LIMIT); ccxt refuses it, and so does the server (-2010).
    eq("order types", "TAKE_PROFIT" in m["info"]["orderTypes"] or "TAKE_PROFIT_LIMIT" in m["info"]["orderTypes"], False)
    raises("take profit", ccxt.InvalidOrder, a.create_order, SYM, "limit", "sell", 0.1, 110, {"takeProfitPrice": 110})
    raises("take profit (raw)", ccxt.InvalidOrder, a.privatePostOrder,
           {"symbol": "BTCUSD", "side": "SELL", "type": "TAKE_PROFIT", "quantity": "0.1", "stopPrice": "110"})

    # Look-ups.
    f1 = a.fetch_order(o1["id"], SYM)
    eq("f1", (f1["status"], f1["filled"], f1["remaining"]), ("open", 0.5, 0.5))
    eq("f2 by client id", b.fetch_order(None, SYM, {"origClientOrderId": "bob-ioc-1"})["id"], o2["id"])
    eq("open", sorted(o["id"] for o in a.fetch_open_orders(SYM)), sorted([o1["id"], o6["id"], o7["id"]]))
    eq("all", sorted(o["id"] for o in a.fetch_orders(SYM)), sorted([o1["id"], o5["id"], o6["id"], o7["id"]]))
    eq("closed", [o["id"] for o in a.fetch_closed_orders(SYM)], [o5["id"]])
    trades = a.fetch_my_trades(SYM)
    eq("my trades", [(t["side"], t["amount"], t["price"], t["takerOrMaker"]) for t in trades],
       [("buy", 0.4, 100.0, "maker"), ("buy", 0.1, 100.0, "maker"), ("buy", o5["filled"], 105.0, "taker")])

    # Public data after the trades.
    t = a.fetch_ticker(SYM)
    eq("ticker", (t["last"], t["bid"], t["baseVolume"]), (105.0, 100.0, round(0.5 + o5["filled"], 8)))
    eq("tickers", a.fetch_tickers()[SYM]["last"], 105.0)
    pub = a.fetch_trades(SYM)
    eq("trades", [(x["price"], x["amount"]) for x in pub], [(100.0, 0.4), (100.0, 0.1), (105.0, o5["filled"])])
    # The other public routes, raw, with their values.
    filled = D(str(o5["filled"]))
    eq("ticker/price", a.publicGetTickerPrice({"symbol": "BTCUSD"}), {"symbol": "BTCUSD", "price": "105.00"})
    bt = a.publicGetTickerBookTicker({"symbol": "BTCUSD"})
    eq("bookTicker bid", (bt["symbol"], bt["bidPrice"], D(bt["bidQty"])), ("BTCUSD", "100.00", D("0.5")))
    avg = a.publicGetAvgPrice({"symbol": "BTCUSD"})
    want = (D("50") + filled * 105) / (D("0.5") + filled)
    eq("avgPrice", (int(avg["mins"]), abs(D(avg["price"]) - want) <= D("0.01")), (5, True))
    agg = a.publicGetAggTrades({"symbol": "BTCUSD", "limit": 5000})  # a too-large limit is clamped
    eq("aggTrades", [(x["p"], D(x["q"]), x["m"]) for x in agg],
       [("100.00", D("0.4"), True), ("100.00", D("0.1"), True), ("105.00", filled, False)])
    window = a.publicGetAggTrades({"symbol": "BTCUSD", "startTime": agg[0]["T"], "endTime": agg[-1]["T"], "limit": 2})
    eq("aggTrades window", [x["a"] for x in window], [agg[0]["a"], agg[1]["a"]])
    eq("aggTrades after", a.publicGetAggTrades({"symbol": "BTCUSD", "startTime": int(agg[-1]["T"]) + 1}), [])
    eq("tickers by symbols", list(a.fetch_tickers([SYM])), [SYM])
    candles = a.fetch_ohlcv(SYM, "1m")
    eq("ohlcv volume", round(sum(c[5] for c in candles), 8), round(0.5 + o5["filled"], 8))
    eq("ohlcv close", candles[-1][4], 105.0)

    # Cancel, edit, cancel all.
    c6 = a.cancel_order(o6["id"], SYM)
    eq("cancel", (c6["id"], c6["status"]), (o6["id"], "canceled"))
    e1 = a.edit_order(o1["id"], SYM, "limit", "buy", 0.5, 99)
    eq("edit", (e1["status"], e1["price"], e1["amount"]), ("open", 99.0, 0.5))
    eq("edit canceled the original", a.fetch_order(o1["id"], SYM)["status"], "canceled")
    a.cancel_all_orders(SYM)
    eq("open after cancel-all", a.fetch_open_orders(SYM), [])
    # Self-trade prevention: a's buy meets a's own sell; EXPIRE_MAKER expires the resting one.
    mk = a.create_order(SYM, "limit", "sell", 0.1, 104)
    tk = a.create_order(SYM, "limit", "buy", 0.1, 104, {"selfTradePreventionMode": "EXPIRE_MAKER"})
    eq("stp taker rests", (tk["status"], tk["filled"], tk["info"]["selfTradePreventionMode"]),
       ("open", 0.0, "EXPIRE_MAKER"))
    mko = a.fetch_order(mk["id"], SYM)
    eq("stp maker", (mko["status"], mko["info"]["status"], mko["filled"]), ("expired", "EXPIRED_IN_MATCH", 0.0))
    a.cancel_all_orders(SYM)
    # order/test checks an order and places nothing.
    eq("order/test", a.privatePostOrderTest({"symbol": "BTCUSD", "side": "BUY", "type": "LIMIT",
                                             "timeInForce": "GTC", "quantity": "0.1", "price": "99"}), {})
    eq("open after order/test", a.fetch_open_orders(SYM), [])

    # Fees.
    fees = a.fetch_trading_fees()[SYM]
    v1m = v1_market(base)
    eq("fees", (D(str(fees["maker"])), D(str(fees["taker"]))),
       (D(v1m["maker_fee_bps"]) / 10000, D(v1m["taker_fee_bps"]) / 10000))

    # Errors.
    raises("insufficient", ccxt.InsufficientFunds, a.create_order, SYM, "limit", "buy", 50000, 100)
    raises("bad symbol", ccxt.BadSymbol, a.publicGetDepth, {"symbol": "NOPEUSD"})
    raises("fetch unknown", ccxt.OrderNotFound, a.fetch_order, "99999999", SYM)
    raises("cancel unknown", ccxt.OrderNotFound, a.cancel_order, "99999999", SYM)
    raises("missing price", ccxt.BadRequest, a.privatePostOrder,
           {"symbol": "BTCUSD", "side": "BUY", "type": "LIMIT", "quantity": "1", "timeInForce": "GTC"})
    raises("illegal parameter (-1100)", ccxt.BadRequest, a.privateGetOrder, {"symbol": "BTCUSD", "orderId": "abc"})
    raises_code("recvWindow over 60000", ccxt.ExchangeError, -1131, a.privateGetAccount, {"recvWindow": 60001})
    raises_code("client id over 36 characters", ccxt.BadRequest, -1100, a.create_order, SYM, "limit", "buy", 0.1, 99,
                {"clientOrderId": "x" * 37})
    raises("old timestamp", ccxt.InvalidNonce, a.privateGetAccount, {"timestamp": a.milliseconds() - 60_000})
    bad = exchange(base, (a_key[0], "0" * 64))
    raises("bad signature", ccxt.AuthenticationError, bad.privateGetAccount)
    raises("unknown key", ccxt.AuthenticationError, exchange(base, ("nokey", "x")).privateGetAccount)
    ro = exchange(base, b_ro)
    ro.load_markets()
    raises("read-only key", ccxt.AuthenticationError, ro.create_order, SYM, "limit", "buy", 1, 50)

    check_balances(a, base, a_tok)
    check_balances(b, base, b_tok)

    # A session: 300 orders from both accounts, crossing each other.
    rng = random.Random(7)
    for i in range(300):
        ex = a if i % 2 == 0 else b
        side = rng.choice(["buy", "sell"])
        price = round(rng.uniform(98, 102), 2)
        amount = round(rng.uniform(0.011, 0.05), 4)
        ex.create_order(SYM, "limit", side, amount, price)
    check_balances(a, base, a_tok)
    check_balances(b, base, b_tok)
    # Ledger invariant: what the two hold plus the fees they paid is what was deposited.
    paid = D(0)
    for ex in (a, b):
        for tr in ex.fetch_my_trades(SYM, limit=1000):
            paid += D(tr["info"]["commission"])
    total = {k: D(0) for k in DEPOSITS}
    for tok in (a_tok, b_tok):
        for asset, (free, held) in balances_v1(base, tok).items():
            total[asset] += free + held
    eq("BTC conserved", total["BTC"], 2 * DEPOSITS["BTC"])
    eq("USD conserved", total["USD"] + paid, 2 * DEPOSITS["USD"])
    invariants(base, admin)
    a.cancel_all_orders(SYM)
    b.cancel_all_orders(SYM)


def invariants(base, admin):
    """The core's own check: per asset the ledger sums to zero, holds match orders."""
    eq("ledger invariants", expect(call(base, "GET", "/api/v1/admin/state", token=admin), 200)["invariants"], "ok")


def pro(base, admin):
    c_tok, c_key, _ = user(base, admin, "carol")
    d_tok, d_key, _ = user(base, admin, "dave")
    c, d = exchange(base, c_key), exchange(base, d_key)
    c.load_markets()
    d.load_markets()
    asyncio.run(test_pro.pro_scenario(base, c_key, d_key, c, d,
                                      lambda: balances_v1(base, c_tok), lambda: balances_v1(base, d_tok)))
    check_balances(c, base, c_tok)
    check_balances(d, base, d_tok)
    invariants(base, admin)


def rate_limited(bourse):
    """-1003: over the anonymous limit, HTTP 429 with Retry-After, ccxt's DDoSProtection (ccxt picks it from the 429)."""
    def limited(base, _admin, _proc):
        ex = exchange(base, ("", ""))
        raises("-1003", ccxt.DDoSProtection, lambda: [ex.fetch_time() for _ in range(10)])
        status, body = call(base, "GET", "/api/v3/time")
        eq("429", (status, body["code"]), (429, -1003))
        try:
            urllib.request.urlopen(base + "/api/v3/time", timeout=10)
            raise AssertionError("not limited")
        except urllib.error.HTTPError as e:
            eq("Retry-After", int(e.headers["Retry-After"]) >= 1, True)

    config = "[limits]\nenabled = true\nanonymous = { per_second = 1, burst = 3 }\n"
    return on_backend("ccxt-rate-limit", "sqlite", bourse, limited, config)


def run_backend(name, bourse):
    def both(base, admin, _proc):
        started = time.time()
        scenario(base, admin)
        rest_done = time.time()
        pro(base, admin)
        return f" (REST {rest_done - started:.0f}s, ccxt.pro {time.time() - rest_done:.0f}s)"

    return on_backend("ccxt", name, bourse, both)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bourse", required=True)
    args = p.parse_args()
    backends = os.environ.get("E2E_BACKENDS", "sqlite,postgres").split(",")
    ok = all([run_backend(b, args.bourse) for b in backends] + [rate_limited(args.bourse)])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
