import { display } from '../lib/decimal';
import type { Balance } from '../lib/types';

export function Balances({ balances }: { balances: Balance[] }) {
  if (!balances.length) return <div className="empty">No balances</div>;
  return (
    <table className="grid" data-testid="balances">
      <thead>
        <tr>
          <th>Asset</th>
          <th className="right">Available</th>
          <th className="right">In orders</th>
        </tr>
      </thead>
      <tbody>
        {balances.map((b) => (
          <tr key={b.asset} data-asset={b.asset}>
            <td className="text">{b.asset}</td>
            <td className="right" data-testid={`avail-${b.asset}`}>{display(b.available)}</td>
            <td className="right muted">{display(b.held)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
