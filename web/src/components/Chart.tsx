// Candlesticks with volume (lightweight-charts 5). Numbers here are for drawing only;
// prices shown in the terminal's own panels stay decimal strings.
import { useEffect, useRef } from 'react';
import {
  CandlestickSeries, ColorType, createChart, HistogramSeries,
  type IChartApi, type ISeriesApi, type UTCTimestamp,
} from 'lightweight-charts';
import { decimalsOf } from '../lib/decimal';
import type { Candle } from '../lib/types';

const UP = '#16c784';
const DOWN = '#f6465d';

function bar(c: Candle) {
  return { time: Math.floor(c.time / 1000) as UTCTimestamp, open: +c.open, high: +c.high, low: +c.low, close: +c.close };
}
function vol(c: Candle) {
  return { time: Math.floor(c.time / 1000) as UTCTimestamp, value: +c.volume, color: +c.close >= +c.open ? 'rgba(22,199,132,.45)' : 'rgba(246,70,93,.45)' };
}

/** What the chart's series hold: first bar time, bar count, last bar time (ms). */
export interface Shown { first: number; len: number; last: number }

export function shownOf(candles: Candle[]): Shown {
  const len = candles.length;
  return { first: len ? candles[0].time : -1, len, last: len ? candles[len - 1].time : -1 };
}

/**
 * How to bring the series from `shown` to `candles`. lightweight-charts only updates its
 * newest bar or appends a newer one (anything older throws "Cannot update oldest data"),
 * so any other change (an older bar changed, history replaced) redraws the whole series.
 */
export function chartStep(shown: Shown, candles: Candle[]): 'last' | 'append' | 'reset' {
  const now = shownOf(candles);
  if (now.len === 0 || now.first !== shown.first) return 'reset';
  if (now.len === shown.len && now.last === shown.last) return 'last';
  if (now.len === shown.len + 1 && now.len > 1 && candles[now.len - 2].time === shown.last && now.last > shown.last) {
    return 'append';
  }
  return 'reset';
}

export function CandleChart({ candles, tickSize }: { candles: Candle[]; tickSize: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const price = useRef<ISeriesApi<'Candlestick'> | null>(null);
  const volume = useRef<ISeriesApi<'Histogram'> | null>(null);
  const shown = useRef<Shown>(shownOf([]));

  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#14181f' }, textColor: '#8a93a0', fontFamily: 'system-ui, sans-serif', attributionLogo: false },
      grid: { vertLines: { color: '#1d222b' }, horzLines: { color: '#1d222b' } },
      rightPriceScale: { borderColor: '#262c36' },
      timeScale: { borderColor: '#262c36', timeVisible: true, secondsVisible: false },
      crosshair: { mode: 0 },
    });
    price.current = c.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
    });
    volume.current = c.addSeries(HistogramSeries, { priceScaleId: '', priceFormat: { type: 'volume' } });
    volume.current.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    price.current.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    chart.current = c;
    shown.current = shownOf([]);
    return () => {
      c.remove();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const d = decimalsOf(tickSize);
    const step = Number(tickSize) || 0.01;
    price.current?.applyOptions({ priceFormat: { type: 'price', precision: d, minMove: step } });
  }, [tickSize]);

  useEffect(() => {
    const p = price.current;
    const v = volume.current;
    if (!p || !v) return;
    const step = chartStep(shown.current, candles);
    if (step !== 'reset') {
      const len = candles.length;
      // The bar before an appended one may have got its final trades in the same batch.
      if (step === 'append') {
        p.update(bar(candles[len - 2]));
        v.update(vol(candles[len - 2]));
      }
      p.update(bar(candles[len - 1]));
      v.update(vol(candles[len - 1]));
    } else {
      p.setData(candles.map(bar));
      v.setData(candles.map(vol));
      if (candles.length) chart.current?.timeScale().scrollToRealTime();
    }
    shown.current = shownOf(candles);
  }, [candles]);

  return (
    <div className="chart-box" ref={box} data-testid="candle-chart" data-candles={candles.length} data-last={candles[candles.length - 1]?.time ?? ''}>
      {candles.length === 0 && <div className="chart-empty">No trades in this range yet</div>}
    </div>
  );
}
