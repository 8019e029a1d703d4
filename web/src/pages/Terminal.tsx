// The trading screen: chart and depth, book, trades, order entry, orders, balances.
import { useEffect, useMemo, useState } from 'react';
import { CandleChart } from '../components/Chart';
import { DepthChart } from '../components/DepthChart';
import { OrderBook } from '../components/OrderBook';
import { OrderEntry } from '../components/OrderEntry';
import { OrdersPanel } from '../components/OrdersPanel';
import { Balances } from '../components/Balances';
import { TradesTape } from '../components/TradesTape';
import { INTERVALS, useBook, useCandles, useTicker, useTrades } from '../hooks/market';
import { api } from '../lib/api';
import { askLevels, bidLevels } from '../lib/book';
import { display } from '../lib/decimal';
import type { Market } from '../lib/types';
import { navigate } from '../router';
import { useAccount } from '../state/account';
import { useSession } from '../state/session';

export function Terminal({ markets, symbol }: { markets: Market[]; symbol: string | null }) {
  const market = markets.find((m) => m.symbol === symbol) ?? markets[0] ?? null;
  if (!market) return <div className="page"><div className="empty">No markets yet. An admin can create one under Admin → Markets.</div></div>;
  return <TerminalFor key={market.symbol} market={market} markets={markets} />;
}

function TerminalFor({ market, markets }: { market: Market; markets: Market[] }) {
  const { session } = useSession();
  const account = useAccount();
  const [interval, setChartInterval] = useState('1m');
  const [view, setView] = useState<'price' | 'depth'>('price');
  const [picked, setPicked] = useState<{ price: string; n: number } | null>(null);
  // The fee tier (set by an admin) picks the fees the order preview uses.
  const [tier, setTier] = useState<string | null>(null);
  useEffect(() => {
    setTier(null);
    if (!session) return;
    let live = true;
    api.me().then(
      (me) => live && setTier(typeof me.tier === 'string' ? me.tier : null),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [session]);
  const { book, resyncs } = useBook(market.symbol);
  const { candles, onTrades } = useCandles(market.symbol, interval);
  const trades = useTrades(market.symbol, onTrades);
  const ticker = useTicker(market.symbol);
  const last = trades[0]?.price ?? ticker?.last ?? market.last_price;
  const bestBid = useMemo(() => (book ? bidLevels(book, 1)[0]?.[0] ?? null : null), [book]);
  const bestAsk = useMemo(() => (book ? askLevels(book, 1)[0]?.[0] ?? null : null), [book]);
  const change = ticker?.change ?? null;
  const changeNeg = change?.startsWith('-');

  return (
    <>
      <div className="marketbar">
        <select
          aria-label="Market"
          data-testid="market-select"
          value={market.symbol}
          onChange={(e) => navigate(`/trade/${encodeURIComponent(e.target.value)}`)}
        >
          {markets.map((m) => (
            <option key={m.symbol} value={m.symbol}>{m.symbol}</option>
          ))}
        </select>
        <div className="stat big">
          <span className="label">Last</span>
          <span className={`value ${trades[0]?.side === 'sell' ? 'down' : 'up'}`} data-testid="last-price">{display(last)}</span>
        </div>
        <div className="stat"><span className="label">24h change</span><span className={`value ${changeNeg ? 'down' : 'up'}`}>{change ? `${display(change)}%` : '—'}</span></div>
        <div className="stat"><span className="label">24h high</span><span className="value">{display(ticker?.high)}</span></div>
        <div className="stat"><span className="label">24h low</span><span className="value">{display(ticker?.low)}</span></div>
        <div className="stat"><span className="label">24h volume ({market.base})</span><span className="value">{display(ticker?.volume)}</span></div>
        <div className="stat"><span className="label">Tick / lot</span><span className="value">{market.tick_size} / {market.lot_size}</span></div>
        {market.status === 'halted' && <span className="halted" data-testid="halted">HALTED</span>}
      </div>
      <div className="terminal">
        <section className="panel area-chart" data-testid="panel-chart" data-interval={interval}>
          <div className="panel-head">
            <div className="tabs">
              <button className={`tab ${view === 'price' ? 'active' : ''}`} onClick={() => setView('price')}>Chart</button>
              <button className={`tab ${view === 'depth' ? 'active' : ''}`} onClick={() => setView('depth')} data-testid="tab-depth">Depth</button>
            </div>
            {view === 'price' && (
              <div className="seg" data-testid="intervals">
                {INTERVALS.map(([i]) => (
                  <button key={i} className={interval === i ? 'active' : ''} onClick={() => setChartInterval(i)} data-testid={`interval-${i}`}>{i}</button>
                ))}
              </div>
            )}
          </div>
          {view === 'price' ? <CandleChart candles={candles} tickSize={market.tick_size} /> : <DepthChart book={book} />}
        </section>
        <section className="panel area-book" data-testid="panel-book">
          <div className="panel-head" data-testid="book-head">
            Order book
            <span className="spacer" />
            {resyncs > 0 && <span className="muted" title="Sequence gaps detected and resynced">resync ×{resyncs}</span>}
          </div>
          <div className="panel-body">
            <OrderBook book={book} market={market} last={last} onPrice={(p) => setPicked({ price: p, n: Date.now() })} />
          </div>
        </section>
        <section className="panel area-trades" data-testid="panel-trades">
          <div className="panel-head">Recent trades</div>
          <div className="panel-body"><TradesTape trades={trades} market={market} /></div>
        </section>
        <section className="panel area-entry" data-testid="panel-entry">
          <div className="panel-head">Place order</div>
          <OrderEntry
            market={market}
            tier={tier}
            balances={account.balances}
            loggedIn={!!session}
            pickedPrice={picked}
            bestBid={bestBid}
            bestAsk={bestAsk}
            onPlaced={account.refresh}
          />
        </section>
        <section className="panel area-orders" data-testid="panel-orders">
          <OrdersPanel open={account.openOrders} history={account.history} fills={account.fills} loggedIn={!!session} onChange={account.refresh} />
        </section>
        <section className="panel area-balances" data-testid="panel-balances">
          <div className="panel-head">Balances</div>
          <div className="panel-body">{session ? <Balances balances={account.balances} /> : <div className="empty">Log in to see balances</div>}</div>
        </section>
      </div>
    </>
  );
}
