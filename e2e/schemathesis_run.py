#!/usr/bin/env python3
"""Runs schemathesis against a real `bourse serve` on each read-model backend.

Per backend: start the binary on port 0 with a temp data dir (and, for PostgreSQL, a fresh
database), create the markets BTC-USD and ETH-USD as the admin, register a trader, fund it,
leave one resting order, then run schemathesis with the trader's bearer token over the
whole document. Operations that would end the session under test (logout, password
change) are excluded. Prints one summary line per backend and exits non-zero if any
backend failed. Standard library only: the venv is only for schemathesis itself.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ADMIN_PASSWORD = "e2e-admin-password"
ARTIFACTS = os.path.abspath(os.path.join("e2e", "artifacts", "schemathesis"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
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


def start_server(bourse, workdir, database_url, log):
    config = os.path.join(workdir, "bourse.toml")
    with open(config, "w") as f:
        f.write(CONFIG)
    cmd = [bourse, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(workdir, "data"),
           "--config", config]
    if database_url:
        cmd += ["--database-url", database_url]
    env = dict(os.environ, BOURSE_ADMIN_PASSWORD=ADMIN_PASSWORD, RUST_LOG="warn")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"bourse exited with {proc.returncode} during start-up")
            continue
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


def run_backend(name, args):
    workdir = tempfile.mkdtemp(prefix=f"bourse-e2e-{name}-")
    os.makedirs(ARTIFACTS, exist_ok=True)
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
    log_path = os.path.join(ARTIFACTS, f"server-{name}.log")
    proc = None
    try:
        with open(log_path, "w") as log:
            proc, base = start_server(args.bourse, workdir, database_url, log)
            admin, trader = setup(base)
            # The trader over everything, then the admin over the admin operations (which
            # the trader only reaches as far as 403).
            passes = [("trader", trader, []), ("admin", admin, ["--include-path-regex", "^/api/v1/admin/"])]
            details, ok = [], True
            for who, token, extra in passes:
                cmd = [
                    args.schemathesis, "run", base + "/openapi.json",
                    "--url", base,
                    "--header", f"Authorization: Bearer {token}",
                    "--checks", CHECKS,
                    "--phases", "examples,coverage,fuzzing",
                    "--max-examples", str(args.max_examples),
                    "--seed", str(args.seed),
                    "--workers", "2",
                    "--request-timeout", "20",
                    "--no-color",
                    "--report", "junit",
                    "--report-junit-path", os.path.join(ARTIFACTS, f"junit-{name}-{who}.xml"),
                ] + extra
                for p in EXCLUDED_PATHS:
                    cmd += ["--exclude-path", p]
                print(f"--- {name}: as the {who} ---", flush=True)
                started = time.time()
                # In the temp dir: schemathesis leaves a .schemathesis/ cache in its cwd.
                result = subprocess.run(cmd, cwd=workdir)
                details.append(f"{who}: exit {result.returncode} in {time.time() - started:.0f}s")
                ok = ok and result.returncode == 0
                if proc.poll() is not None:
                    details.append(f"the server died (exit {proc.returncode}), see {log_path}")
                    return False, "; ".join(details)
            return ok, "; ".join(details)
    except Exception as e:  # noqa: BLE001 - reported in the summary
        return False, f"{type(e).__name__}: {e} (server log: {log_path})"
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
    results = []
    for name in backends:
        print(f"\n=== schemathesis on {name} ===", flush=True)
        results.append((name, *run_backend(name, args)))
    print()
    for name, ok, detail in results:
        print(f"schemathesis {name}: {'PASS' if ok else 'FAIL'} ({detail})")
    failed = [n for n, ok, _ in results if not ok]
    print("schemathesis: " + ("all backends passed" if not failed else "FAILED on " + ", ".join(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
