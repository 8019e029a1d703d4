// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen } from '@testing-library/react';
import { Monitoring, MonitoringView } from './Monitoring';
import { CHARTS, secondOf, type Dashboard } from '../../lib/monitoring';
import { DASHBOARD, later } from '../../lib/monitoring.fixture';

// jsdom has no canvas: stand in for lightweight-charts and record what each chart is given
// (the drawing itself is the browser test's part).
interface FakeSeries { options: { color: string; priceFormat: { formatter: (v: number) => string } }; data: unknown[] }
const charts = vi.hoisted(() => [] as { series: FakeSeries[]; fits: number; removed: boolean }[]);
vi.mock('lightweight-charts', () => ({
  ColorType: { Solid: 'solid' },
  LineSeries: 'Line',
  createChart: () => {
    const c = { series: [] as FakeSeries[], fits: 0, removed: false };
    charts.push(c);
    return {
      addSeries: (_type: string, options: FakeSeries['options']) => {
        const s: FakeSeries = { options, data: [] };
        c.series.push(s);
        return { setData: (d: unknown[]) => { s.data = d; } };
      },
      timeScale: () => ({ fitContent: () => { c.fits++; } }),
      remove: () => { c.removed = true; },
    };
  },
}));

const text = (id: string) => screen.getByTestId(id).textContent;
const t0 = secondOf(DASHBOARD.time_ms);
const chartOf = (id: string) => charts[CHARTS.findIndex((c) => c.id === id)];

describe('<MonitoringView> from the contract fixture', () => {
  beforeEach(() => { charts.length = 0; });
  afterEach(cleanup);

  const second = later(2, (d) => {
    d.api.latency_ms['1m'].p99 = 14.5;
    d.trading.orders_total = 950;
  });

  it('shows the server state and each check, graded, with its figure or reason', () => {
    render(<MonitoringView samples={[DASHBOARD, second]} error={null} />);
    const overall = screen.getByTestId('status-overall');
    expect(overall.textContent).toBe('degraded');
    expect(overall.className).toBe('pill warn');
    const states = Object.fromEntries(
      ['database', 'disk', 'journal', 'rate_limit_store', 'read_model', 'sequencer'].map((n) => [n, screen.getByTestId(`check-${n}`).dataset.state]),
    );
    expect(states).toEqual({ database: 'healthy', disk: 'degraded', journal: 'healthy', rate_limit_store: 'healthy', read_model: 'healthy', sequencer: 'healthy' });
    expect(text('check-disk')).toBe('diskdegradedbelow minimum52.0 MB free');
    expect(screen.getByTestId('check-disk').title).toBe('below minimum');
    expect(text('check-database')).toBe('databasehealthy0.41 ms');
    expect(text('check-read_model')).toBe('read modelhealthylag 3');
  });

  it('draws one chart per figure, each line with its points, unit and newest value', () => {
    render(<MonitoringView samples={[DASHBOARD, second]} error={null} />);
    expect(charts.length).toBe(CHARTS.length);
    for (const c of CHARTS) {
      const card = screen.getByTestId(`chart-${c.id}`);
      expect(card.textContent).toContain(`${c.title} (${c.unit})`);
      expect(card.dataset.points).toBe('2');
    }
    const latency = chartOf('api-latency');
    expect(latency.series.map((s) => s.data)).toEqual([
      [{ time: t0, value: 1.2 }, { time: t0 + 2, value: 1.2 }],
      [{ time: t0, value: 4.8 }, { time: t0 + 2, value: 4.8 }],
      [{ time: t0, value: 9.75 }, { time: t0 + 2, value: 14.5 }],
    ]);
    expect(latency.fits).toBeGreaterThan(0);
    // The y axis labels carry the unit.
    expect(latency.series[2].options.priceFormat.formatter(14.5)).toBe('14.5 ms');
    expect(chartOf('ws-connections').series[0].options.priceFormat.formatter(3)).toBe('3 connections');
    expect(text('legend-api-latency-p99')).toBe('p99 14.5 ms');
    expect(text('legend-trading-orders')).toBe('orders/s 7.25 /s');
    expect(text('legend-notifications-dead')).toBe('dead-lettered (total) 1 messages');
    expect(chartOf('trading').series.map((s) => s.data)).toEqual([
      [{ time: t0, value: 7.25 }, { time: t0 + 2, value: 7.25 }],
      [{ time: t0, value: 3.5 }, { time: t0 + 2, value: 3.5 }],
    ]);
  });

  it('shows the newest figures', () => {
    render(<MonitoringView samples={[DASHBOARD, second]} error={null} />);
    expect(text('stat-orders_total')).toBe('950');
    expect(text('stat-requests_total')).toBe('1,520');
    expect(text('stat-fsync_p99')).toBe('4.20 ms');
    expect(text('stat-dead_lettered')).toBe('1');
    expect(text('stat-refusals_total')).toBe('6');
    expect(screen.getByTestId('stat-ws_connections').dataset.value).toBe('3');
  });

  it('says so before the first answer', () => {
    render(<MonitoringView samples={[]} error={null} />);
    expect(text('status-overall')).toBe('unknown');
    expect(screen.getByTestId('chart-requests').dataset.points).toBe('0');
    expect(screen.getAllByText('No data yet').length).toBe(CHARTS.length);
    expect(text('stat-orders_total')).toBe('—');
  });
});

describe('<Monitoring> polling', () => {
  beforeEach(() => {
    charts.length = 0;
    vi.useFakeTimers();
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  /** A server whose dashboard moves on 2 s and 5 orders per call, or answers `fail` once. */
  function stubServer() {
    let n = 0;
    const state = { fail: false };
    const fetch = vi.fn(async (_url: string) => {
      if (state.fail) {
        state.fail = false;
        return new Response(JSON.stringify({ error: { code: 'INTERNAL', message: 'boom' } }), { status: 500 });
      }
      const d: Dashboard = later(2 * n, (x) => { x.trading.orders_total += 5 * n; });
      n++;
      return new Response(JSON.stringify(d), { status: 200 });
    });
    vi.stubGlobal('fetch', fetch);
    return { fetch, state };
  }

  it('polls every 2 s, keeps the window and moves the numbers without a reload', async () => {
    const { fetch, state } = stubServer();
    render(<Monitoring />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(screen.getByTestId('monitoring').dataset.samples).toBe('1');
    expect(text('stat-orders_total')).toBe('900');
    await act(() => vi.advanceTimersByTimeAsync(2000));
    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(fetch.mock.calls.map(([url]) => url)).toEqual(Array(3).fill('/api/v1/monitoring/dashboard'));
    expect(screen.getByTestId('monitoring').dataset.samples).toBe('3');
    expect(text('stat-orders_total')).toBe('910');
    expect(screen.getByTestId('chart-trading').dataset.points).toBe('3');
    expect(chartOf('trading').series[0].data).toHaveLength(3);

    // A failed poll says why and keeps what was drawn; the next one carries on.
    state.fail = true;
    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(text('monitoring-error')).toBe('boom (INTERNAL)');
    expect(screen.getByTestId('monitoring').dataset.samples).toBe('3');
    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(screen.queryByTestId('monitoring-error')).toBeNull();
    expect(screen.getByTestId('monitoring').dataset.samples).toBe('4');
  });

  it('stops polling when the page closes', async () => {
    const { fetch } = stubServer();
    render(<Monitoring />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    cleanup();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(charts.every((c) => c.removed)).toBe(true);
  });
});
