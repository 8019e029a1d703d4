import { useState } from 'react';
import { api, ApiError } from '../lib/api';
import { display, trim } from '../lib/decimal';
import type { Fill, Order } from '../lib/types';
import { useToast } from '../state/toasts';

type Tab = 'open' | 'history' | 'fills';
const when = (ms: number) => new Date(ms).toLocaleString([], { hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const label = (s: string) => s.replace(/_/g, ' ');

interface Props {
  open: Order[];
  history: Order[];
  fills: Fill[];
  loggedIn: boolean;
  onChange: () => void;
}

export function OrdersPanel({ open, history, fills, loggedIn, onChange }: Props) {
  const [tab, setTab] = useState<Tab>('open');
  return (
    <>
      <div className="panel-head">
        <div className="tabs">
          <button className={`tab ${tab === 'open' ? 'active' : ''}`} onClick={() => setTab('open')} data-testid="tab-open">
            Open orders ({open.length})
          </button>
          <button className={`tab ${tab === 'history' ? 'active' : ''}`} onClick={() => setTab('history')} data-testid="tab-history">
            Order history
          </button>
          <button className={`tab ${tab === 'fills' ? 'active' : ''}`} onClick={() => setTab('fills')} data-testid="tab-fills">
            Fills
          </button>
        </div>
        <span className="spacer" />
        {tab === 'open' && open.length > 0 && <CancelAll onChange={onChange} />}
      </div>
      <div className="panel-body">
        {!loggedIn ? (
          <div className="empty">Log in to see your orders</div>
        ) : tab === 'open' ? (
          <OpenOrders orders={open} onChange={onChange} />
        ) : tab === 'history' ? (
          <History orders={history} />
        ) : (
          <Fills fills={fills} />
        )}
      </div>
    </>
  );
}

function CancelAll({ onChange }: { onChange: () => void }) {
  const toast = useToast();
  return (
    <button
      className="btn small danger"
      onClick={() =>
        api.cancelAll().then(
          () => { toast('info', 'All open orders canceled'); onChange(); },
          (e: ApiError) => toast('error', 'Cancel all failed', e.message),
        )
      }
    >
      Cancel all
    </button>
  );
}

function OpenOrders({ orders, onChange }: { orders: Order[]; onChange: () => void }) {
  const toast = useToast();
  const [editing, setEditing] = useState<number | null>(null);
  const [price, setPrice] = useState('');
  const [qty, setQty] = useState('');
  if (!orders.length) return <div className="empty">No open orders</div>;

  const cancel = (o: Order) =>
    api.cancelOrder(o.id).then(
      () => { toast('info', `Order #${o.id} canceled`); onChange(); },
      (e: ApiError) => toast('error', `Cancel #${o.id} failed`, `${e.message} (${e.code})`),
    );
  const startEdit = (o: Order) => {
    setEditing(o.id);
    setPrice(o.price ?? '');
    setQty(o.quantity ?? '');
  };
  const save = (o: Order) => {
    const body: { price?: string; quantity?: string } = {};
    if (price && price !== o.price) body.price = price;
    if (qty && qty !== o.quantity) body.quantity = qty;
    if (!body.price && !body.quantity) return setEditing(null);
    api.amendOrder(o.id, body).then(
      (n) => { toast('success', `Order #${o.id} amended`, `${trim(n.quantity ?? '')} @ ${n.price ?? ''}`); setEditing(null); onChange(); },
      (e: ApiError) => toast('error', `Amend #${o.id} failed`, `${e.message} (${e.code})`),
    );
  };

  return (
    <table className="grid" data-testid="open-orders">
      <thead>
        <tr>
          <th>Time</th><th>Market</th><th>Side</th><th>Type</th>
          <th className="right">Price</th><th className="right">Quantity</th><th className="right">Filled</th>
          <th>Status</th><th className="right">Actions</th>
        </tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.id} data-order-id={o.id}>
            <td className="muted">{when(o.created_at)}</td>
            <td className="text">{o.market}</td>
            <td className={o.side === 'buy' ? 'up' : 'down'}>{o.side}</td>
            <td className="text" data-testid="order-type">{label(o.type)}{o.stop_price ? ` ≥ ${o.stop_price}` : ''}</td>
            {editing === o.id ? (
              <>
                <td className="right"><input aria-label="New price" value={price} onChange={(e) => setPrice(e.target.value)} disabled={!o.price} /></td>
                <td className="right"><input aria-label="New quantity" value={qty} onChange={(e) => setQty(e.target.value)} /></td>
              </>
            ) : (
              <>
                <td className="right" data-testid="order-price">{display(o.price)}</td>
                <td className="right" data-testid="order-qty">{o.quantity ? trim(o.quantity) : display(o.quote_quantity)}</td>
              </>
            )}
            <td className="right">{trim(o.filled_quantity)}</td>
            <td className="text">{label(o.status)}</td>
            <td className="right">
              {editing === o.id ? (
                <>
                  <button className="btn small primary" onClick={() => save(o)}>Save</button>{' '}
                  <button className="btn small" onClick={() => setEditing(null)}>Back</button>
                </>
              ) : (
                <>
                  <button className="btn small" onClick={() => startEdit(o)}>Amend</button>{' '}
                  <button className="btn small danger" onClick={() => void cancel(o)}>Cancel</button>
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function History({ orders }: { orders: Order[] }) {
  if (!orders.length) return <div className="empty">No closed orders</div>;
  return (
    <table className="grid" data-testid="order-history">
      <thead>
        <tr>
          <th>Time</th><th>Market</th><th>Side</th><th>Type</th>
          <th className="right">Price</th><th className="right">Avg. price</th><th className="right">Quantity</th>
          <th className="right">Filled</th><th>Status</th>
        </tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.id} data-order-id={o.id}>
            <td className="muted">{when(o.updated_at)}</td>
            <td className="text">{o.market}</td>
            <td className={o.side === 'buy' ? 'up' : 'down'}>{o.side}</td>
            <td className="text">{label(o.type)}</td>
            <td className="right">{display(o.price)}</td>
            <td className="right">{display(o.average_price)}</td>
            <td className="right">{o.quantity ? trim(o.quantity) : display(o.quote_quantity)}</td>
            <td className="right">{trim(o.filled_quantity)}</td>
            <td className="text">{label(o.status)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Fills({ fills }: { fills: Fill[] }) {
  if (!fills.length) return <div className="empty">No fills yet</div>;
  return (
    <table className="grid" data-testid="fills">
      <thead>
        <tr>
          <th>Time</th><th>Market</th><th>Side</th><th className="right">Price</th>
          <th className="right">Quantity</th><th className="right">Fee</th><th>Role</th><th className="right">Order</th>
        </tr>
      </thead>
      <tbody>
        {fills.map((f) => (
          <tr key={`${f.trade_id}:${f.order_id}`}>
            <td className="muted">{when(f.created_at)}</td>
            <td className="text">{f.market}</td>
            <td className={f.side === 'buy' ? 'up' : 'down'}>{f.side}</td>
            <td className="right">{display(f.price)}</td>
            <td className="right">{trim(f.quantity)}</td>
            <td className="right">{display(f.fee)} {f.fee_asset}</td>
            <td className="text">{f.liquidity}</td>
            <td className="right muted">#{f.order_id}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
