// End-to-end: the operator dashboard (admin › Monitoring) against a real
// `bourse serve --demo` in Debian's chromium. Run by e2e/browser/run.sh.
//
// The admin logs in and opens the dashboard; the live answer of
// GET /api/v1/monitoring/dashboard has every field of the contract fixture the unit tests
// render (web/src/lib/dashboard.fixture.json) with the same JSON types, and a trader
// gets 403. Then a scripted load runs from this test (a trader's market orders through
// the REST API, and a burst of anonymous requests past the rate limit): while it runs,
// the page's order count moves without a reload, and afterwards the orders, trades and
// rate-limit refusals it shows have grown by at least what the script did. The charts
// must draw: each has points, and the trading and latency charts' canvases hold pixels
// of their lines' colours. No page errors, no CSP violations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  apiAt, ARTIFACTS, cspProbe, cspViolationsOf, launchChromium, num, root, startServer, ticksFrom,
} from './harness.mjs';

const ADMIN_PASSWORD = 'admin-e2e-password';
const FIXTURE = JSON.parse(readFileSync(join(root, 'web', 'src', 'lib', 'dashboard.fixture.json'), 'utf8'));
const ORDERS = 30;
// Line colours of lib/monitoring.ts: orders/s (trading) and p99 (latency charts).
const ORDERS_RGB = [0x16, 0xc7, 0x84];
const P99_RGB = [0xf6, 0x46, 0x5d];

let stopServer;
let base;
let api;
let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of readdirSync(ARTIFACTS)) if (f.startsWith('dashboard-') && f.endsWith('.png')) rmSync(join(ARTIFACTS, f));
  ({ base, stop: stopServer } = await startServer(ADMIN_PASSWORD));
  api = apiAt(base);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  stopServer?.();
});

/** Where `actual` lacks a field of `expected` or has it with another JSON type. */
function shapeDiff(expected, actual, path = '') {
  const type = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (type(expected) !== type(actual)) return [`${path || '.'}: ${type(actual)}, contract says ${type(expected)}`];
  if (type(expected) !== 'object') return [];
  const out = [];
  for (const [k, v] of Object.entries(expected)) {
    if (!(k in actual)) out.push(`${path}.${k}: missing`);
    // A check's other fields depend on its state (`detail` only when failing): `ok` is the contract.
    else if (path === '.health.checks') out.push(...shapeDiff({ ok: true }, actual[k], `${path}.${k}`));
    else out.push(...shapeDiff(v, actual[k], `${path}.${k}`));
  }
  return out;
}

const stat = (page, key) => page.locator(`[data-testid=stat-${key}]`).getAttribute('data-value').then(Number);

/** Pixels of `rgb` (± a little, for antialiasing) on the canvases of chart `id`. */
const linePixels = (page, id, rgb) =>
  page.evaluate(([id, rgb]) => {
    let n = 0;
    for (const c of document.querySelectorAll(`[data-testid=chart-${id}] canvas`)) {
      if (!c.width || !c.height) continue;
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i] - rgb[0]) < 24 && Math.abs(px[i + 1] - rgb[1]) < 24 && Math.abs(px[i + 2] - rgb[2]) < 24 && px[i + 3] > 200) n++;
      }
    }
    return n;
  }, [id, rgb]);

test('monitoring dashboard: live charts and figures follow a scripted load', { timeout: 60_000 }, async () => {
  const pageErrors = [];
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript(cspProbe);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.setDefaultTimeout(15_000);

  // The contract, live: admin only, every field of the fixture with its type.
  const { token: adminToken } = await api('/api/v1/auth/login', { method: 'POST', body: { username: 'admin', password: ADMIN_PASSWORD } });
  const live = await api('/api/v1/monitoring/dashboard', { token: adminToken });
  assert.deepEqual(shapeDiff(FIXTURE, live), [], `the live dashboard follows the contract: ${JSON.stringify(live)}`);
  assert.ok(['healthy', 'degraded', 'unhealthy'].includes(live.health.status), live.health.status);
  const user = `dash${Date.now() % 1_000_000}`;
  await api('/api/v1/auth/register', { method: 'POST', body: { username: user, password: 'correct horse battery' } });
  const { token } = await api('/api/v1/auth/login', { method: 'POST', body: { username: user, password: 'correct horse battery' } });
  const asTrader = await fetch(base + '/api/v1/monitoring/dashboard', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(asTrader.status, 403, 'a trader may not read the dashboard');

  // Log in as the admin and open the dashboard from the admin menu.
  await page.goto(base + '/login');
  await page.fill('#username', 'admin');
  await page.fill('#password', ADMIN_PASSWORD);
  await page.click('[data-testid=login]');
  await page.click('[data-testid=nav-admin]');
  await page.click('[data-testid=admin-monitoring]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=monitoring]')?.dataset.samples) >= 2);
  assert.equal(new URL(page.url()).pathname, '/admin/monitoring');
  await page.locator('[data-testid=status-overall]', { hasText: /^(healthy|degraded|unhealthy)$/ }).waitFor();
  for (const check of ['database', 'disk', 'journal', 'read_model', 'sequencer']) {
    assert.match(await page.locator(`[data-testid=check-${check}]`).getAttribute('data-state'), /^(healthy|degraded|unhealthy)$/, check);
  }
  // The page's own WebSocket is one of the connections it shows.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=stat-ws_connections]')?.dataset.value) >= 1);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-01-open.png'), fullPage: true });

  const before = {
    orders: await stat(page, 'orders_total'),
    trades: await stat(page, 'trades_total'),
    requests: await stat(page, 'requests_total'),
    refusals: await stat(page, 'refusals_total'),
    points: Number(await page.locator('[data-testid=chart-trading]').getAttribute('data-points')),
  };

  // The load: market orders alternating sides (the demo maker quotes both), spread over
  // a few polls, then anonymous requests past the anonymous burst (429s).
  const markets = await api('/api/v1/markets');
  const market = markets.find((m) => m.symbol === 'BTC-USD') ?? markets[0];
  const qty = market.lot_size.includes('.') ? ticksFrom('0', market.lot_size, Math.ceil(0.001 / num(market.lot_size))) : '1';
  let loadDone = false;
  let filled = 0;
  const load = (async () => {
    for (let i = 0; i < ORDERS; i++) {
      const o = await api('/api/v1/orders', { method: 'POST', token, body: { market: market.symbol, side: i % 2 ? 'sell' : 'buy', type: 'market', quantity: qty } });
      if (num(o.filled_quantity) > 0) filled++;
      await new Promise((r) => setTimeout(r, 200));
    }
    loadDone = true;
  })();

  // Numbers move while the load runs: the page (polling, no reload) sees orders before it ends.
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=stat-orders_total]')?.dataset.value) >= n, before.orders + 5);
  assert.equal(loadDone, false, 'the page saw the orders while the load was still running');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-02-under-load.png'), fullPage: true });
  await load;
  assert.ok(filled >= ORDERS / 2, `most market orders filled against the demo maker (${filled}/${ORDERS})`);

  const statuses = await Promise.all(Array.from({ length: 80 }, () => fetch(base + '/api/v1/markets').then((r) => r.status)));
  const refused = statuses.filter((s) => s === 429).length;
  assert.ok(refused > 0, `the anonymous burst was refused at some point: ${statuses.join(',')}`);

  // Afterwards: at least what the script did, as counts.
  await page.waitForFunction(
    ([o, t, r]) => {
      const v = (k) => Number(document.querySelector(`[data-testid=stat-${k}]`)?.dataset.value);
      return v('orders_total') >= o && v('trades_total') >= t && v('refusals_total') >= r;
    },
    [before.orders + ORDERS, before.trades + filled, before.refusals + refused],
  );
  assert.ok((await stat(page, 'requests_total')) >= before.requests + ORDERS, 'requests counted');
  // The 1-minute rate of orders is up, in the legend and the chart.
  const ordersRate = num((await page.locator('[data-testid=legend-trading-orders] b').innerText()).split(' ')[0]);
  assert.ok(ordersRate > 0, `orders/s shown: ${ordersRate}`);
  // Real latencies, not a clamp: the requests above took well over a microsecond each.
  const p99Ms = num((await page.locator('[data-testid=legend-api-latency-p99] b').innerText()).split(' ')[0]);
  assert.ok(p99Ms > 0.01, `API p99 shown in ms: ${p99Ms}`);

  // The charts draw: points in every chart, and the lines' pixels on the canvases.
  for (const id of ['requests', 'api-latency', 'trading', 'ws-connections', 'ws-messages', 'read-model-lag', 'fsync', 'notifications', 'rate-limit']) {
    assert.ok(Number(await page.locator(`[data-testid=chart-${id}]`).getAttribute('data-points')) >= 2, `chart ${id} has points`);
  }
  assert.ok(Number(await page.locator('[data-testid=chart-trading]').getAttribute('data-points')) > before.points, 'the trading chart gained points');
  const orderPx = await linePixels(page, 'trading', ORDERS_RGB);
  const latencyPx = await linePixels(page, 'api-latency', P99_RGB);
  assert.ok(orderPx > 30, `the orders/s line is drawn (${orderPx} px)`);
  assert.ok(latencyPx > 30, `the API p99 line is drawn (${latencyPx} px)`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-03-after-load.png'), fullPage: true });

  assert.deepEqual(await cspViolationsOf(page), [], 'no CSP violation');
  assert.deepEqual(pageErrors, [], 'no uncaught page error');
  await ctx.close();
});
