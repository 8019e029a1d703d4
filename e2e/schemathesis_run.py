#!/usr/bin/env python3
"""Runs schemathesis against a real `bourse serve` on each read-model backend.

Per backend: start the binary on port 0 with a temp data dir (and, for PostgreSQL, a fresh
database), create the markets BTC-USD and ETH-USD as the admin, register a trader, fund it,
leave one resting order, then run schemathesis with the trader's bearer token over the
whole document but the admin routes, then with the admin's over the admin routes.
Operations that would end the session under test (logout, password change) are excluded.

Every check runs (`--checks all`: conformance, positive-data acceptance, negative-data
rejection, auth, ...), over the examples, coverage, fuzzing and stateful phases (the
stateful phase follows the document's links: place an order, then get, amend, cancel it).
e2e/schemathesis.toml fails the run on the "schema constraints don't match API
validation" warning; the operations whose `x-beyond-schema` lists refusals a schema-valid
request can still get (grid, balances, rules between fields) may answer those with 422,
and only those (e2e/schemathesis_hooks.py).

A third pass runs over the Binance-compatible API's own document (/binance/openapi.json)
with an API key of the trader: e2e/schemathesis_binance_hooks.py signs the signed
operations (timestamp + HMAC over the exact query string) and lets positive data get a
400 only with a code the operation's `x-beyond-schema` lists (unknown symbol or order,
the market's grid, balances, the signature's window); e2e/schemathesis_binance.toml.

Every pass of every backend runs at the same time, each with its own server. Prints each
pass's output and one summary line per backend;
exits non-zero if any backend failed. Standard library only: the venv is only for
schemathesis itself.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid

ADMIN_PASSWORD = "e2e-admin-password"
ARTIFACTS = os.path.abspath(os.path.join("e2e", "artifacts", "schemathesis"))
PHASES = os.environ.get("E2E_PHASES", "examples,coverage,fuzzing,stateful")
CONFIG_FILE = os.path.abspath(os.path.join("e2e", "schemathesis.toml"))
BINANCE_CONFIG_FILE = os.path.abspath(os.path.join("e2e", "schemathesis_binance.toml"))
HOOKS = os.path.abspath(os.path.join("e2e", "schemathesis_hooks.py"))
# positive_data_acceptance's default set, plus 422 where the document says why.
BEYOND_SCHEMA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
# The Binance API answers every refusal 400 (its code says which).
BINANCE_BEYOND_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
# These end the session the token belongs to; the rest of the run would be 401s.
EXCLUDED_PATHS = ["/api/v1/auth/logout", "/api/v1/auth/password"]
# Rate limits would turn the run into 429s; they have their own tests.
CONFIG = "[limits]\nenabled = false\n"


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def expect(result, *statuses):
    status, body = result
    if status not in statuses:
        raise RuntimeError(f"setup call failed: {status} {body}")
    return body


def setup(base):
    """Markets, a funded trader with one resting order; returns the admin's and the
    trader's tokens."""
    admin = expect(
        call(base, "POST", "/api/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD}), 200
    )["token"]
    for symbol, base_asset, lot in [("BTC-USD", "BTC", "0.0001"), ("ETH-USD", "ETH", "0.001")]:
        market = {
            "symbol": symbol,
            "base": base_asset,
            "quote": "USD",
            "tick_size": "0.01",
            "lot_size": lot,
            "min_notional": "1",
        }
        expect(call(base, "POST", "/api/v1/admin/markets", market, admin), 201)
    creds = {"username": "fuzzer", "password": "fuzzer-password"}
    expect(call(base, "POST", "/api/v1/auth/register", creds), 201)
    token = expect(call(base, "POST", "/api/v1/auth/login", creds), 200)["token"]
    for asset, amount in [("USD", "1000000"), ("BTC", "100"), ("ETH", "1000")]:
        deposit = {"username": "fuzzer", "asset": asset, "amount": amount}
        expect(call(base, "POST", "/api/v1/admin/deposits", deposit, admin), 201)
    order = {"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.0100"}
    expect(call(base, "POST", "/api/v1/orders", order, token), 201)
    return admin, token


def binance_setup(base, token):
    """For the Binance pass: an API key of the trader and a few resting orders. Returns
    (key, secret, parameters and dictionaries to add to the run's config) so that the
    routes taking an order id or a listen key get existing ones part of the time (the
    hooks turn the LIVE-… placeholders into fresh ones)."""
    body = {"label": "schemathesis", "permissions": ["read", "trade"]}
    k = expect(call(base, "POST", "/api/v1/api-keys", body, token), 201)
    ids = []
    for i in range(6):
        order = {"market": "BTC-USD", "side": "buy", "type": "limit", "price": "99.50", "quantity": "0.0200",
                 "client_order_id": f"resting-{i}"}
        ids.append(expect(call(base, "POST", "/api/v1/orders", order, token), 201)["id"])
    # Continues the `[parameters]` table that e2e/schemathesis_binance.toml ends with.
    extra = (
        '"query.listenKey" = { dictionary = "listen_keys", probability = 0.8 }\n'
        '"query.orderId" = { dictionary = "order_ids", probability = 0.5 }\n'
        '"query.cancelOrderId" = { dictionary = "order_ids", probability = 0.5 }\n'
        '"query.origClientOrderId" = { dictionary = "live_orders", probability = 0.5 }\n'
        '"query.cancelOrigClientOrderId" = { dictionary = "live_orders", probability = 0.5 }\n'
        '\n[dictionaries.listen_keys]\nvalues = ["LIVE-LISTEN-KEY"]\n'
        f"[dictionaries.order_ids]\nvalues = {json.dumps(ids)}\n"
        '[dictionaries.live_orders]\nvalues = ["LIVE-ORDER"]\n'
    )
    return k["key"], k["secret"], extra


def run_config(base, workdir, binance=False, extra=""):
    """e2e/schemathesis.toml plus, for each operation with `x-beyond-schema` in the served
    document, 422 among the statuses positive data may get (see the module doc); for the
    Binance document its own toml, and 400 where `x-beyond-schema` lists codes."""
    doc_path, config_file, statuses = (
        ("/binance/openapi.json", BINANCE_CONFIG_FILE, BINANCE_BEYOND_STATUSES)
        if binance
        else ("/openapi.json", CONFIG_FILE, BEYOND_SCHEMA_STATUSES)
    )
    with urllib.request.urlopen(base + doc_path, timeout=30) as res:
        doc = json.loads(res.read())
    with open(config_file) as f:
        text = f.read()
    text += extra
    for path, item in sorted(doc["paths"].items()):
        for method, op in sorted(item.items()):
            beyond = isinstance(op, dict) and op.get("x-beyond-schema")
            if beyond and (not binance or beyond.get("codes") or beyond.get("messages")):
                text += (
                    "\n[[operations]]\n"
                    f"include-path = {json.dumps(path)}\n"
                    f"include-method = {json.dumps(method.upper())}\n"
                    f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}\n"
                )
    path = os.path.join(workdir, "schemathesis.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def start_server(bourse, workdir, database_url, log, config=CONFIG):
    """Starts `bourse serve` on free ports; returns the process and the HTTP base URL. The
    FIX acceptor's address, when the config turns it on, is in `proc.fix_addr`."""
    path = os.path.join(workdir, "bourse.toml")
    with open(path, "w") as f:
        f.write(config)
    cmd = [bourse, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(workdir, "data"),
           "--config", path]
    if database_url:
        cmd += ["--database-url", database_url]
    env = dict(os.environ, BOURSE_ADMIN_PASSWORD=ADMIN_PASSWORD, RUST_LOG="warn")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    proc.fix_addr = None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"bourse exited with {proc.returncode} during start-up")
            continue
        m = re.match(r"fix listening on (\S+)", line.strip())
        if m:
            proc.fix_addr = m.group(1)
        m = re.match(r"listening on (\S+)", line.strip())
        if m:
            return proc, "http://" + m.group(1)
    proc.kill()
    raise RuntimeError("bourse did not print its listen address within 60 s")


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def trader(base, admin, name, deposits):
    """A registered user with `deposits` ({asset: amount string}) and two API keys:
    (token, (key, secret) with read + trade, (key, secret) read-only)."""
    creds = {"username": name, "password": name + "-password"}
    expect(call(base, "POST", "/api/v1/auth/register", creds), 201)
    token = expect(call(base, "POST", "/api/v1/auth/login", creds), 200)["token"]
    for asset, amount in deposits.items():
        body = {"username": name, "asset": asset, "amount": str(amount)}
        expect(call(base, "POST", "/api/v1/admin/deposits", body, admin), 201)
    keys = [expect(call(base, "POST", "/api/v1/api-keys", {"label": label, "permissions": perms}, token), 201)
            for label, perms in [("trade", ["read", "trade"]), ("read", ["read"])]]
    return (token,) + tuple((k["key"], k["secret"]) for k in keys)


def on_backend(label, backend, bourse, scenario, config=CONFIG):
    """Runs `scenario(base, admin_token, proc)` against a fresh server on `backend`
    (sqlite, or postgres with a database of its own, dropped after); prints one line and
    returns whether it passed, with the server log's tail when it did not."""
    workdir = tempfile.mkdtemp(prefix=f"bourse-{label}-{backend}-")
    database_url, drop = None, None
    if backend == "postgres":
        admin_url = os.environ.get("BOURSE_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
        db = f"bourse_{label}_" + uuid.uuid4().hex[:12]
        psql(admin_url, f"CREATE DATABASE {db}")
        database_url = admin_url.rsplit("/", 1)[0] + "/" + db
        drop = lambda: psql(admin_url, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")  # noqa: E731
    log_path = os.path.join(workdir, "server.log")
    proc = None
    started = time.time()
    try:
        with open(log_path, "w") as log:
            proc, base = start_server(bourse, workdir, database_url, log, config)
            admin = expect(call(base, "POST", "/api/v1/auth/login",
                                {"username": "admin", "password": ADMIN_PASSWORD}), 200)["token"]
            detail = scenario(base, admin, proc)
        print(f"{label} {backend}: ok{detail or ''} in {time.time() - started:.0f}s", flush=True)
        return True
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        print(f"{label} {backend}: FAILED: {type(e).__name__}: {e}", flush=True)
        with open(log_path) as f:
            sys.stdout.write(f.read()[-4000:])
        return False
    finally:
        if proc is not None:
            stop_server(proc)
        if drop:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)


# The trader over everything but the admin operations (it reaches those only as far as
# 403), the admin over those.
ADMIN_PATHS = "^/api/v1/admin/"
PASSES = {
    "trader": ["--exclude-path-regex", ADMIN_PATHS],
    "admin": ["--include-path-regex", ADMIN_PATHS],
    "binance": [],
}


def run_pass(name, who, args, out):
    """One pass on one backend with a server (and database) of its own, so the passes can
    run at the same time and each sees the same state on every run; schemathesis runs
    with one worker for the same reason (and because hypothesis is not thread-safe on this
    Python). Writes schemathesis' output to `out`; returns (ok, detail)."""
    workdir = tempfile.mkdtemp(prefix=f"bourse-e2e-{name}-{who}-")
    database_url, drop = None, None
    if name == "postgres":
        admin_url = os.environ.get("BOURSE_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
        if not shutil.which("psql"):
            return False, "psql not found (PostgreSQL client is required)"
        db = "bourse_e2e_" + uuid.uuid4().hex[:12]
        try:
            psql(admin_url, f"CREATE DATABASE {db}")
        except subprocess.CalledProcessError:
            return False, f"cannot create a database at {admin_url} (is PostgreSQL running?)"
        database_url = admin_url.rsplit("/", 1)[0] + "/" + db
        drop = lambda: psql(admin_url, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")  # noqa: E731
    log_path = os.path.join(ARTIFACTS, f"server-{name}-{who}.log")
    proc = None
    try:
        with open(log_path, "w") as log:
            proc, base = start_server(args.bourse, workdir, database_url, log)
            admin, trader = setup(base)
            binance = who == "binance"
            hooks, extra = "schemathesis_hooks", ""
            env = dict(os.environ)
            if binance:
                key, secret, extra = binance_setup(base, trader)
            config = run_config(base, workdir, binance, extra)
            if binance:
                doc, auth = "/binance/openapi.json", f"X-MBX-APIKEY: {key}"
                hooks, env["BINANCE_API_SECRET"] = "schemathesis_binance_hooks", secret
                env.update(BINANCE_API_KEY=key, BINANCE_BASE_URL=base)
            else:
                token = {"trader": trader, "admin": admin}[who]
                doc, auth = "/openapi.json", f"Authorization: Bearer {token}"
            cmd = [
                args.schemathesis, "--config-file", config, "run", base + doc,
                "--url", base,
                "--header", auth,
                "--checks", "all",
                "--phases", PHASES,
                "--max-examples", str(args.max_examples),
                "--seed", str(args.seed),
                "--workers", "1",
                "--request-timeout", "20",
                "--no-color",
                "--report", "junit",
                "--report-junit-path", os.path.join(ARTIFACTS, f"junit-{name}-{who}.xml"),
            ] + PASSES[who]
            for p in [] if binance else EXCLUDED_PATHS:
                cmd += ["--exclude-path", p]
            started = time.time()
            # In the temp dir: schemathesis leaves a .schemathesis/ cache in its cwd.
            env.update(SCHEMATHESIS_HOOKS=hooks, PYTHONPATH=os.path.dirname(HOOKS))
            result = subprocess.run(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
            detail = f"{who}: exit {result.returncode} in {time.time() - started:.0f}s"
            if proc.poll() is not None:
                return False, f"{detail}; the server died (exit {proc.returncode}), see {log_path}"
            return result.returncode == 0, detail
    except Exception as e:  # noqa: BLE001 - reported in the summary
        return False, f"{who}: {type(e).__name__}: {e} (server log: {log_path})"
    finally:
        if proc is not None:
            stop_server(proc)
        if drop:
            try:
                drop()
            except subprocess.CalledProcessError as e:
                print(f"warning: could not drop the e2e database: {e}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bourse", required=True)
    p.add_argument("--schemathesis", required=True)
    p.add_argument("--max-examples", type=int, default=int(os.environ.get("E2E_MAX_EXAMPLES", "30")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("E2E_SEED", "1")))
    args = p.parse_args()
    backends = os.environ.get("E2E_BACKENDS", "sqlite,postgres").split(",")
    os.makedirs(ARTIFACTS, exist_ok=True)
    passes = os.environ.get("E2E_PASSES", ",".join(PASSES)).split(",")
    # The Binance pass adds ~80 s of CPU per backend; by default it runs on SQLite only.
    binance_backends = os.environ.get("E2E_BINANCE_BACKENDS", "sqlite").split(",")
    units = [
        (name, who) for name in backends for who in passes if who != "binance" or name in binance_backends
    ]
    results, logs = {}, {}

    def one(unit):
        logs[unit] = os.path.join(ARTIFACTS, "schemathesis-{}-{}.log".format(*unit))
        with open(logs[unit], "w") as out:
            results[unit] = run_pass(*unit, args, out)

    started = time.time()
    threads = [threading.Thread(target=one, args=(u,)) for u in units]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for unit in units:
        print("\n=== schemathesis on {}: as the {} ===".format(*unit), flush=True)
        with open(logs[unit]) as f:
            sys.stdout.write(f.read())
    print()
    failed = []
    for name in backends:
        mine = [who for (n, who) in units if n == name]
        ok = all(results[(name, who)][0] for who in mine)
        detail = "; ".join(results[(name, who)][1] for who in mine)
        print(f"schemathesis {name}: {'PASS' if ok else 'FAIL'} ({detail})")
        if not ok:
            failed.append(name)
    verdict = "all backends passed" if not failed else "FAILED on " + ", ".join(failed)
    print(f"schemathesis: {verdict} in {time.time() - started:.0f}s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
