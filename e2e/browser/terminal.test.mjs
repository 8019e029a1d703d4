// End-to-end: the browser terminal against a real `bourse serve --demo`, driven through
// Debian's chromium by playwright-core. Run by e2e/browser/run.sh (which builds the web
// app and the server, and installs chromium when it is missing).
//
// One trader registers, sees the book and the chart fill, places a limit order, sees it
// in open orders, amends it, cancels it, places a crossing order and sees the fill, the
// balance change and the toast. An admin logs in, credits the trader, halts then resumes
// a market. Throughout, the page must make no request outside the server's origin and
// the server's Content-Security-Policy must report no violation. Screenshots of each
// step go to e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
// playwright-core is a dev dependency of web/ (one npm install for both).
const require = createRequire(join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');

const BIN = process.env.BOURSE_BIN ?? join(root, 'target', 'debug', 'bourse');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(root, 'e2e', 'artifacts');
const ADMIN_PASSWORD = 'admin-e2e-password';
const USER = `trader${Date.now() % 1_000_000}`;
const PASSWORD = 'correct horse battery';

let server;
let base;
let dataDir;
let browser;
const offOrigin = [];
const cspViolations = [];
const pageErrors = [];
let shot = 0;

async function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), 'bourse-e2e-'));
  server = spawn(BIN, ['serve', '--demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, BOURSE_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60_000);
    const onData = (d) => {
      log += d.toString();
      const m = /listening on (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  });
}

async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`) });
}

function watch(page) {
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    const origin = new URL(u).origin;
    const wsOrigin = base.replace(/^http/, 'ws');
    if (origin !== base && origin !== wsOrigin) offOrigin.push(u);
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
}

async function api(path, { method = 'GET', token, body } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const decimals = (s) => (s.includes('.') ? s.split('.')[1].length : 0);
/** `p` moved by `ticks` ticks, on the grid (test arithmetic on integers of ticks). */
function ticksFrom(p, tick, ticks) {
  const d = decimals(tick);
  const units = (s) => BigInt(s.replace('.', '').padEnd(s.replace('.', '').length + d - decimals(s), '0'));
  const t = units(tick);
  const v = (units(p) / t + BigInt(ticks)) * t;
  const s = v.toString().padStart(d + 1, '0');
  return d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
}
const num = (s) => Number(String(s).replace(/,/g, ''));

before(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  base = await startServer();
  // playwright gives every launch a fresh temporary profile (its own --user-data-dir).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('terminal: trade, amend, cancel, fill; admin: credit, halt, resume', { timeout: 240_000 }, async () => {
  const markets = await api('/api/v1/markets');
  const market = markets.find((m) => m.symbol === 'BTC-USD') ?? markets[0];
  assert.ok(market, 'the demo server has a market');

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page);
  page.setDefaultTimeout(30_000);

  // The terminal is served with the strict policy.
  const res = await page.goto(base + '/');
  const csp = res.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline/);
  await page.waitForSelector('[data-testid=order-book]');
  await snap(page, 'public-terminal');

  // Register (and log in).
  await page.click('[data-testid=nav-login]');
  await page.fill('#username', USER);
  await page.fill('#password', PASSWORD);
  await snap(page, 'register');
  await page.click('[data-testid=register]');
  await page.waitForSelector(`[data-testid=whoami]:has-text("${USER}")`);

  // The book and the chart fill (the demo market maker quotes and trades).
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=book-ask]').length > 0 && document.querySelectorAll('[data-testid=book-bid]').length > 0,
  );
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=candle-chart]')?.getAttribute('data-candles') ?? 0) > 0, null, { timeout: 60_000 });
  await page.waitForSelector('[data-testid=balances] [data-testid=avail-USD]');
  await snap(page, 'terminal-live');

  // A resting limit buy well below the best bid.
  const book = await api(`/api/v1/markets/${market.symbol}/book?depth=5`);
  const bestBid = book.bids[0][0];
  const restPrice = ticksFrom(bestBid, market.tick_size, -Math.max(5, Math.round(num(bestBid) * 0.01 / num(market.tick_size))));
  const qty = market.lot_size.includes('.') ? ticksFrom('0', market.lot_size, Math.ceil(0.01 / num(market.lot_size))) : '1';
  await page.click('[data-testid=type-limit]');
  await page.fill('#price', restPrice);
  await page.fill('#qty', qty);
  await snap(page, 'order-entry-filled-in');
  await page.click('[data-testid=place-order]');
  const row = page.locator('[data-testid=open-orders] tbody tr');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.equal(num(await row.first().locator('[data-testid=order-price]').innerText()), num(restPrice));
  await snap(page, 'open-order');

  // Amend its price one tick down.
  const amended = ticksFrom(restPrice, market.tick_size, -1);
  await row.first().getByRole('button', { name: 'Amend' }).click();
  await page.getByLabel('New price').fill(amended);
  await snap(page, 'amend');
  await row.first().getByRole('button', { name: 'Save' }).click();
  await page.waitForFunction(
    (p) => {
      const cell = document.querySelector('[data-testid=open-orders] [data-testid=order-price]');
      return cell && Number(cell.textContent.replace(/,/g, '')) === p;
    },
    num(amended),
  );
  await snap(page, 'amended');

  // Cancel it.
  await row.first().getByRole('button', { name: 'Cancel' }).click();
  await page.waitForSelector('text=No open orders');
  await snap(page, 'canceled');

  // A crossing buy at the best ask (and a little above): it fills.
  const baseBefore = await page.locator('[data-testid=avail-BTC]').innerText().catch(() => '0');
  const usdBefore = await page.locator('[data-testid=avail-USD]').innerText();
  // The demo market moves: take the best ask now and bid 1 % above it.
  const askNow = (await api(`/api/v1/markets/${market.symbol}/book?depth=1`)).asks[0][0];
  const cross = ticksFrom(askNow, market.tick_size, Math.round(num(askNow) * 0.01 / num(market.tick_size)));
  await page.fill('#price', cross);
  await page.fill('#qty', qty);
  await page.click('[data-testid=place-order]');
  await page.locator('[data-testid=toast]', { hasText: 'Filled' }).first().waitFor();
  await page.waitForFunction(
    ([b, u]) => {
      const bt = document.querySelector('[data-testid=avail-BTC]')?.textContent;
      const ut = document.querySelector('[data-testid=avail-USD]')?.textContent;
      return bt !== b && ut !== u;
    },
    [baseBefore, usdBefore],
  );
  const usdAfter = await page.locator('[data-testid=avail-USD]').innerText();
  assert.ok(num(usdAfter) < num(usdBefore), `USD went down: ${usdBefore} -> ${usdAfter}`);
  await snap(page, 'filled-toast-and-balance');
  await page.click('[data-testid=tab-fills]');
  await page.locator('[data-testid=fills] tbody tr').first().waitFor();
  await snap(page, 'fills');
  await page.click('[data-testid=tab-depth]');
  await snap(page, 'depth-chart');
  // The inbox lists the notifications (the fill among them).
  await page.click('[data-testid=bell]');
  await page.locator('[data-testid=inbox] .inbox-item', { hasText: 'filled' }).first().waitFor();
  await snap(page, 'inbox');
  await page.click('[data-testid=bell]');

  // Account: an API key (secret shown once) and a withdrawal request.
  await page.click('nav >> text=Account');
  await page.waitForSelector('[data-testid=profile]');
  await page.fill('#key-label', 'e2e bot');
  await page.click('text=Create key');
  await page.waitForSelector('[data-testid=api-secret]');
  await page.selectOption('#wd-asset', 'USD');
  await page.fill('#wd-amount', '100');
  await page.fill('#wd-address', 'bank:E2E-TEST-1');
  await page.click('[data-testid=withdraw]');
  await page.locator('[data-testid=my-withdrawals] tr', { hasText: 'pending' }).first().waitFor();
  await snap(page, 'account-key-and-withdrawal');
  await page.click('nav >> text=Trade');
  await page.waitForSelector('[data-testid=order-book]');

  // Phone width: the same page, stacked.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  const pp = await phone.newPage();
  watch(pp);
  await pp.goto(base + '/');
  await pp.waitForSelector('[data-testid=book-ask]');
  await snap(pp, 'phone');
  await pp.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-phone-full.png`), fullPage: true });
  await phone.close();

  // The admin credits the trader and halts then resumes the market.
  const adminCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const admin = await adminCtx.newPage();
  watch(admin);
  admin.setDefaultTimeout(30_000);
  await admin.goto(base + '/login');
  await admin.fill('#username', 'admin');
  await admin.fill('#password', ADMIN_PASSWORD);
  await admin.click('[data-testid=login]');
  await admin.click('[data-testid=nav-admin]');
  await admin.waitForSelector(`[data-testid=admin-users] tr[data-username="${USER}"]`);
  const { token } = await api('/api/v1/auth/login', { method: 'POST', body: { username: USER, password: PASSWORD } });
  const usdBeforeCredit = (await api('/api/v1/balances', { token })).find((b) => b.asset === 'USD');
  await admin.fill('#dep-user', USER);
  await admin.fill('#dep-asset', 'USD');
  await admin.fill('#dep-amount', '1234');
  await admin.click('[data-testid=deposit]');
  await admin.locator('[data-testid=toast]', { hasText: `Credited 1234 USD to ${USER}` }).waitFor();
  await snap(admin, 'admin-deposit');
  // The trader's terminal shows the credit.
  await page.waitForFunction(
    (before) => Number(document.querySelector('[data-testid=avail-USD]')?.textContent.replace(/,/g, '')) >= before + 1234 - 0.000001,
    num(usdBeforeCredit.available),
  );

  // The admin approves the trader's withdrawal.
  await admin.click('[data-testid=admin-withdrawals]');
  const wd = admin.locator('[data-testid=admin-withdrawals] tr', { hasText: USER });
  await wd.first().waitFor();
  await snap(admin, 'admin-withdrawals');
  await wd.first().getByRole('button', { name: 'Approve' }).click();
  await admin.locator('[data-testid=toast]', { hasText: 'approved' }).first().waitFor();

  await admin.click('[data-testid=admin-markets]');
  await admin.click(`[data-testid=halt-${market.symbol}]`);
  await admin.waitForSelector(`[data-testid=resume-${market.symbol}]`);
  await snap(admin, 'admin-halted');
  await page.waitForSelector('[data-testid=halted]');
  await snap(page, 'trader-sees-halt');
  await admin.click(`[data-testid=resume-${market.symbol}]`);
  await admin.waitForSelector(`[data-testid=halt-${market.symbol}]`);
  await page.waitForSelector('[data-testid=halted]', { state: 'detached' });
  await admin.click('[data-testid=admin-status]');
  await admin.waitForSelector('[data-testid=health] .pill');
  await snap(admin, 'admin-status');
  await snap(page, 'trader-final');

  assert.deepEqual(offOrigin, [], 'requests outside the server origin');
  assert.deepEqual(cspViolations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
  await adminCtx.close();
  await ctx.close();
});

test('book: a lost diff is detected and the book resyncs from a fresh snapshot', { timeout: 90_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page);
  const sent = [];
  let updates = 0;
  let dropped = null;
  // Sit between the page and the server; drop the 3rd book update.
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      sent.push(JSON.parse(String(m)));
      server.send(m);
    });
    server.onMessage((m) => {
      const msg = JSON.parse(String(m));
      if (msg.channel?.startsWith('book.') && msg.type === 'update' && ++updates === 3) {
        dropped = msg.sequence;
        return;
      }
      ws.send(m);
    });
  });
  await page.goto(base + '/');
  await page.waitForSelector('text="resync ×1"', { timeout: 60_000 });
  assert.ok(dropped, 'an update was dropped');
  const resub = sent.filter((m) => m.op === 'subscribe' && m.channels.some((c) => c.startsWith('book.')));
  assert.ok(resub.length >= 2, `subscribed again after the gap: ${JSON.stringify(sent)}`);
  assert.ok(sent.some((m) => m.op === 'unsubscribe'), 'unsubscribed first');
  // The fresh snapshot is past the lost diff, and the ladder keeps following.
  await page.waitForFunction((d) => Number(document.querySelector('[data-testid=order-book]')?.getAttribute('data-sequence')) > d, dropped);
  await snap(page, 'book-resynced');
  assert.deepEqual(pageErrors, []);
  await ctx.close();
});

test('unknown API paths stay JSON 404s; client routes get the app', async () => {
  const r = await fetch(base + '/api/v1/nope');
  assert.equal(r.status, 404);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  const page = await fetch(base + '/admin/users');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const html = await page.text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, 'index.html names its script');
  const js = await fetch(base + asset);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
});
