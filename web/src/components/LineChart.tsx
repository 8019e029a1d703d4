// A live line chart of the operator dashboard (lightweight-charts 5, as the terminal's
// candles): one line per series over the client's window of polls, time on the x axis in
// local wall-clock time, the chart's unit on every y-axis label and in the legend.
// Each poll redraws the whole window (setData): a few hundred points, and it keeps gaps
// and a restarted window (see pushSample) out of the incremental-update rules.
import { useEffect, useRef } from 'react';
import {
  ColorType, createChart, LineSeries,
  type AutoscaleInfo, type IChartApi, type ISeriesApi, type Time, type UTCTimestamp, type WhitespaceData, type LineData,
} from 'lightweight-charts';
import { fmt, pointsDrawn, type ChartSpec, type Line } from '../lib/monitoring';

const clock = (t: Time) => new Date(Number(t) * 1000).toLocaleTimeString('en-GB', { hour12: false });

/**
 * Every figure here is ≥ 0: the y axis starts at 0 (a flat line is not drawn mid-chart
 * between negative labels) and spans at least 1 unit (an idle server's zeros sit on the floor).
 */
function fromZero(original: () => AutoscaleInfo | null): AutoscaleInfo | null {
  const r = original();
  if (!r?.priceRange) return r;
  return { ...r, priceRange: { minValue: Math.min(0, r.priceRange.minValue), maxValue: Math.max(1, r.priceRange.maxValue) } };
}

export function LineChart({ chart, lines }: { chart: ChartSpec; lines: Line[] }) {
  const box = useRef<HTMLDivElement>(null);
  const api = useRef<IChartApi | null>(null);
  const series = useRef<ISeriesApi<'Line'>[]>([]);

  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#14181f' }, textColor: '#8a93a0', fontFamily: 'system-ui, sans-serif', attributionLogo: false },
      grid: { vertLines: { color: '#1d222b' }, horzLines: { color: '#1d222b' } },
      rightPriceScale: { borderColor: '#262c36', scaleMargins: { top: 0.12, bottom: 0.06 } },
      timeScale: { borderColor: '#262c36', timeVisible: true, secondsVisible: true, tickMarkFormatter: clock },
      localization: { timeFormatter: clock },
      handleScroll: false,
      handleScale: false,
      crosshair: { mode: 0 },
    });
    series.current = chart.series.map((s) =>
      c.addSeries(LineSeries, {
        color: s.color,
        lineWidth: 2,
        priceLineVisible: false,
        // The unit on every axis label: the y axis reads "12.5 ms", not a bare "12.5".
        priceFormat: { type: 'custom', minMove: chart.whole ? 1 : 0.001, formatter: (v: number) => `${fmt(v, chart.whole)} ${chart.unit}` },
        autoscaleInfoProvider: fromZero,
      }),
    );
    api.current = c;
    return () => {
      c.remove();
      api.current = null;
      series.current = [];
    };
  }, [chart]);

  useEffect(() => {
    lines.forEach((l, i) => series.current[i]?.setData(l.points as (LineData<UTCTimestamp> | WhitespaceData<UTCTimestamp>)[]));
    // The window is the chart: five minutes across, however many polls are in.
    if (lines[0]?.points.length) api.current?.timeScale().fitContent();
  }, [lines]);

  const drawn = pointsDrawn(lines);
  return (
    <div className="card mon-chart" data-testid={`chart-${chart.id}`} data-points={drawn}>
      <div className="mon-chart-head">
        <b>{chart.title}</b> <span className="muted">({chart.unit})</span>
      </div>
      <div className="mon-legend">
        {lines.map((l) => (
          <span key={l.spec.key} data-testid={`legend-${chart.id}-${l.spec.key}`}>
            <i style={{ background: l.spec.color }} />
            {l.spec.label} <b className="mono">{l.last === null ? '—' : `${fmt(l.last, chart.whole)} ${chart.unit}`}</b>
          </span>
        ))}
      </div>
      <div className="mon-chart-box" ref={box}>
        {drawn === 0 && <div className="chart-empty">No data yet</div>}
      </div>
    </div>
  );
}
