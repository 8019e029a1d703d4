// End-to-end: the browser terminal against a real `bourse serve --demo`, driven through
// Debian's chromium by playwright-core. Run by e2e/browser/run.sh (which builds the web
// app and the server, and installs chromium when it is missing).
//
// One trader registers, sees the book, the chart and the trades tape fill (every panel
// inside the 1280×800 viewport), switches the chart interval, places a limit order, sees
// it in open orders, amends it, cancels it (and finds it in the order history), places a
// crossing order and sees the fill, the balance change and the fill toast, places a
// stop-market order, switches market, creates and revokes an API key and asks for a
// withdrawal; the same account at phone width has no horizontal overflow and can reach
// the order form. An admin credits the trader, verifies KYC, turns the kill switch on (the
// trader's next order is refused) and off, approves one withdrawal and rejects another
// (the funds come back), halts then resumes a market, creates one (the trader's market
// selector offers it) and sees the system healthy. Throughout, the page must make no
// request outside the server's origin and the browser must report no Content-Security-
// Policy violation (a `securitypolicyviolation` listener installed before any page script;
// a negative control shows it catches one). Screenshots of each step go to e2e/artifacts/.
//
// The demo bots trade at random: every step waits for a condition (with a timeout), never
// for a fixed time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  apiAt, ARTIFACTS, cspProbe, cspViolationsOf, launchChromium, num, startServer, ticksFrom,
} from './harness.mjs';

const ADMIN_PASSWORD = 'admin-e2e-password';
const USER = `trader${Date.now() % 1_000_000}`;
const PASSWORD = 'correct horse battery';

let stopServer;
let base;
let api;
let browser;
const offOrigin = [];
const cspConsole = [];
const pageErrors = [];
let shot = 0;

async function snap(page, name, opts = {}) {
  shot += 1;
  await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`), ...opts });
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
    if (/Content Security Policy/i.test(m.text())) cspConsole.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
}

/** A browser context with the CSP probe in every page. */
async function newContext(opts) {
  const ctx = await browser.newContext(opts);
  await ctx.addInitScript(cspProbe);
  return ctx;
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Layout ------------------------------------------------------------------------------

async function boxOf(locator, what) {
  const b = await locator.boundingBox();
  assert.ok(b, `${what} is rendered`);
  return b;
}

/** `inner` is a non-empty box lying inside `outer` (half a pixel of rounding allowed). */
function assertInside(inner, outer, what) {
  const e = 0.5;
  assert.ok(inner.width > 0 && inner.height > 0, `${what}: empty box ${JSON.stringify(inner)}`);
  assert.ok(
    inner.x >= outer.x - e && inner.y >= outer.y - e &&
      inner.x + inner.width <= outer.x + outer.width + e && inner.y + inner.height <= outer.y + outer.height + e,
    `${what}: ${JSON.stringify(inner)} is not inside ${JSON.stringify(outer)}`,
  );
}

const overlap = (a, b) =>
  a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;

/**
 * "A terminal a trader would recognise": each panel lies inside the viewport, no panel
 * covers another, and each shows its working part inside its own box (the best ask and
 * bid, not just the ladder; the place button, not just the form).
 */
async function assertTerminalLayout(page) {
  const vp = { x: 0, y: 0, ...page.viewportSize() };
  // [selector, which match]: the best ask is the last ask row, the best bid the first bid.
  const panels = {
    chart: [['[data-testid=candle-chart] canvas', 0]],
    book: [['[data-testid=book-ask]', -1], ['[data-testid=book-bid]', 0]],
    trades: [['[data-testid=trades-tape] tbody tr', 0]],
    entry: [['#price', 0], ['#qty', 0], ['[data-testid=place-order]', 0]],
    orders: [['[data-testid=tab-open]', 0], ['[data-testid=tab-history]', 0]],
    balances: [['[data-testid=avail-USD]', 0]],
  };
  // One synchronous read of the whole layout: the live book re-renders its rows all the
  // time, so boxes read one by one could come from different frames (or detached rows).
  const rects = await page.evaluate((panels) => {
    const rect = (el) => {
      if (!el || !el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) return null;
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const out = {};
    for (const [name, parts] of Object.entries(panels)) {
      out[name] = {
        panel: rect(document.querySelector(`[data-testid=panel-${name}]`)),
        parts: parts.map(([sel, i]) => {
          const all = document.querySelectorAll(sel);
          return [sel, rect(all[i < 0 ? all.length + i : i])];
        }),
      };
    }
    return out;
  }, panels);
  const boxes = [];
  for (const [name, { panel, parts }] of Object.entries(rects)) {
    assert.ok(panel, `panel ${name} is rendered and visible`);
    assertInside(panel, vp, `panel ${name} in the ${vp.width}×${vp.height} viewport`);
    for (const [sel, box] of parts) {
      assert.ok(box, `${sel} (${name}) is rendered and visible`);
      assertInside(box, panel, `${sel} inside panel ${name}`);
    }
    for (const [other, box] of boxes) assert.ok(!overlap(panel, box), `panels ${name} and ${other} overlap`);
    boxes.push([name, panel]);
  }
}

before(async () => {
  // Only this suite's screenshots: e2e/artifacts/ also holds other tools' reports.
  mkdirSync(ARTIFACTS, { recursive: true });
  // (Other suites name theirs `<suite>-…png`.)
  for (const f of readdirSync(ARTIFACTS)) if (/^\d+-.*\.png$/.test(f)) rmSync(join(ARTIFACTS, f));
  ({ base, stop: stopServer } = await startServer(ADMIN_PASSWORD));
  api = apiAt(base);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  stopServer?.();
});

test('terminal: layout, trade, amend, cancel, fill, stop, markets, keys; admin: users, withdrawals, markets, status', { timeout: 300_000 }, async () => {
  const markets = await api('/api/v1/markets');
  const market = markets.find((m) => m.symbol === 'BTC-USD') ?? markets[0];
  assert.ok(market, 'the demo server has a market');
  const other = markets.find((m) => m.symbol !== market.symbol);
  assert.ok(other, 'the demo server has a second market');
  const checked = []; // every page whose CSP probe is read at the end

  const ctx = await newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page);
  checked.push(page);
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
  const { token } = await api('/api/v1/auth/login', { method: 'POST', body: { username: USER, password: PASSWORD } });

  // The book, the chart and the tape fill (the demo market maker quotes, the taker trades).
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=book-ask]').length > 0 && document.querySelectorAll('[data-testid=book-bid]').length > 0,
  );
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=candle-chart]')?.getAttribute('data-candles') ?? 0) > 0, null, { timeout: 60_000 });
  await page.locator('[data-testid=trades-tape] tbody tr').first().waitFor({ timeout: 60_000 });
  await page.waitForSelector('[data-testid=balances] [data-testid=avail-USD]');
  // Done when: chart, book, trades, order entry, orders and balances all visible at 1280×800.
  await assertTerminalLayout(page);
  await snap(page, 'terminal-live');

  // The chart switches to 5-minute candles: read again from the API, on 5-minute bounds.
  const fiveMinutes = page.waitForResponse((r) => r.url().includes(`/markets/${market.symbol}/candles?interval=5m`) && r.ok());
  await page.click('[data-testid=interval-5m]');
  await fiveMinutes;
  await page.waitForFunction(() => {
    const chart = document.querySelector('[data-testid=candle-chart]');
    const last = Number(chart?.getAttribute('data-last'));
    return document.querySelector('[data-testid=panel-chart]')?.getAttribute('data-interval') === '5m' &&
      Number(chart?.getAttribute('data-candles')) > 0 && last > 0 && last % 300_000 === 0;
  });
  await snap(page, 'chart-5m');

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
  const restingId = await row.first().getAttribute('data-order-id');
  assert.ok(restingId, 'the open order row names its order');
  // An open order is shown inside the orders panel, inside the viewport.
  assertInside(await boxOf(row.first(), 'open order row'), await boxOf(page.locator('[data-testid=panel-orders]'), 'orders panel'), 'open order row');
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

  // Cancel it; the order history lists it as canceled.
  await row.first().getByRole('button', { name: 'Cancel' }).click();
  await page.waitForSelector('text=No open orders');
  await snap(page, 'canceled');
  await page.click('[data-testid=tab-history]');
  const closed = page.locator(`[data-testid=order-history] tr[data-order-id="${restingId}"]`);
  await closed.waitFor();
  assert.match(await closed.innerText(), /canceled/);
  assert.equal(num(await closed.locator('td').nth(4).innerText()), num(amended), 'history shows the amended price');
  await snap(page, 'order-history');
  await page.click('[data-testid=tab-open]');

  // A crossing buy 1 % above the best ask: it fills.
  const baseBefore = await page.locator(`[data-testid=avail-${market.base}]`).innerText().catch(() => '0');
  const usdBefore = await page.locator('[data-testid=avail-USD]').innerText();
  const askNow = (await api(`/api/v1/markets/${market.symbol}/book?depth=1`)).asks[0][0];
  const cross = ticksFrom(askNow, market.tick_size, Math.round(num(askNow) * 0.01 / num(market.tick_size)));
  await page.fill('#price', cross);
  await page.fill('#qty', qty);
  await page.click('[data-testid=place-order]');
  // The fill notification ("Filled: BUY 0.01 BTC-USD"), not the order form's own echo
  // ("Buy limit order filled"), which says "filled" too.
  const fillTitle = new RegExp(`^Filled: BUY \\d+(\\.\\d+)? ${escapeRe(market.symbol)}$`);
  await page.locator('[data-testid=toast] .t-title', { hasText: fillTitle }).first().waitFor();
  await page.waitForFunction(
    ([asset, b, u]) => {
      const bt = document.querySelector(`[data-testid=avail-${asset}]`)?.textContent;
      const ut = document.querySelector('[data-testid=avail-USD]')?.textContent;
      return bt !== b && ut !== u;
    },
    [market.base, baseBefore, usdBefore],
  );
  const usdAfter = await page.locator('[data-testid=avail-USD]').innerText();
  assert.ok(num(usdAfter) < num(usdBefore), `USD went down: ${usdBefore} -> ${usdAfter}`);
  await snap(page, 'filled-toast-and-balance');
  await page.click('[data-testid=tab-fills]');
  await page.locator('[data-testid=fills] tbody tr').first().waitFor();
  await snap(page, 'fills');
  await page.click('[data-testid=tab-open]');
  await page.click('[data-testid=tab-depth]');
  await snap(page, 'depth-chart');
  // The inbox lists the notifications (the fill among them).
  await page.click('[data-testid=bell]');
  await page.locator('[data-testid=inbox] .inbox-item', { hasText: 'filled' }).first().waitFor();
  await snap(page, 'inbox');
  await page.click('[data-testid=bell]');

  // A stop-market buy 20 % above the market: it waits in open orders, untriggered.
  await page.waitForSelector('text=No open orders'); // the crossing order is done
  const askForStop = (await api(`/api/v1/markets/${market.symbol}/book?depth=1`)).asks[0][0];
  const stop = ticksFrom(askForStop, market.tick_size, Math.round(num(askForStop) * 0.2 / num(market.tick_size)));
  await page.click('[data-testid=type-stop_market]');
  await page.fill('#stop', stop);
  await page.fill('#qty', qty);
  await page.click('[data-testid=place-order]');
  const stopRow = page.locator('[data-testid=open-orders] tbody tr', { hasText: 'stop market' });
  await stopRow.waitFor();
  const stopType = await stopRow.locator('[data-testid=order-type]').innerText();
  assert.equal(num(stopType.split('≥')[1]), num(stop), `stop price shown: ${stopType}`);
  await snap(page, 'stop-order');
  await page.click('[data-testid=type-limit]');

  // Another market: the book and the last price are that market's.
  await page.selectOption('[data-testid=market-select]', other.symbol);
  await page.waitForURL(`**/trade/${other.symbol}`);
  await page.locator('[data-testid=order-book] .ladder-head', { hasText: `Size (${other.base})` }).waitFor();
  const otherBook = await api(`/api/v1/markets/${other.symbol}/book?depth=1`);
  const otherMid = (num(otherBook.bids[0][0]) + num(otherBook.asks[0][0])) / 2;
  await page.waitForFunction(
    (mid) => {
      const n = (el) => Number(el?.textContent.replace(/,/g, ''));
      const near = (v) => Math.abs(v - mid) < mid * 0.1;
      const bid = document.querySelector('[data-testid=book-bid] span');
      return near(n(bid)) && near(n(document.querySelector('[data-testid=last-price]')));
    },
    otherMid,
  );
  await snap(page, 'other-market');
  await page.selectOption('[data-testid=market-select]', market.symbol);
  await page.locator('[data-testid=order-book] .ladder-head', { hasText: `Size (${market.base})` }).waitFor();

  // Account: an API key (secret shown once), revoked again; a withdrawal request.
  await page.click('nav >> text=Account');
  await page.waitForSelector('[data-testid=profile]');
  await page.fill('#key-label', 'e2e bot');
  await page.click('text=Create key');
  await page.waitForSelector('[data-testid=api-secret]');
  const key = await page.locator('[data-testid=api-key]').innerText();
  const keyRow = page.locator(`[data-testid=api-key-list] tr[data-key="${key}"]`);
  await keyRow.waitFor();
  await snap(page, 'api-key-created');
  await keyRow.getByRole('button', { name: 'Revoke' }).click();
  await keyRow.waitFor({ state: 'detached' });
  const keysLeft = await api('/api/v1/api-keys', { token });
  assert.ok(!JSON.stringify(keysLeft).includes(key), `the key is gone: ${JSON.stringify(keysLeft)}`);
  await page.selectOption('#wd-asset', 'USD');
  await page.fill('#wd-amount', '100');
  await page.fill('#wd-address', 'bank:E2E-TEST-1');
  await page.click('[data-testid=withdraw]');
  await page.locator('[data-testid=my-withdrawals] tr', { hasText: 'pending' }).first().waitFor();
  await snap(page, 'account-key-revoked-and-withdrawal');
  await page.click('nav >> text=Trade');
  await page.waitForSelector('[data-testid=order-book]');

  // Phone width, same account: nothing wider than the screen; the order form is reachable.
  const phone = await newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, storageState: await ctx.storageState() });
  const pp = await phone.newPage();
  watch(pp);
  pp.setDefaultTimeout(30_000);
  await pp.goto(base + '/');
  await pp.waitForSelector('[data-testid=book-ask]');
  await pp.waitForSelector('[data-testid=place-order]');
  const width = await pp.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
  assert.ok(width <= 390 + 1, `no horizontal overflow at 390 px: the page is ${width} px wide`);
  // Nor inside the stacked terminal (a scroll container of its own): every panel fits the
  // screen's width. (Wide tables may scroll inside their panel.)
  const phoneLayout = await pp.evaluate(() => {
    const t = document.querySelector('.terminal');
    return {
      terminal: { scroll: t.scrollWidth, client: t.clientWidth },
      panels: [...document.querySelectorAll('[data-testid^=panel-]')].map((el) => {
        const r = el.getBoundingClientRect();
        return { name: el.dataset.testid, left: r.left, right: r.right };
      }),
    };
  });
  assert.ok(phoneLayout.terminal.scroll <= phoneLayout.terminal.client + 1, `terminal overflows sideways: ${JSON.stringify(phoneLayout.terminal)}`);
  assert.equal(phoneLayout.panels.length, 6, 'six panels at phone width');
  for (const p of phoneLayout.panels) assert.ok(p.left >= -0.5 && p.right <= 390.5, `${p.name} fits 390 px: ${JSON.stringify(p)}`);
  const placeOnPhone = pp.locator('[data-testid=place-order]');
  await placeOnPhone.scrollIntoViewIfNeeded();
  assertInside(await boxOf(placeOnPhone, 'place button on the phone'), { x: 0, y: 0, width: 390, height: 844 }, 'place button on the phone');
  await pp.locator('#qty').fill(qty);
  await placeOnPhone.click({ trial: true }); // visible, enabled, not covered: a tap would place it
  await snap(pp, 'phone');
  await snap(pp, 'phone-full', { fullPage: true });
  assert.deepEqual(await cspViolationsOf(pp), [], 'CSP violations at phone width');
  await phone.close();

  // The admin: users.
  const adminCtx = await newContext({ viewport: { width: 1280, height: 800 } });
  const admin = await adminCtx.newPage();
  watch(admin);
  checked.push(admin);
  admin.setDefaultTimeout(30_000);
  await admin.goto(base + '/login');
  await admin.fill('#username', 'admin');
  await admin.fill('#password', ADMIN_PASSWORD);
  await admin.click('[data-testid=login]');
  await admin.click('[data-testid=nav-admin]');
  await admin.waitForSelector(`[data-testid=admin-users] tr[data-username="${USER}"]`);

  // Credit the trader; the trader's terminal shows it.
  const usdBeforeCredit = (await api('/api/v1/balances', { token })).find((b) => b.asset === 'USD');
  await admin.fill('#dep-user', USER);
  await admin.fill('#dep-asset', 'USD');
  await admin.fill('#dep-amount', '1234');
  await admin.click('[data-testid=deposit]');
  await admin.locator('[data-testid=toast]', { hasText: `Credited 1234 USD to ${USER}` }).waitFor();
  await snap(admin, 'admin-deposit');
  await page.waitForFunction(
    (before) => Number(document.querySelector('[data-testid=avail-USD]')?.textContent.replace(/,/g, '')) >= before + 1234 - 0.000001,
    num(usdBeforeCredit.available),
  );

  // KYC: unverified → verified.
  const kyc = admin.locator(`[data-testid="kyc-${USER}"] .pill`);
  assert.equal(await kyc.innerText(), 'unverified');
  await admin.click(`[data-testid="kyc-${USER}"]`);
  await admin.locator(`[data-testid="kyc-${USER}"] .pill.ok`, { hasText: /^verified$/ }).waitFor();
  assert.equal((await api(`/api/v1/admin/users/${USER}`, { token: await adminToken() })).kyc_verified, true);

  // Kill switch on: the trader's stop order is canceled and the next order refused.
  const kill = admin.locator(`[data-testid="kill-${USER}"] .pill`);
  assert.equal(await kill.innerText(), 'off');
  await admin.click(`[data-testid="kill-${USER}"]`);
  await admin.locator(`[data-testid="kill-${USER}"] .pill.bad`, { hasText: /^ON$/ }).waitFor();
  await snap(admin, 'admin-kyc-and-kill-switch');
  await page.waitForSelector('text=No open orders');
  const bidNow = (await api(`/api/v1/markets/${market.symbol}/book?depth=1`)).bids[0][0];
  await page.fill('#price', ticksFrom(bidNow, market.tick_size, -Math.round(num(bidNow) * 0.01 / num(market.tick_size))));
  await page.fill('#qty', qty);
  await page.click('[data-testid=place-order]');
  await page.locator('[data-testid=order-error]', { hasText: 'KILL_SWITCH' }).waitFor();
  await snap(page, 'trader-kill-switch-refused');
  assert.equal(await page.locator('[data-testid=open-orders] tbody tr').count(), 0, 'nothing was placed');
  await admin.click(`[data-testid="kill-${USER}"]`);
  await admin.locator(`[data-testid="kill-${USER}"] .pill:not(.bad)`, { hasText: /^off$/ }).waitFor();

  // Withdrawals: approve the trader's request.
  await admin.click('[data-testid=admin-withdrawals]');
  const wd = admin.locator('[data-testid=admin-withdrawals] tr', { hasText: USER });
  await wd.first().waitFor();
  await snap(admin, 'admin-withdrawals');
  await wd.first().getByRole('button', { name: 'Approve' }).click();
  await admin.locator('[data-testid=toast]', { hasText: 'approved' }).first().waitFor();
  // Reject a second one: the held funds are available again, to the minor unit.
  const usdBeforeWd = (await api('/api/v1/balances', { token })).find((b) => b.asset === 'USD').available;
  const second = await api('/api/v1/withdrawals', { method: 'POST', token, body: { asset: 'USD', amount: '55', address: 'bank:E2E-TEST-2' } });
  // (Float arithmetic in the browser, so a tolerance far below the minor unit.)
  await page.waitForFunction((v) => Math.abs(Number(document.querySelector('[data-testid=avail-USD]')?.textContent.replace(/,/g, '')) - (v - 55)) < 1e-7, num(usdBeforeWd));
  const rejectRow = admin.locator(`[data-testid=admin-withdrawals] tr[data-id="${second.id}"]`);
  await rejectRow.waitFor(); // the list refreshes every few seconds
  await rejectRow.getByRole('button', { name: 'Reject' }).click();
  await admin.locator('[data-testid=toast]', { hasText: `Withdrawal #${second.id} rejected` }).waitFor();
  await rejectRow.waitFor({ state: 'detached' });
  await page.waitForFunction((v) => Number(document.querySelector('[data-testid=avail-USD]')?.textContent.replace(/,/g, '')) === v, num(usdBeforeWd));
  assert.equal((await api('/api/v1/balances', { token })).find((b) => b.asset === 'USD').available, usdBeforeWd);
  await snap(page, 'trader-withdrawal-rejected');

  // Markets: halt and resume; the trader sees both.
  await admin.click('[data-testid=admin-markets]');
  await admin.click(`[data-testid=halt-${market.symbol}]`);
  await admin.waitForSelector(`[data-testid=resume-${market.symbol}]`);
  await snap(admin, 'admin-halted');
  await page.waitForSelector('[data-testid=halted]');
  await snap(page, 'trader-sees-halt');
  await admin.click(`[data-testid=resume-${market.symbol}]`);
  await admin.waitForSelector(`[data-testid=halt-${market.symbol}]`);
  await page.waitForSelector('[data-testid=halted]', { state: 'detached' });

  // Create a market; the trader's selector offers it and it opens (an empty book).
  await admin.fill('#mk-base', 'TST');
  await admin.fill('#mk-quote', 'USD');
  await admin.getByRole('button', { name: 'Create', exact: true }).click();
  await admin.locator('[data-testid=toast]', { hasText: 'Market TST-USD created' }).waitFor();
  await admin.waitForSelector('[data-testid=admin-markets] tr[data-symbol="TST-USD"]');
  await snap(admin, 'admin-market-created');
  await page.waitForSelector('[data-testid=market-select] option[value="TST-USD"]', { state: 'attached' });
  await page.selectOption('[data-testid=market-select]', 'TST-USD');
  await page.locator('[data-testid=order-book] .ladder-head', { hasText: 'Size (TST)' }).waitFor();
  await snap(page, 'trader-new-market');
  await page.selectOption('[data-testid=market-select]', market.symbol);
  await page.locator('[data-testid=order-book] .ladder-head', { hasText: `Size (${market.base})` }).waitFor();

  // System status: healthy, with the fields of /health.
  const health = await (await fetch(base + '/health')).json();
  assert.equal(health.status, 'healthy');
  await admin.click('[data-testid=admin-status]');
  await admin.locator('[data-testid=health-status].ok', { hasText: /^healthy$/ }).waitFor();
  assert.equal(await admin.locator('[data-testid=health-journal]').innerText(), String(health.journal));
  assert.equal(await admin.locator('[data-testid=health-follower]').innerText(), String(health.follower));
  assert.ok(num(await admin.locator('[data-testid=health-committed_seq]').innerText()) >= health.committed_seq, 'committed sequence shown');
  await snap(admin, 'admin-status');
  await snap(page, 'trader-final');

  assert.deepEqual(offOrigin, [], 'requests outside the server origin');
  for (const p of checked) assert.deepEqual(await cspViolationsOf(p), [], `CSP violations in ${p.url()}`);
  assert.deepEqual(cspConsole, [], 'Content-Security-Policy messages on the console');
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
  await adminCtx.close();
  await ctx.close();
});

let adminTokenCache;
async function adminToken() {
  adminTokenCache ??= (await api('/api/v1/auth/login', { method: 'POST', body: { username: 'admin', password: ADMIN_PASSWORD } })).token;
  return adminTokenCache;
}

test('the CSP probe catches a violation (negative control)', { timeout: 60_000 }, async () => {
  const ctx = await newContext({ viewport: { width: 800, height: 600 } });
  const page = await ctx.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=order-book]');
  assert.deepEqual(await cspViolationsOf(page), [], 'the terminal itself causes none');
  // An injected inline script, as an XSS would add it: blocked and reported.
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.body.append(s);
  });
  await page.waitForFunction(() => window.__cspViolations.length >= 1);
  assert.equal(await page.evaluate(() => window.__inlineRan ?? false), false, 'the inline script did not run');
  // An inline event handler (the other classic injection): blocked and reported too.
  await page.evaluate(() => {
    const b = document.createElement('button');
    b.id = 'injected';
    b.setAttribute('onclick', 'window.__handlerRan = true');
    document.body.append(b);
  });
  await page.click('#injected', { force: true });
  await page.waitForFunction(() => window.__cspViolations.length >= 2);
  assert.equal(await page.evaluate(() => window.__handlerRan ?? false), false, 'the inline handler did not run');
  const v = await cspViolationsOf(page);
  assert.match(v[0].directive, /^script-src/, JSON.stringify(v));
  assert.equal(v[0].blocked, 'inline', JSON.stringify(v));
  assert.match(v[1].directive, /^script-src/, JSON.stringify(v));
  await ctx.close();
});

test('book: a lost diff is detected and the book resyncs from a fresh snapshot', { timeout: 90_000 }, async () => {
  const ctx = await newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page);
  const sent = [];
  let armed = false;
  let dropped = null;
  // Sit between the page and the server; once armed, drop the next book update.
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      sent.push(JSON.parse(String(m)));
      server.send(m);
    });
    server.onMessage((m) => {
      const msg = JSON.parse(String(m));
      if (armed && dropped === null && msg.channel?.startsWith('book.') && msg.type === 'update') {
        dropped = msg.sequence;
        return;
      }
      ws.send(m);
    });
  });
  // Arm only once the page's first REST book is in and the socket's diffs are applied on
  // top of it: a REST book read after the lost diff would already contain it (no gap to
  // see, and rightly so).
  const restBook = page.waitForResponse((r) => /\/book\?depth=/.test(r.url()) && r.ok());
  await page.goto(base + '/');
  const restSeq = (await (await restBook).json()).sequence;
  await page.waitForFunction(
    (s) => Number(document.querySelector('[data-testid=order-book]')?.getAttribute('data-sequence')) > s,
    restSeq,
    { timeout: 60_000 },
  );
  armed = true;
  await page.locator('text=/resync ×\\d+/').waitFor({ timeout: 60_000 });
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

test('unknown API paths and missing files are JSON 404s; client routes get the app', async () => {
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
  // A missing file is the API's JSON 404, not a page and not plain text.
  const missing = await fetch(base + '/assets/nope-123.js');
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /application\/json/);
  assert.equal((await missing.json()).error.code, 'NOT_FOUND');
});

// /docs is Swagger UI served from the binary under the same security headers as every
// response (crates/http/src/security/headers.rs): it must render the document and run
// a call ("Try it out") without one CSP violation or a request off this origin.
test('the API docs work under their Content-Security-Policy', { timeout: 60_000 }, async () => {
  const ctx = await newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page);
  const res = await page.goto(base + '/docs/');
  assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  assert.equal(res.headers()['x-frame-options'], 'DENY');
  await page.locator('.swagger-ui .info .title', { hasText: 'Bourse API' }).waitFor({ timeout: 30_000 });
  // Open the health operation and run it from the page.
  await page.locator('#operations-operations-health .opblock-summary').first().click();
  await page.locator('#operations-operations-health button.try-out__btn').click();
  await page.locator('#operations-operations-health button.execute').click();
  await page.locator('#operations-operations-health .responses-table .response-col_status', { hasText: '200' }).first().waitFor({ timeout: 15_000 });
  await snap(page, 'api-docs');
  assert.deepEqual(await cspViolationsOf(page), [], 'no CSP violation on /docs');
  assert.deepEqual(cspConsole, [], 'no CSP message in the console');
  assert.deepEqual(offOrigin, [], 'no request off this origin');
  assert.deepEqual(pageErrors, []);
  await ctx.close();
});
