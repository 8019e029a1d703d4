// The ladder: asks above (best at the bottom), the spread and last price, bids below
// (best at the top). Bars show each level's cumulative size relative to the deepest
// shown. Clicking a level puts its price into the order form.
import { askLevels, bidLevels, withCumulative, type Book } from '../lib/book';
import { display, dec, sub, format, trim } from '../lib/decimal';
import type { Market } from '../lib/types';

const ROWS = 14;

export function OrderBook({ book, market, last, onPrice }: { book: Book | null; market: Market; last: string | null; onPrice: (p: string) => void }) {
  if (!book) return <div className="empty">Loading book…</div>;
  const asks = withCumulative(askLevels(book, ROWS));
  const bids = withCumulative(bidLevels(book, ROWS));
  const deepest = Math.max(+(asks[asks.length - 1]?.total ?? 0), +(bids[bids.length - 1]?.total ?? 0), 1e-18);
  const spread = asks[0] && bids[0] ? format(sub(dec(asks[0].price), dec(bids[0].price))) : null;
  const row = (l: { price: string; qty: string; total: string }, side: 'ask' | 'bid') => (
    <div key={l.price} className="ladder-row" onClick={() => onPrice(l.price)} data-testid={`book-${side}`}>
      <span className={side === 'ask' ? 'down' : 'up'}>{display(l.price)}</span>
      <span>{trim(l.qty)}</span>
      <span className="muted">{trim(l.total)}</span>
      <div className="bar" style={{ width: `${Math.min(100, (+l.total / deepest) * 100)}%` }} />
    </div>
  );
  return (
    <div className="ladder" data-testid="order-book" data-sequence={book.sequence}>
      <div className="ladder-head">
        <span>Price ({market.quote})</span>
        <span className="right">Size ({market.base})</span>
        <span className="right">Total</span>
      </div>
      <div className="ladder-side asks">{[...asks].reverse().map((l) => row(l, 'ask'))}</div>
      <div className="spread">
        <span className="last">{display(last)}</span>
        <span className="muted">spread {spread ? display(spread) : '—'}</span>
      </div>
      <div className="ladder-side bids">{bids.map((l) => row(l, 'bid'))}</div>
    </div>
  );
}
