import { describe, expect, it } from 'vitest';
import {
  CHARTS, checkFigure, checkState, fmt, linesOf, pointsDrawn, pushSample, secondOf, STATS, WINDOW_MS, type Dashboard,
} from './monitoring';
import { DASHBOARD, later } from './monitoring.fixture';

const times = (s: Dashboard[]) => s.map((d) => d.time_ms - DASHBOARD.time_ms);
const chart = (id: string) => CHARTS.find((c) => c.id === id)!;
/** Polls every 2 s from the fixture's time, `n` of them. */
const polls = (n: number) => Array.from({ length: n }, (_, i) => later(2 * i, (d) => { d.api.requests_per_s = i; }));
const fill = (ds: Dashboard[], windowMs?: number, max?: number) => ds.reduce<Dashboard[]>((s, d) => pushSample(s, d, windowMs, max), []);

describe('pushSample (the 5-minute window of polls)', () => {
  it('appends polls in time order', () => {
    expect(times(fill(polls(4)))).toEqual([0, 2000, 4000, 6000]);
  });

  it('keeps five minutes: older polls fall off as new ones come', () => {
    const s = fill(polls(200)); // 398 s of polls
    expect(s[s.length - 1].time_ms - s[0].time_ms).toBe(WINDOW_MS);
    expect(s.length).toBe(WINDOW_MS / 2000 + 1);
    expect(s[s.length - 1].api.requests_per_s).toBe(199);
  });

  it('replaces the newest poll with one from the same server second', () => {
    const a = later(10);
    const b = later(10.9, (d) => { d.api.requests_total = 9999; });
    const s = fill([DASHBOARD, a, b]);
    expect(times(s)).toEqual([0, 10_900]);
    expect(s[1].api.requests_total).toBe(9999);
  });

  it('starts a new window when the server clock goes back (a chart cannot draw that)', () => {
    const s = fill([DASHBOARD, later(2), later(4), later(-60)]);
    expect(times(s)).toEqual([-60_000]);
  });

  it('holds at most `max` polls whatever the clock does', () => {
    const s = fill(polls(50), WINDOW_MS, 10);
    expect(s.length).toBe(10);
    expect(s[9].api.requests_per_s).toBe(49);
  });

  it('does not change the window it was given (React state)', () => {
    const before = fill(polls(3));
    const copy = [...before];
    pushSample(before, later(100));
    expect(before).toEqual(copy);
  });
});

describe('linesOf (what a chart draws)', () => {
  it('plots the 1-minute p50/p95/p99 of API latency at the server second of each poll', () => {
    const s = fill([DASHBOARD, later(2, (d) => { d.api.latency_ms['1m'].p99 = 20; })]);
    const lines = linesOf(chart('api-latency'), s);
    const t0 = secondOf(DASHBOARD.time_ms);
    expect(lines.map((l) => l.spec.key)).toEqual(['p50', 'p95', 'p99']);
    expect(lines[2].points).toEqual([{ time: t0, value: 9.75 }, { time: t0 + 2, value: 20 }]);
    expect(lines[0].last).toBe(1.2);
    expect(pointsDrawn(lines)).toBe(2);
  });

  it('leaves a gap, not a zero, for a percentile of a window with nothing measured', () => {
    const s = fill([DASHBOARD, later(2, (d) => { d.journal.fsync_latency_ms['1m'] = { count: 0, p50: 0, p95: 0, p99: 0, max: 0 }; })]);
    const lines = linesOf(chart('fsync'), s);
    expect(lines[0].points[1]).toEqual({ time: secondOf(DASHBOARD.time_ms) + 2 });
    expect(lines[0].last).toBeNull();
    expect(pointsDrawn(lines)).toBe(1);
  });

  it('plots every figure the issue names from the right field', () => {
    const last = (id: string) => linesOf(chart(id), [DASHBOARD]).map((l) => [l.spec.key, l.last]);
    expect(last('requests')).toEqual([['rate', 12.5]]);
    expect(last('trading')).toEqual([['orders', 7.25], ['trades', 3.5]]);
    expect(last('ws-connections')).toEqual([['connections', 3]]);
    expect(last('ws-messages')).toEqual([['rate', 44.5]]);
    expect(last('read-model-lag')).toEqual([['lag', 3]]);
    expect(last('fsync')).toEqual([['p50', 0.8], ['p95', 2.5], ['p99', 4.2]]);
    expect(last('notifications')).toEqual([['queued', 2], ['dead', 1]]);
    expect(last('rate-limit')).toEqual([['rate', 0.1]]);
  });

  it('treats a missing or non-numeric figure as a gap', () => {
    const d = later(0, (x) => {
      delete (x as Partial<Dashboard>).websocket;
      (x.api as { requests_per_s: unknown }).requests_per_s = 'fast';
    });
    expect(linesOf(chart('ws-connections'), [d])[0].points).toEqual([{ time: secondOf(d.time_ms) }]);
    expect(linesOf(chart('requests'), [d])[0].last).toBeNull();
    expect(STATS.find((s) => s.key === 'ws_connections')!.value(d)).toBeNull();
  });
});

describe('health checks', () => {
  it('grades a failing journal or sequencer unhealthy and any other failing check degraded', () => {
    expect(checkState('journal', { ok: false, detail: 'unwritable' })).toBe('unhealthy');
    expect(checkState('sequencer', { ok: false })).toBe('unhealthy');
    expect(checkState('database', { ok: false, detail: 'timeout' })).toBe('degraded');
    expect(checkState('disk', DASHBOARD.health.checks.disk)).toBe('degraded');
    expect(checkState('journal', { ok: true })).toBe('healthy');
  });

  it('takes a grade the server gives', () => {
    expect(checkState('database', { ok: false, status: 'unhealthy' })).toBe('unhealthy');
  });

  it('shows the figure a check carries', () => {
    const c = DASHBOARD.health.checks;
    expect(checkFigure(c.database)).toBe('0.41 ms');
    expect(checkFigure(c.read_model)).toBe('lag 3');
    expect(checkFigure(c.disk)).toBe('52.0 MB free');
    expect(checkFigure(c.journal)).toBeNull();
  });
});

describe('fmt', () => {
  it('gives latencies the decimals they need and counts none', () => {
    expect(fmt(0.412)).toBe('0.41');
    expect(fmt(12.34)).toBe('12.3');
    expect(fmt(1234.5)).toBe('1,235');
    expect(fmt(0)).toBe('0');
    expect(fmt(1520, true)).toBe('1,520');
    expect(fmt(Number.NaN)).toBe('—');
  });
});
