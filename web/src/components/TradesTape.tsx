import { display, trim } from '../lib/decimal';
import type { Market, Trade } from '../lib/types';

const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour12: false });

export function TradesTape({ trades, market }: { trades: Trade[]; market: Market }) {
  if (!trades.length) return <div className="empty">No trades yet</div>;
  return (
    <table className="grid tape" data-testid="trades-tape">
      <thead>
        <tr>
          <th>Price ({market.quote})</th>
          <th className="right">Size</th>
          <th className="right">Time</th>
        </tr>
      </thead>
      <tbody>
        {trades.slice(0, 60).map((t) => (
          <tr key={t.id}>
            <td className={t.side === 'buy' ? 'up' : 'down'}>{display(t.price)}</td>
            <td className="right">{trim(t.quantity)}</td>
            <td className="right muted">{time(t.time)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
