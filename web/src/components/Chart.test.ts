import { describe, expect, it } from 'vitest';
import { chartStep, shownOf } from './Chart';
import type { Candle } from '../lib/types';

const c = (time: number, close = '1'): Candle => ({ time, open: '1', high: '1', low: '1', close, volume: '1' });
const M = 60_000;

describe('chartStep', () => {
  const base = [c(0), c(M), c(2 * M)];

  it('updates the newest bar in place when only it changed', () => {
    expect(chartStep(shownOf(base), [c(0), c(M), c(2 * M, '2')])).toBe('last');
  });

  it('appends a newer bar', () => {
    expect(chartStep(shownOf(base), [...base, c(3 * M)])).toBe('append');
  });

  it('redraws when a bar older than the newest one appears (the chart cannot update it)', () => {
    // A late trade folded in before the newest bar: the same count + 1, but not at the end.
    expect(chartStep(shownOf(base), [c(0), c(M), c(1.5 * M), c(2 * M)])).toBe('reset');
    // The newest bar replaced by an older one.
    expect(chartStep(shownOf(base), [c(0), c(M), c(1.5 * M)])).toBe('reset');
  });

  it('redraws for new history, an empty series or a switch of interval', () => {
    expect(chartStep(shownOf([]), base)).toBe('reset');
    expect(chartStep(shownOf(base), [])).toBe('reset');
    expect(chartStep(shownOf(base), [c(M), c(2 * M), c(3 * M)])).toBe('reset');
    expect(chartStep(shownOf(base), [...base, c(3 * M), c(4 * M)])).toBe('reset');
  });
});
