// Public market data hooks. Each loads a REST snapshot, then follows its WS channel
// (DESIGN §5); while the channel is silent (socket down, or the server does not offer
// it) it polls the REST endpoint instead, so the terminal stays live either way.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, normCandle, normTicker, normTrade } from '../lib/api';
import { applyUpdate, fromSnapshot, type Book, type BookData } from '../lib/book';
import { add, cmp, dec, format, parse } from '../lib/decimal';
import type { Candle, Market, Ticker, Trade } from '../lib/types';
import { ws, type WsMessage } from '../lib/ws';

function usePoll(f: () => void, ms: number, channel: string | null, deps: unknown[]) {
  useEffect(() => {
    const t = setInterval(() => {
      if (!channel || !ws || !ws.isLive(channel)) f();
    }, ms);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

export function useMarkets(): { markets: Market[]; error: string | null; reload: () => void } {
  const [markets, setMarkets] = useState<Market[]>([]);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(() => {
    api.markets().then((m) => { setMarkets(m); setError(null); }, (e) => setError(String(e.message ?? e)));
  }, []);
  useEffect(reload, [reload]);
  usePoll(reload, 5000, null, [reload]);
  return { markets, error, reload };
}

export interface BookState {
  book: Book | null;
  /** How many times a sequence gap forced a fresh snapshot. */
  resyncs: number;
}

export function useBook(symbol: string | null): BookState {
  const [state, setState] = useState<BookState>({ book: null, resyncs: 0 });
  const bookRef = useRef<Book | null>(null);

  const loadRest = useCallback((): Promise<void> => {
    if (!symbol) return Promise.resolve();
    return api.book(symbol, 100).then((b) => {
      // A REST snapshot older than what the socket gave us is of no use.
      if (bookRef.current && b.sequence < bookRef.current.sequence && ws?.isLive(`book.${symbol}`)) return;
      const book = fromSnapshot(b.sequence, b);
      bookRef.current = book;
      setState((s) => ({ ...s, book }));
    }, () => undefined);
  }, [symbol]);

  useEffect(() => {
    bookRef.current = null;
    setState({ book: null, resyncs: 0 });
    if (!symbol) return;
    loadRest();
    if (!ws) return;
    const channel = `book.${symbol}`;
    // After a gap, diffs are useless until a new snapshot: wait for the socket's (once),
    // and if it does not come in time, for the REST book — diffs stay ignored until one
    // of them is in (applied to the old book they would only find the gap again). If the
    // REST read fails, the next diff finds the gap and the resync starts over.
    let resyncing = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = ws.subscribe(channel, (m: WsMessage) => {
      const data = (m.data ?? {}) as BookData;
      const seq = Number(m.sequence ?? 0);
      if (m.type === 'snapshot') {
        if (timer) clearTimeout(timer);
        timer = null;
        resyncing = false;
        bookRef.current = fromSnapshot(seq, data);
        setState((s) => ({ ...s, book: bookRef.current }));
        return;
      }
      const cur = bookRef.current;
      if (!cur || resyncing) return;
      const r = applyUpdate(cur, seq, data);
      if (r.kind === 'applied') {
        bookRef.current = r.book;
        setState((s) => ({ ...s, book: r.book }));
      } else if (r.kind === 'gap') {
        // Lost a diff: ask for a new snapshot; keep showing the old book until it comes.
        ws.resubscribe(channel);
        resyncing = true;
        timer = setTimeout(() => {
          timer = null;
          void loadRest().finally(() => {
            resyncing = false;
          });
        }, 3000);
        setState((s) => ({ ...s, resyncs: s.resyncs + 1 }));
      }
    });
    return () => {
      if (timer) clearTimeout(timer);
      off();
    };
  }, [symbol, loadRest]);

  usePoll(loadRest, 1500, symbol ? `book.${symbol}` : null, [symbol, loadRest]);
  return state;
}

function tradesFrom(data: unknown): Trade[] {
  const list = Array.isArray(data) ? data : [data];
  return list.map(normTrade).filter((t): t is Trade => t !== null);
}

function mergeTrades(old: Trade[], add: Trade[]): Trade[] {
  const seen = new Set(old.map((t) => t.id));
  const merged = [...add.filter((t) => !seen.has(t.id)), ...old];
  merged.sort((a, b) => b.id - a.id || b.time - a.time);
  return merged.slice(0, 100);
}

export function useTrades(symbol: string | null, onTrades?: (t: Trade[]) => void): Trade[] {
  const [trades, setTrades] = useState<Trade[]>([]);
  const cb = useRef(onTrades);
  cb.current = onTrades;
  const known = useRef<Set<number> | null>(null);
  const load = useCallback(() => {
    if (!symbol) return;
    api.trades(symbol).then((t) => {
      // Trades first seen by polling feed the live candle too (not the first load).
      if (known.current) {
        const fresh = t.filter((x) => !known.current!.has(x.id));
        if (fresh.length) cb.current?.(fresh);
      }
      known.current = new Set([...(known.current ?? []), ...t.map((x) => x.id)]);
      setTrades((old) => mergeTrades(old, t));
    }, () => undefined);
  }, [symbol]);
  useEffect(() => {
    setTrades([]);
    known.current = null;
    if (!symbol) return;
    load();
    if (!ws) return;
    return ws.subscribe(`trades.${symbol}`, (m) => {
      const t = tradesFrom(m.data);
      if (m.type === 'snapshot') setTrades((old) => mergeTrades(old, t));
      else {
        const fresh = t.filter((x) => !known.current?.has(x.id));
        known.current = new Set([...(known.current ?? []), ...t.map((x) => x.id)]);
        setTrades((old) => mergeTrades(old, t));
        if (fresh.length) cb.current?.(fresh);
      }
    });
  }, [symbol, load]);
  usePoll(load, 2000, symbol ? `trades.${symbol}` : null, [symbol, load]);
  return trades;
}

/**
 * The ticker. The WS frames carry last price and top of book (several a second on a busy
 * market) and are merged as they come; the 24h statistics exist only on REST and are
 * polled every few seconds, not fetched per frame.
 */
export function useTicker(symbol: string | null): Ticker | null {
  const [ticker, setTicker] = useState<Ticker | null>(null);
  const load = useCallback(() => {
    if (symbol) api.ticker(symbol).then(setTicker, () => undefined);
  }, [symbol]);
  useEffect(() => {
    setTicker(null);
    load();
    if (!symbol || !ws) return;
    return ws.subscribe(`ticker.${symbol}`, (m) => {
      const t = normTicker(m.data);
      const fields: Partial<Ticker> = {};
      if (t.last !== null) fields.last = t.last;
      if (t.bid !== null) fields.bid = t.bid;
      if (t.ask !== null) fields.ask = t.ask;
      setTicker((old) => (old ? { ...old, ...fields } : null));
    });
  }, [symbol, load]);
  usePoll(load, 5000, null, [load]);
  return ticker;
}

export const INTERVALS: [string, number][] = [
  ['1m', 60_000], ['5m', 300_000], ['15m', 900_000], ['1h', 3_600_000], ['4h', 14_400_000], ['1d', 86_400_000],
];

/** Folds trades into candles (for live updates when the candle channel is silent). */
export function foldTrades(candles: Candle[], trades: Trade[], intervalMs: number): Candle[] {
  let out = candles;
  for (const t of [...trades].sort((a, b) => a.time - b.time)) {
    const start = Math.floor(t.time / intervalMs) * intervalMs;
    const last = out[out.length - 1];
    if (last && last.time === start) {
      const p = dec(t.price);
      const high = cmp(p, dec(last.high)) > 0 ? t.price : last.high;
      const low = cmp(p, dec(last.low)) < 0 ? t.price : last.low;
      const v = parse(last.volume) && parse(t.quantity) ? addStr(last.volume, t.quantity) : last.volume;
      out = [...out.slice(0, -1), { ...last, high, low, close: t.price, volume: v }];
    } else if (!last || start > last.time) {
      out = [...out, { time: start, open: t.price, high: t.price, low: t.price, close: t.price, volume: t.quantity }];
    }
  }
  return out;
}

function addStr(a: string, b: string): string {
  return format(add(dec(a), dec(b)));
}

export function useCandles(symbol: string | null, interval: string): { candles: Candle[]; onTrades: (t: Trade[]) => void } {
  const [candles, setCandles] = useState<Candle[]>([]);
  const ms = INTERVALS.find(([i]) => i === interval)?.[1] ?? 60_000;
  const channel = symbol ? `candles.${symbol}.${interval}` : null;
  const load = useCallback(() => {
    if (symbol) api.candles(symbol, interval).then(setCandles, () => undefined);
  }, [symbol, interval]);
  useEffect(() => {
    setCandles([]);
    load();
    if (!channel || !ws) return;
    return ws.subscribe(channel, (m) => {
      const list = (Array.isArray(m.data) ? m.data : [m.data]).map(normCandle).filter((c): c is Candle => c !== null);
      if (m.type === 'snapshot' && list.length > 1) {
        setCandles(list);
        return;
      }
      setCandles((old) => {
        let out = old;
        for (const c of list) {
          const last = out[out.length - 1];
          if (last && last.time === c.time) out = [...out.slice(0, -1), c];
          else if (!last || c.time > last.time) out = [...out, c];
        }
        return out;
      });
    });
  }, [channel, load, symbol]);
  usePoll(load, 10_000, channel, [channel, load]);
  const onTrades = useCallback(
    (t: Trade[]) => {
      if (channel && ws?.isLive(channel)) return;
      setCandles((old) => foldTrades(old, t, ms));
    },
    [channel, ms],
  );
  return { candles, onTrades };
}
