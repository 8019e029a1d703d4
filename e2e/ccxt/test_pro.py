"""ccxt.pro's binance (the same pinned package, async) against Bourse's Binance streams,
on the server test_ccxt.py started: watch_order_book (the book equal to REST after
updates), watch_trades, watch_ticker, watch_ohlcv, watch_orders and watch_balance seeing
the account's own order and fill; then a session of a few hundred orders from two
accounts crossing each other while both watch their orders and balances: the streamed
balances and order states must end equal to /api/v1, and the core's ledger invariants
hold. Also the raw stream protocol (SUBSCRIBE, LIST_SUBSCRIPTIONS, error frames, combined
streams) through ccxt's own WebSocket client.
"""

import asyncio
import json
import random
from decimal import Decimal as D
from urllib.parse import urlparse

import aiohttp
import ccxt.pro

SYM = "BTC/USD"
TIMEOUT = 10


def pro_exchange(base, key):
    ex = ccxt.pro.binance({
        "apiKey": key[0], "secret": key[1], "enableRateLimit": False,
        "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]},
                    "fetchCurrencies": False, "fetchMargins": False},
    })
    for k, v in list(ex.urls["api"].items()):
        if isinstance(v, str):
            ex.urls["api"][k] = base + urlparse(v).path
    ws = "ws" + base[len("http"):]
    ex.urls["api"]["ws"] = {"spot": ws + "/binance/ws", "ws-api": {"spot": ws + "/binance/ws-api/v3"}}
    return ex


def eq(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


async def until(what, fn, check, timeout=TIMEOUT):
    """Calls the watcher `fn` until `check(result)` holds."""
    async def loop():
        while True:
            r = await fn()
            if check(r):
                return r
    try:
        return await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: not seen within {timeout} s") from None


async def started(coro):
    """Starts a watcher and gives it time to subscribe."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.3)
    return task


async def settle(what, fn, timeout=TIMEOUT):
    """Waits until the synchronous check `fn` passes (streams are asynchronous)."""
    deadline = asyncio.get_event_loop().time() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if asyncio.get_event_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


class Watch:
    """Consumes watch_orders and watch_balance of one account in the background."""

    def __init__(self, ex):
        self.ex, self.orders, self.balance, self.tasks = ex, {}, {}, []

    async def _orders(self):
        while True:
            for o in await self.ex.watch_orders(SYM):
                self.orders[o["id"]] = o

    async def _balance(self):
        while True:
            b = await self.ex.watch_balance()
            for asset in ("BTC", "USD"):
                if asset in b and b[asset].get("free") is not None:
                    self.balance[asset] = (D(str(b[asset]["free"])), D(str(b[asset]["used"])))

    async def start(self):
        self.tasks = [asyncio.ensure_future(self._orders()), asyncio.ensure_future(self._balance())]
        await asyncio.sleep(0.5)
        for t in self.tasks:
            if t.done():
                t.result()

    def stop(self):
        for t in self.tasks:
            t.cancel()


async def raw_protocol(base):
    ws_base = "ws" + base[len("http"):]
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(ws_base + "/binance/ws/0") as ws:
            async def ask(req):
                # Binance closes a connection that sends over 5 messages a second.
                await asyncio.sleep(0.25)
                await ws.send_str(req if isinstance(req, str) else json.dumps(req))
                while True:
                    msg = json.loads((await ws.receive(timeout=TIMEOUT)).data)
                    if "id" in msg or "error" in msg:
                        return msg
            eq("subscribe", await ask({"method": "SUBSCRIBE", "params": ["btcusd@trade", "btcusd@depth5"], "id": 1}),
               {"result": None, "id": 1})
            eq("list", await ask({"method": "LIST_SUBSCRIPTIONS", "id": 2}),
               {"result": ["btcusd@trade", "btcusd@depth5"], "id": 2})
            eq("unsubscribe", await ask({"method": "UNSUBSCRIBE", "params": ["btcusd@trade"], "id": 3}),
               {"result": None, "id": 3})
            eq("list after", (await ask({"method": "LIST_SUBSCRIPTIONS", "id": 4}))["result"], ["btcusd@depth5"])
            bad = await ask({"method": "SUBSCRIBE", "params": ["nopeusd@trade"], "id": 5})
            eq("bad stream", (bad["id"], bad["error"]["code"]), (5, 2))
            eq("bad method", (await ask({"method": "DANCE", "id": 6}))["error"]["code"], 2)
            eq("bad json", (await ask("{nope"))["error"]["code"], 3)
        # Over the inbound rate: closed, as Binance does (the Rust suite checks the code).
        async with s.ws_connect(ws_base + "/binance/ws") as ws:
            for i in range(10):
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            answered = 0
            while True:
                msg = await ws.receive(timeout=TIMEOUT)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                answered += 1
            eq("closed after the burst", (msg.type, ws.close_code, answered <= 6),
               (aiohttp.WSMsgType.CLOSE, 1008, True))
        async with s.ws_connect(ws_base + "/binance/stream?streams=btcusd@depth10") as ws:
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
            frames = []
            while len(frames) < 2:
                frames.append(json.loads((await ws.receive(timeout=TIMEOUT)).data))
            replies = [f for f in frames if "id" in f]
            eq("combined list", replies, [{"result": ["btcusd@depth10"], "id": 1}])
            # The partial book on subscription, wrapped with its stream's name.
            eq("combined frame", [(f["stream"], sorted(f["data"])) for f in frames if "id" not in f],
               [("btcusd@depth10", ["asks", "bids", "lastUpdateId"])])


async def single_watchers(c, d, c_rest, d_rest, d_v1):
    """c and d: two pro exchanges; c_rest/d_rest: the synchronous ones (same keys)."""
    # (Limit prices stay within the market's band around the last trade, 105.)
    # The book: resting orders, a watcher, then more updates; the watched book must end
    # equal to REST's at the same nonce.
    c_rest.create_order(SYM, "limit", "buy", 1, 100)
    d_rest.create_order(SYM, "limit", "sell", 1, 110)
    ob = await asyncio.wait_for(c.watch_order_book(SYM), TIMEOUT)
    c_rest.create_order(SYM, "limit", "buy", 0.5, 101)
    d_rest.create_order(SYM, "limit", "sell", 0.2, 109)
    tmp = c_rest.create_order(SYM, "limit", "buy", 0.3, 99)
    c_rest.cancel_order(tmp["id"], SYM)
    rest = c_rest.fetch_order_book(SYM)
    ob = await until("book at REST's nonce", lambda: c.watch_order_book(SYM), lambda b: b["nonce"] >= rest["nonce"])
    eq("book nonce", ob["nonce"], rest["nonce"])
    eq("book bids", ob["bids"][:10], rest["bids"][:10])
    eq("book asks", ob["asks"][:10], rest["asks"][:10])

    # Trades, ticker and candles, subscribed before a trade: dave sells 0.1 into 101.
    trades = await started(c.watch_trades(SYM))
    ticker = await started(c.watch_ticker(SYM))
    ohlcv = await started(c.watch_ohlcv(SYM, "1m"))
    dw = Watch(d)
    await dw.start()
    sold = d_rest.create_order(SYM, "limit", "sell", 0.1, 101)
    t = await asyncio.wait_for(trades, TIMEOUT)
    eq("trade", [(x["symbol"], x["price"], x["amount"], x["side"]) for x in t], [(SYM, 101.0, 0.1, "sell")])
    eq("trade id", t[0]["id"], c_rest.fetch_trades(SYM)[-1]["id"])
    tk = await asyncio.wait_for(ticker, TIMEOUT)
    tk = await until("ticker after the trade", lambda: c.watch_ticker(SYM), lambda x: x["last"] == 101.0) \
        if tk["last"] != 101.0 else tk
    rt = c_rest.fetch_ticker(SYM)
    eq("ticker", (tk["last"], tk["bid"], tk["ask"], tk["baseVolume"]), (rt["last"], rt["bid"], rt["ask"], rt["baseVolume"]))
    # The first kline may be the candle as it was at subscription.
    k = await asyncio.wait_for(ohlcv, TIMEOUT)
    rk = c_rest.fetch_ohlcv(SYM, "1m")[-1]
    if k[-1][:6] != rk[:6]:
        k = await until("candle after the trade", lambda: c.watch_ohlcv(SYM, "1m"), lambda x: x[-1][:6] == rk[:6])

    # Dave's own order and fill on his order and balance streams.
    def seen_filled():
        o = dw.orders.get(sold["id"])
        eq("watched order", o and (o["status"], o["filled"], o["price"], o["side"]), ("closed", 0.1, 101.0, "sell"))
    await settle("dave's order", seen_filled)
    trade_fee = D(d_rest.fetch_my_trades(SYM)[-1]["info"]["commission"])
    eq("watched fee", D(str(dw.orders[sold["id"]]["fee"]["cost"])), trade_fee)
    await settle("dave's balance", lambda: eq("watched balance", dw.balance, d_v1()))
    dw.stop()


async def session(c, d, c_rest, d_rest, c_v1, d_v1, n=200):
    """n orders, alternating accounts, crossing each other, while both watch."""
    cw, dw = Watch(c), Watch(d)
    await cw.start()
    await dw.start()
    rng = random.Random(11)
    placed = {id(c): [], id(d): []}
    for i in range(n):
        ex = c if i % 2 == 0 else d
        side = rng.choice(["buy", "sell"])
        price = round(rng.uniform(98, 102), 2)
        amount = round(rng.uniform(0.011, 0.05), 4)
        placed[id(ex)].append((await ex.create_order(SYM, "limit", side, amount, price))["id"])
    for w, rest, ex, v1 in ((cw, c_rest, c, c_v1), (dw, d_rest, d, d_v1)):
        await settle("streamed balances", lambda: eq("balances", w.balance, v1()))
        final = {o["id"]: (o["status"], o["filled"]) for o in rest.fetch_orders(SYM, limit=1000)}
        def states():
            for i, oid in enumerate(placed[id(ex)]):
                o = w.orders.get(oid)
                eq(f"order {oid} (#{i} of {len(placed[id(ex)])}, {len(w.orders)} watched)",
                   o and (o["status"], o["filled"]), final[oid])
        await settle("streamed orders", states)
        w.stop()


async def pro_scenario(base, c_key, d_key, c_rest, d_rest, c_v1, d_v1):
    """c_key/d_key: two funded accounts' API keys; *_rest: synchronous ccxt.binance of
    the same keys; *_v1: their /api/v1 balances {asset: (available, held)}."""
    await raw_protocol(base)
    c, d = pro_exchange(base, c_key), pro_exchange(base, d_key)
    try:
        await c.load_markets()
        await d.load_markets()
        await single_watchers(c, d, c_rest, d_rest, d_v1)
        c_rest.cancel_all_orders(SYM)
        d_rest.cancel_all_orders(SYM)
        await session(c, d, c_rest, d_rest, c_v1, d_v1)
    finally:
        await c.close()
        await d.close()
