// @vitest-environment jsdom
// The market data hooks against a fake socket client and a fake REST API.
// - useBook's gap handling: a skipped sequence resubscribes, diffs are ignored until the
//   fresh snapshot, and without one the REST book is read again.
// - useTicker: socket frames update the ticker without a REST call each.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, renderHook } from '@testing-library/react';
import type { WsMessage } from '../lib/ws';

type Listener = (m: WsMessage) => void;
const fake = vi.hoisted(() => ({
  listeners: new Map<string, Listener>(),
  resubscribed: [] as string[],
  restBooks: [] as Promise<{ sequence: number; bids: [string, string][]; asks: [string, string][] }>[],
  restCalls: 0,
  tickerCalls: 0,
}));

vi.mock('../lib/ws', () => ({
  ws: {
    subscribe: (channel: string, f: Listener) => {
      fake.listeners.set(channel, f);
      return () => fake.listeners.delete(channel);
    },
    resubscribe: (channel: string) => fake.resubscribed.push(channel),
    isLive: () => true,
  },
}));

vi.mock('../lib/api', () => ({
  api: {
    book: (symbol: string) => {
      fake.restCalls += 1;
      const b = fake.restBooks.shift();
      return b ? b.then((x) => ({ symbol, ...x })) : new Promise(() => undefined);
    },
    ticker: () => {
      fake.tickerCalls += 1;
      return Promise.resolve({ last: '100.00', change: '1.5', high: '110.00', low: '90.00', volume: '12', bid: '99.00', ask: '101.00' });
    },
  },
  normCandle: () => null,
  normTicker: (t: { last_price?: string; best_bid?: string; best_ask?: string }) => ({
    last: t.last_price ?? null, bid: t.best_bid ?? null, ask: t.best_ask ?? null, change: null, high: null, low: null, volume: null,
  }),
  normTrade: () => null,
}));

const { useBook, useTicker } = await import('./market');

const CH = 'book.BTC-USD';
const send = (m: Partial<WsMessage>) => act(() => fake.listeners.get(CH)!({ channel: CH, data: {}, ...m } as WsMessage));
const update = (sequence: number, bids: [string, string][] = [], asks: [string, string][] = []) =>
  send({ type: 'update', sequence, data: { bids, asks } });

describe('useBook', () => {
  beforeEach(() => {
    fake.listeners.clear();
    fake.resubscribed = [];
    fake.restBooks = [];
    fake.restCalls = 0;
    fake.tickerCalls = 0;
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
  });

  it('on a gap: resubscribes, ignores diffs until the snapshot, then follows it', async () => {
    const { result } = renderHook(() => useBook('BTC-USD'));
    send({ type: 'snapshot', sequence: 10, data: { bids: [['100.00', '1']], asks: [['101.00', '1']] } });
    expect(result.current.book?.sequence).toBe(10);
    update(11, [['100.00', '2']]);
    expect(result.current.book?.bids.get('100.00')).toBe('2');

    update(13, [['99.00', '5']]); // 12 was lost
    expect(fake.resubscribed).toEqual([CH]);
    expect(result.current.resyncs).toBe(1);
    // The old book stays on screen, untouched by diffs that cannot be trusted.
    update(14, [['98.00', '7']]);
    update(12, [['97.00', '7']]);
    expect(result.current.book?.sequence).toBe(11);
    expect([...result.current.book!.bids.keys()]).toEqual(['100.00']);
    expect(fake.resubscribed).toEqual([CH]); // no second resubscribe while waiting

    send({ type: 'snapshot', sequence: 20, data: { bids: [['95.00', '3']], asks: [['102.00', '4']] } });
    expect(result.current.book?.sequence).toBe(20);
    expect([...result.current.book!.bids.entries()]).toEqual([['95.00', '3']]);
    update(21, [], [['102.00', '0']]);
    expect(result.current.book?.sequence).toBe(21);
    expect(result.current.book?.asks.size).toBe(0);
    expect(result.current.resyncs).toBe(1);
  });

  it('on a gap with no snapshot coming, reads the REST book again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { result } = renderHook(() => useBook('BTC-USD'));
    const callsAtStart = fake.restCalls;
    send({ type: 'snapshot', sequence: 10, data: { bids: [['100.00', '1']], asks: [] } });
    update(12);
    expect(fake.resubscribed).toEqual([CH]);
    let answer!: (b: { sequence: number; bids: [string, string][]; asks: [string, string][] }) => void;
    fake.restBooks.push(new Promise((r) => (answer = r)));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2900);
    });
    expect(fake.restCalls).toBe(callsAtStart); // still waiting for the snapshot
    await act(async () => {
      await vi.advanceTimersByTimeAsync(100);
    });
    expect(fake.restCalls).toBe(callsAtStart + 1);
    // Until the REST book is in, diffs are still ignored: no second gap, no resubscribe.
    update(25, [['80.00', '1']]);
    expect(result.current.resyncs).toBe(1);
    expect(fake.resubscribed).toEqual([CH]);
    expect(result.current.book?.sequence).toBe(10);
    await act(async () => answer({ sequence: 30, bids: [['90.00', '1']], asks: [] }));
    expect(result.current.book?.sequence).toBe(30);
    expect(fake.restCalls).toBe(callsAtStart + 1);
    // Diffs are followed again from the REST book.
    update(31, [['91.00', '2']]);
    expect(result.current.book?.bids.get('91.00')).toBe('2');
  });

  it('useTicker: socket frames update last price and top of book without a REST call each', async () => {
    const { result } = renderHook(() => useTicker('BTC-USD'));
    await act(async () => undefined);
    expect(result.current?.last).toBe('100.00');
    expect(fake.tickerCalls).toBe(1);
    const tick = fake.listeners.get('ticker.BTC-USD')!;
    for (let i = 1; i <= 20; i++) {
      act(() => tick({ channel: 'ticker.BTC-USD', type: 'update', sequence: i, data: { last_price: `${100 + i}.00`, best_bid: `${99 + i}.00` } }));
    }
    await act(async () => undefined);
    expect(fake.tickerCalls).toBe(1);
    expect(result.current).toMatchObject({ last: '120.00', bid: '119.00', ask: '101.00', high: '110.00', change: '1.5' });
  });
});
