#!/usr/bin/env python3
"""The QuickFIX engine (the `quickfix-py` wheel) as an independent FIX 4.4 initiator
against a real `bourse serve`, on each read-model backend.

Two sessions of one user: an order-entry session (trade key) and a drop copy (read key,
9406=Y). The Logon is signed in `toAdmin`, from the header values QuickFIX itself set.
Covered: security list, market data snapshot and incremental updates, a limit order,
an amend, a fill against another user's REST order, an order status request, a cancel,
a mass cancel; every ExecutionReport's numbers checked against /api/v1, the drop copy
seeing the same reports, and the balances against what the reports say was traded.

Server start-up and database handling are those of e2e/schemathesis_run.py.
"""

import argparse
import hashlib
import hmac
import os
import queue
import sys
import tempfile
import time
from decimal import Decimal as D

import quickfix as fix

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from schemathesis_run import call, expect, on_backend, trader  # noqa: E402

SOH = "\x01"
WAIT = 10
CONFIG = "[limits]\nenabled = false\n[fix]\nlisten = \"127.0.0.1:0\"\n"
DEPOSITS = {"USD": "100000", "BTC": "10"}
TRADER, DROP = "QF-TRADER", "QF-DROP"


def fields(raw):
    """[(tag, value)] of a raw FIX message, in order (repeating groups stay flat)."""
    return [tuple(f.split("=", 1)) for f in raw.strip(SOH).split(SOH)]


def get(f, tag):
    return next((v for t, v in f if t == tag), None)


def every(f, tag):
    return [v for t, v in f if t == tag]


class App(fix.Application):
    """Signs Logons and queues every application message per session."""

    def __init__(self, keys):
        super().__init__()
        self.keys = keys  # SenderCompID -> ((key, secret), extra logon fields)
        self.inbox = {sender: queue.Queue() for sender in keys}
        self.logged_on = {sender: False for sender in keys}

    def onCreate(self, session):
        pass

    def onLogon(self, session):
        self.logged_on[session.getSenderCompID().getValue()] = True

    def onLogout(self, session):
        self.logged_on[session.getSenderCompID().getValue()] = False

    def toAdmin(self, message, session):
        if message.getHeader().getField(35) != "A":
            return
        header = message.getHeader()
        sender = header.getField(49)
        (key, secret), extra = self.keys[sender]
        payload = header.getField(52) + header.getField(34) + sender + header.getField(56)
        message.setField(553, key)
        message.setField(554, hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest())
        for tag, value in extra:
            message.setField(tag, value)

    def fromAdmin(self, message, session):
        pass

    def toApp(self, message, session):
        pass

    def fromApp(self, message, session):
        self.inbox[session.getSenderCompID().getValue()].put(message.toString())

    def next(self, sender, msg_type, skip=()):
        """The next message of `msg_type` on `sender`'s session (types in `skip` passed over)."""
        deadline = time.time() + WAIT
        while True:
            try:
                raw = self.inbox[sender].get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                raise AssertionError(f"{sender}: no {msg_type} within {WAIT} s") from None
            f = fields(raw)
            if get(f, "35") == msg_type:
                return f
            if get(f, "35") not in skip:
                raise AssertionError(f"{sender}: wanted {msg_type}, got {raw.replace(SOH, '|')}")

    def quiet(self, sender, within=0.3):
        time.sleep(within)
        if not self.inbox[sender].empty():
            raise AssertionError(f"{sender}: unexpected {self.inbox[sender].get().replace(SOH, '|')}")


def settings_file(workdir, port):
    path = os.path.join(workdir, "quickfix.cfg")
    sessions = "".join(f"\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID={s}\nTargetCompID=BOURSE\n" for s in (TRADER, DROP))
    with open(path, "w") as f:
        f.write(f"""[DEFAULT]
ConnectionType=initiator
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
HeartBtInt=30
ReconnectInterval=1
StartTime=00:00:00
EndTime=00:00:00
ResetOnLogon=Y
UseDataDictionary=N
FileStorePath={os.path.join(workdir, "store")}
FileLogPath={os.path.join(workdir, "log")}
{sessions}""")
    return path


def send(msg_type, sender, body):
    m = fix.Message()
    h = m.getHeader()
    h.setField(8, "FIX.4.4")
    h.setField(35, msg_type)
    h.setField(49, sender)
    h.setField(56, "BOURSE")
    for tag, value in body:
        if isinstance(value, list):  # a repeating group: (count tag, [entries])
            for entry in value:
                g = fix.Group(tag, entry[0][0])
                for t, v in entry:
                    g.setField(t, v)
                m.addGroup(g)
        else:
            m.setField(tag, value)
    if not fix.Session.sendToTarget(m):
        raise AssertionError(f"QuickFIX would not send {msg_type}")


def now():
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())


def eq(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def num(f, tag):
    return D(get(f, tag))


def rest_order(base, token, order_id):
    return expect(call(base, "GET", f"/api/v1/orders/{order_id}", token=token), 200)


def same_numbers(what, er, order):
    """An ExecutionReport's quantities equal the REST order's."""
    eq(f"{what} CumQty", num(er, "14"), D(order["filled_quantity"]))
    eq(f"{what} LeavesQty", num(er, "151"), D(order["remaining_quantity"]))
    avg = order.get("average_price")
    eq(f"{what} AvgPx", num(er, "6"), D(avg) if avg else D(0))


def scenario(base, admin, proc):
    market = {"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
              "lot_size": "0.0001", "min_notional": "1"}
    expect(call(base, "POST", "/api/v1/admin/markets", market, admin), 201)
    a_tok, a_trade, a_read = trader(base, admin, "quinn", DEPOSITS)
    b_tok, _, _ = trader(base, admin, "bea", DEPOSITS)
    app = App({TRADER: (a_trade, []), DROP: (a_read, [(9406, "Y")])})
    workdir = tempfile.mkdtemp(prefix="bourse-quickfix-")
    port = int(proc.fix_addr.rsplit(":", 1)[1])
    settings = fix.SessionSettings(settings_file(workdir, port))
    initiator = fix.SocketInitiator(app, fix.MemoryStoreFactory(), settings, fix.FileLogFactory(settings))
    initiator.start()
    try:
        deadline = time.time() + WAIT
        while not all(app.logged_on.values()):
            if time.time() > deadline:
                raise AssertionError(f"not logged on: {app.logged_on}")
            time.sleep(0.05)
        run(base, app, a_tok, b_tok)
    finally:
        initiator.stop()


def run(base, app, a_tok, b_tok):
    # Security list: the REST market's grid.
    send("x", TRADER, [(320, "sl1"), (559, "4")])
    y = app.next(TRADER, "y")
    m = [x for x in expect(call(base, "GET", "/api/v1/markets"), 200) if x["symbol"] == "BTC-USD"][0]
    eq("security list", (get(y, "55"), num(y, "969"), num(y, "561")),
       ("BTC-USD", D(m["tick_size"]), D(m["lot_size"])))

    # A resting ask from Bea, then market data: snapshot + updates, depth 5.
    expect(call(base, "POST", "/api/v1/orders", {"market": "BTC-USD", "side": "sell", "type": "limit",
                                                "price": "105", "quantity": "2"}, b_tok), 201)
    send("V", TRADER, [(262, "md1"), (263, "1"), (264, "5"), (265, "1"), (146, [[(55, "BTC-USD")]]),
                       (267, [[(269, t)] for t in "012"])])
    w = app.next(TRADER, "W")
    book = expect(call(base, "GET", "/api/v1/markets/BTC-USD/book?depth=5"), 200)
    eq("snapshot asks", list(zip(map(D, every(w, "270")), map(D, every(w, "271")))),
       [(D(p), D(q)) for p, q in book["asks"]])
    eq("snapshot sequence", get(w, "20011"), str(book["sequence"]))

    # A limit buy: New, on REST and on the drop copy.
    send("D", TRADER, [(11, "qf-1"), (55, "BTC-USD"), (54, "1"), (40, "2"), (44, "100"), (38, "1"),
                       (59, "1"), (60, now())])
    new = app.next(TRADER, "8", skip={"X"})
    eq("new", (get(new, "150"), get(new, "39"), get(new, "11")), ("0", "0", "qf-1"))
    order_id = get(new, "37")
    order = rest_order(base, a_tok, order_id)
    eq("REST order", (order["client_order_id"], order["status"], D(order["price"])), ("qf-1", "open", D(100)))
    same_numbers("new", new, order)
    dc = app.next(DROP, "8")
    eq("drop copy new", (get(dc, "37"), get(dc, "150")), (order_id, "0"))
    x = app.next(TRADER, "X")
    eq("bid update", (every(x, "279"), every(x, "269"), every(x, "270")), (["0"], ["0"], ["100.00"]))

    # Amend down to 0.6: Replaced, same order.
    send("G", TRADER, [(37, order_id), (41, "qf-1"), (11, "qf-1-r"), (55, "BTC-USD"), (54, "1"), (40, "2"),
                       (44, "100"), (38, "0.6"), (60, now())])
    rep = app.next(TRADER, "8", skip={"X"})
    eq("replaced", (get(rep, "150"), get(rep, "37")), ("5", order_id))
    order = rest_order(base, a_tok, order_id)
    eq("REST quantity", D(order["quantity"]), D("0.6"))
    same_numbers("replaced", rep, order)
    eq("drop copy replaced", get(app.next(DROP, "8"), "150"), "5")

    # Bea sells 0.25 into it on REST: a fill with its price, size and fee.
    expect(call(base, "POST", "/api/v1/orders", {"market": "BTC-USD", "side": "sell", "type": "limit",
                                                "price": "100", "quantity": "0.25"}, b_tok), 201)
    fill = app.next(TRADER, "8", skip={"X"})
    eq("fill", (get(fill, "150"), get(fill, "39"), num(fill, "31"), num(fill, "32")),
       ("F", "1", D(100), D("0.25")))
    order = rest_order(base, a_tok, order_id)
    same_numbers("fill", fill, order)
    fills = expect(call(base, "GET", "/api/v1/fills?market=BTC-USD", token=a_tok), 200)
    mine = [f for f in fills.get("fills", fills) if str(f["order_id"]) == order_id]
    eq("one REST fill", len(mine), 1)
    eq("commission", (num(fill, "12"), get(fill, "479")), (D(mine[0]["fee"]), mine[0]["fee_asset"]))
    eq("drop copy fill", get(app.next(DROP, "8"), "150"), "F")

    # Order status, then cancel.
    send("H", TRADER, [(37, order_id), (11, "qf-1"), (55, "BTC-USD"), (54, "1"), (790, "st-1")])
    st = app.next(TRADER, "8", skip={"X"})
    eq("status", (get(st, "150"), get(st, "790")), ("I", "st-1"))
    same_numbers("status", st, order)
    send("F", TRADER, [(37, order_id), (41, "qf-1"), (11, "qf-1-c"), (55, "BTC-USD"), (54, "1"), (60, now())])
    canceled = app.next(TRADER, "8", skip={"X"})
    eq("canceled", (get(canceled, "150"), get(canceled, "39")), ("4", "4"))
    eq("REST canceled", rest_order(base, a_tok, order_id)["status"], "canceled")
    eq("drop copy canceled", get(app.next(DROP, "8"), "150"), "4")

    # Two more orders, then a mass cancel of the market: a report and two cancels.
    for i, px in enumerate(("98", "97")):
        send("D", TRADER, [(11, f"qf-m{i}"), (55, "BTC-USD"), (54, "1"), (40, "2"), (44, px), (38, "0.1"),
                           (59, "1"), (60, now())])
        eq("mass order new", get(app.next(TRADER, "8", skip={"X"}), "150"), "0")
    send("q", TRADER, [(11, "mc-1"), (530, "1"), (55, "BTC-USD"), (60, now())])
    r = app.next(TRADER, "r", skip={"X", "8"})
    eq("mass cancel report", (get(r, "530"), get(r, "531")), ("1", "1"))
    open_orders = expect(call(base, "GET", "/api/v1/orders?status=open", token=a_tok), 200)
    eq("no open orders", len(open_orders.get("orders", open_orders)), 0)

    # Unsubscribe; the drop copy saw every report (2 news, 2 cancels of the mass cancel).
    send("V", TRADER, [(262, "md1"), (263, "2")])
    kinds = sorted(get(app.next(DROP, "8"), "150") for _ in range(4))
    eq("drop copy of the mass cancel", kinds, ["0", "0", "4", "4"])

    # Balances: the deposits, less what the reports say was bought and paid.
    bal = {b["asset"]: D(b["available"]) + D(b["held"])
           for b in expect(call(base, "GET", "/api/v1/balances", token=a_tok), 200)}
    fee, fee_asset = num(fill, "12"), get(fill, "479")
    want = {"USD": D(DEPOSITS["USD"]) - D(100) * D("0.25"), "BTC": D(DEPOSITS["BTC"]) + D("0.25")}
    want[fee_asset] -= fee
    eq("balances", {k: bal[k] for k in want}, want)
    app.quiet(DROP)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bourse", required=True)
    args = p.parse_args()
    backends = os.environ.get("E2E_BACKENDS", "sqlite,postgres").split(",")
    ok = all([on_backend("quickfix", b, args.bourse, scenario, CONFIG) for b in backends])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
