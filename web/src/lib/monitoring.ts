// The operator dashboard's data: the wire shape of `GET /api/v1/monitoring/dashboard`
// (/work/notes/dashboard-contract.md, also in the OpenAPI document), the client-side
// window of polls the charts draw, and what each chart plots.
//
// Rules:
// - Latencies are milliseconds, rates per second over the server's 1-minute window and
//   totals counts since start (or the last metrics reset), all plain JSON numbers: these
//   are operational figures, never money.
// - The window holds at most one poll per wall-clock second of the *server* (`time_ms`),
//   in ascending order: lightweight-charts needs strictly ascending times, and the
//   server's clock is the one the figures were taken by.
// - A figure that does not exist for a poll (a percentile of an empty window, a total
//   missing from an older server) is a gap in its line, never a zero.

/** Latency figures of one window, in milliseconds. */
export interface Lat { count: number; p50: number; p95: number; p99: number; max: number }
/** Sliding windows of one latency histogram. */
export interface Win { '1m': Lat; '5m': Lat; '1h': Lat }

export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

/** One check of `/health` (`checks.<name>`). Fields that do not apply are absent. */
export interface HealthCheck {
  ok: boolean;
  /** Why it fails, in fixed words. */
  detail?: string;
  /** A server may grade a check itself; otherwise `checkState` derives it. */
  status?: HealthState;
  latency_us?: number;
  lag?: number;
  free_bytes?: number;
  min_free_bytes?: number;
}

export interface Dashboard {
  time_ms: number;
  health: { status: HealthState; checks: Record<string, HealthCheck> };
  api: { requests_total: number; requests_per_s: number; errors_total: number; latency_ms: Win };
  trading: {
    orders_total: number; orders_per_s: number; rejects_total: number;
    trades_total: number; trades_per_s: number; cancels_total: number; match_latency_ms: Win;
  };
  websocket: {
    connections: number; subscriptions: number; messages_sent_total: number;
    messages_per_s: number; dropped_total: number; slow_consumers_closed_total: number;
  };
  database: { read_model_lag: number; query_latency_ms: Win };
  journal: { committed_seq: number; fsync_latency_ms: Win; bytes_written_total: number };
  notifications: { queued: number; sent_total: number; dead_lettered_total: number };
  rate_limit: { refusals_total: number; refusals_per_s: number };
}

export const POLL_MS = 2_000;
/** How much history the charts keep (client-side only; a reload starts afresh). */
export const WINDOW_MS = 5 * 60_000;
/** A bound on the window whatever the server's clock does (5 min at 1 poll/s + slack). */
export const MAX_SAMPLES = 320;

/**
 * `samples` with `d` added: a poll in the same server second as the newest one replaces
 * it, polls older than `windowMs` before `d` fall off, and a poll from before the newest
 * one (the server's clock went back, or another server answered) starts a new window,
 * since a chart cannot draw time running backwards.
 */
export function pushSample(samples: readonly Dashboard[], d: Dashboard, windowMs = WINDOW_MS, max = MAX_SAMPLES): Dashboard[] {
  const last = samples[samples.length - 1];
  let out: Dashboard[];
  if (!last) out = [d];
  else if (d.time_ms < last.time_ms) out = [d];
  else if (secondOf(d.time_ms) === secondOf(last.time_ms)) out = [...samples.slice(0, -1), d];
  else out = [...samples, d];
  let from = 0;
  while (from < out.length - 1 && (d.time_ms - out[from].time_ms > windowMs || out.length - from > max)) from++;
  return from ? out.slice(from) : out;
}

export const secondOf = (ms: number) => Math.floor(ms / 1000);

/** How healthy one check is: its own `status` when the server grades it, else from `ok`. */
export function checkState(name: string, c: HealthCheck): HealthState {
  if (c.status === 'healthy' || c.status === 'degraded' || c.status === 'unhealthy') return c.status;
  if (c.ok) return 'healthy';
  // As GET /health grades the whole: a journal that cannot be written or a stopped
  // sequencer halts trading; any other failing dependency leaves the server serving.
  return UNHEALTHY_WHEN_FAILING.has(name) ? 'unhealthy' : 'degraded';
}
const UNHEALTHY_WHEN_FAILING = new Set(['journal', 'sequencer']);

/** The pill class of a state (styles.css: ok / warn / bad). */
export const pillOf = (s: string) => (s === 'healthy' ? 'ok' : s === 'degraded' ? 'warn' : 'bad');

/** The figure a check carries, for the status strip ("0.41 ms", "lag 3", "48.4 GB free"). */
export function checkFigure(c: HealthCheck): string | null {
  if (typeof c.latency_us === 'number') return `${fmt(c.latency_us / 1000)} ms`;
  if (typeof c.lag === 'number') return `lag ${fmt(c.lag, true)}`;
  if (typeof c.free_bytes === 'number') return `${fmtBytes(c.free_bytes)} free`;
  return null;
}

export function fmtBytes(b: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = b;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** A figure for a label or an axis: latencies and rates with the decimals they need, counts whole. */
export function fmt(v: number, whole = false): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  const digits = whole ? 0 : a === 0 ? 0 : a < 10 ? 2 : a < 100 ? 1 : 0;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// What the charts plot ------------------------------------------------------------------

export interface SeriesSpec {
  key: string;
  label: string;
  color: string;
  /** The figure of one poll, or null for a gap. */
  value: (d: Dashboard) => number | null;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** The y axis' unit, shown on its labels and in the title. */
  unit: string;
  /** Counts: whole numbers on the axis and in the legend. */
  whole?: boolean;
  series: SeriesSpec[];
}

const P50 = '#3b82f6';
const P95 = '#f0b90b';
const P99 = '#f6465d';
const A = '#16c784';
const B = '#a78bfa';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A percentile of the 1-minute window; none when nothing was measured in it. */
const pct = (w: Win | undefined, p: 'p50' | 'p95' | 'p99') => {
  const l = w?.['1m'];
  return l && l.count > 0 ? num(l[p]) : null;
};
const percentiles = (win: (d: Dashboard) => Win | undefined): SeriesSpec[] => [
  { key: 'p50', label: 'p50', color: P50, value: (d) => pct(win(d), 'p50') },
  { key: 'p95', label: 'p95', color: P95, value: (d) => pct(win(d), 'p95') },
  { key: 'p99', label: 'p99', color: P99, value: (d) => pct(win(d), 'p99') },
];

export const CHARTS: ChartSpec[] = [
  { id: 'requests', title: 'API requests', unit: 'req/s', series: [
    { key: 'rate', label: 'requests/s', color: A, value: (d) => num(d.api?.requests_per_s) },
  ] },
  { id: 'api-latency', title: 'API latency (1 min window)', unit: 'ms', series: percentiles((d) => d.api?.latency_ms) },
  { id: 'trading', title: 'Orders and trades', unit: '/s', series: [
    { key: 'orders', label: 'orders/s', color: A, value: (d) => num(d.trading?.orders_per_s) },
    { key: 'trades', label: 'trades/s', color: P95, value: (d) => num(d.trading?.trades_per_s) },
  ] },
  { id: 'ws-connections', title: 'WebSocket connections', unit: 'connections', whole: true, series: [
    { key: 'connections', label: 'connections', color: B, value: (d) => num(d.websocket?.connections) },
  ] },
  { id: 'ws-messages', title: 'WebSocket messages sent', unit: 'msg/s', series: [
    { key: 'rate', label: 'messages/s', color: P50, value: (d) => num(d.websocket?.messages_per_s) },
  ] },
  { id: 'read-model-lag', title: 'Read-model lag (committed − projected)', unit: 'commands', whole: true, series: [
    { key: 'lag', label: 'lag', color: P95, value: (d) => num(d.database?.read_model_lag) },
  ] },
  { id: 'fsync', title: 'Journal fsync latency (1 min window)', unit: 'ms', series: percentiles((d) => d.journal?.fsync_latency_ms) },
  { id: 'notifications', title: 'Notifications', unit: 'messages', whole: true, series: [
    { key: 'queued', label: 'queued', color: P50, value: (d) => num(d.notifications?.queued) },
    { key: 'dead', label: 'dead-lettered (total)', color: P99, value: (d) => num(d.notifications?.dead_lettered_total) },
  ] },
  { id: 'rate-limit', title: 'Rate-limit refusals', unit: 'refusals/s', series: [
    { key: 'rate', label: 'refusals/s', color: P99, value: (d) => num(d.rate_limit?.refusals_per_s) },
  ] },
];

/** A point of a line: a value at a server second, or a gap there. */
export type Point = { time: number; value: number } | { time: number };

/** One line of a chart over the window, with its newest value. */
export interface Line { spec: SeriesSpec; points: Point[]; last: number | null }

export function linesOf(chart: ChartSpec, samples: readonly Dashboard[]): Line[] {
  return chart.series.map((spec) => {
    let last: number | null = null;
    const points = samples.map((d): Point => {
      const time = secondOf(d.time_ms);
      const value = spec.value(d);
      last = value;
      return value === null ? { time } : { time, value };
    });
    return { spec, points, last };
  });
}

/** How many polls of the window have a value in at least one line of the chart. */
export const pointsDrawn = (lines: Line[]) =>
  lines.length ? lines[0].points.filter((_, i) => lines.some((l) => 'value' in l.points[i])).length : 0;

// The figures under the charts --------------------------------------------------------

export interface Stat {
  key: string;
  label: string;
  /** '' for counts (shown whole). */
  unit: string;
  value: (d: Dashboard) => number | null;
}

export const STATS: Stat[] = [
  { key: 'requests_total', label: 'Requests', unit: '', value: (d) => num(d.api?.requests_total) },
  { key: 'errors_total', label: 'Errors', unit: '', value: (d) => num(d.api?.errors_total) },
  { key: 'orders_total', label: 'Orders', unit: '', value: (d) => num(d.trading?.orders_total) },
  { key: 'rejects_total', label: 'Rejected', unit: '', value: (d) => num(d.trading?.rejects_total) },
  { key: 'trades_total', label: 'Trades', unit: '', value: (d) => num(d.trading?.trades_total) },
  { key: 'cancels_total', label: 'Cancels', unit: '', value: (d) => num(d.trading?.cancels_total) },
  { key: 'match_p99', label: 'Match p99', unit: 'ms', value: (d) => pct(d.trading?.match_latency_ms, 'p99') },
  { key: 'ws_connections', label: 'WS connections', unit: '', value: (d) => num(d.websocket?.connections) },
  { key: 'ws_subscriptions', label: 'WS subscriptions', unit: '', value: (d) => num(d.websocket?.subscriptions) },
  { key: 'ws_messages_total', label: 'WS messages sent', unit: '', value: (d) => num(d.websocket?.messages_sent_total) },
  { key: 'ws_dropped_total', label: 'WS dropped', unit: '', value: (d) => num(d.websocket?.dropped_total) },
  { key: 'ws_slow_closed_total', label: 'Slow consumers closed', unit: '', value: (d) => num(d.websocket?.slow_consumers_closed_total) },
  { key: 'read_model_lag', label: 'Read-model lag', unit: '', value: (d) => num(d.database?.read_model_lag) },
  { key: 'db_p99', label: 'DB query p99', unit: 'ms', value: (d) => pct(d.database?.query_latency_ms, 'p99') },
  { key: 'committed_seq', label: 'Committed seq', unit: '', value: (d) => num(d.journal?.committed_seq) },
  { key: 'fsync_p99', label: 'fsync p99', unit: 'ms', value: (d) => pct(d.journal?.fsync_latency_ms, 'p99') },
  { key: 'notifications_queued', label: 'Notifications queued', unit: '', value: (d) => num(d.notifications?.queued) },
  { key: 'notifications_sent', label: 'Notifications sent', unit: '', value: (d) => num(d.notifications?.sent_total) },
  { key: 'dead_lettered', label: 'Dead letters', unit: '', value: (d) => num(d.notifications?.dead_lettered_total) },
  { key: 'refusals_total', label: 'Rate-limit refusals', unit: '', value: (d) => num(d.rate_limit?.refusals_total) },
];
