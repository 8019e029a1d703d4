// What the browser suites share: the `bourse serve --demo` they run against, Debian's
// chromium through playwright-core, a REST client, the Content-Security-Policy probe and
// decimal arithmetic on a market's grid. Not a test file itself (node --test runs
// *.test.mjs only).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
// playwright-core is a dev dependency of web/ (one npm install for both).
const require = createRequire(join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');

// The binary cargo built: run.sh sets BOURSE_BIN; otherwise follow CARGO_TARGET_DIR
// (relative to the workspace root, as cargo reads it there) or target/.
const BIN = process.env.BOURSE_BIN ?? join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'bourse');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(root, 'e2e', 'artifacts');

/**
 * A demo server on a free port with its own data dir and `adminPassword` for `admin`.
 * Resolves to `{ base, stop }` once it says where it listens.
 */
export async function startServer(adminPassword) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bourse-e2e-'));
  const server = spawn(BIN, ['serve', '--demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, BOURSE_ADMIN_PASSWORD: adminPassword, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () => {
    server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60_000);
    const onData = (d) => {
      log += d.toString();
      const m = /^listening on (\S+)/m.exec(log); // not the `fix listening on` line before it
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  }).catch((e) => {
    stop();
    throw e;
  });
  return { base, stop };
}

/** Headless chromium; playwright gives every launch a fresh temporary profile. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A JSON client of the server at `base`: throws on a non-2xx answer, naming it. */
export function apiAt(base) {
  return async function api(path, { method = 'GET', token, body } = {}) {
    const res = await fetch(base + path, {
      method,
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

// Installed in every page before its own scripts (playwright's init scripts are not
// subject to the page's policy): each CSP violation the browser reports lands in
// `window.__cspViolations`.
export function cspProbe() {
  window.__cspViolations = [];
  document.addEventListener(
    'securitypolicyviolation',
    (e) => window.__cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile, line: e.lineNumber }),
    true,
  );
}

/** The violations the probe saw in `page` (it must have been installed: null fails). */
export async function cspViolationsOf(page) {
  const v = await page.evaluate(() => window.__cspViolations ?? null);
  assert.ok(Array.isArray(v), `the CSP probe is installed in ${page.url()}`);
  return v;
}

export const decimals = (s) => (s.includes('.') ? s.split('.')[1].length : 0);
/** `p` moved by `ticks` ticks, on the grid (test arithmetic on integers of ticks). */
export function ticksFrom(p, tick, ticks) {
  const d = decimals(tick);
  const units = (s) => BigInt(s.replace('.', '').padEnd(s.replace('.', '').length + d - decimals(s), '0'));
  const t = units(tick);
  const v = (units(p) / t + BigInt(ticks)) * t;
  const s = v.toString().padStart(d + 1, '0');
  return d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
}
export const num = (s) => Number(String(s).replace(/,/g, ''));
