// What the private WebSocket frames change on the page, as pure functions: the account
// state follows the frames themselves instead of reloading its REST endpoints on each
// one. A frame it cannot place (an order it never saw, say) answers `unknown`, and only
// then does the page fall back to one REST reload.
import type { Balance, Fill, Order } from '../lib/types';

/** A `balances` frame: `{asset, available, held}`, the asset's new amounts. */
export function applyBalance(balances: Balance[], data: unknown): Balance[] | 'unknown' {
  const d = data as Partial<Balance> | null;
  if (!d || typeof d.asset !== 'string' || typeof d.available !== 'string' || typeof d.held !== 'string') return 'unknown';
  const row: Balance = { asset: d.asset, available: d.available, held: d.held };
  const i = balances.findIndex((b) => b.asset === row.asset);
  if (i < 0) return [...balances, row];
  const out = balances.slice();
  out[i] = row;
  return out;
}

export const fillKey = (f: Fill) => `${f.trade_id}:${f.order_id}`;

/** A `fills` frame: one fill, the REST fill object; newest first, never twice. */
export function applyFill(fills: Fill[], data: unknown): Fill[] | 'unknown' {
  const f = data as Fill | null;
  if (!f || typeof f.trade_id !== 'number' || typeof f.order_id !== 'number') return 'unknown';
  if (fills.some((x) => fillKey(x) === fillKey(f))) return fills;
  return [f, ...fills];
}

const TERMINAL = new Set(['filled', 'canceled', 'expired', 'rejected']);

export interface Orders {
  open: Order[];
  history: Order[];
}

interface OrderFrame {
  event?: string;
  order_id?: number | null;
  status?: string;
  filled_quantity?: string;
  remaining_quantity?: string | null;
  order?: Order;
}

/** An `orders` frame: an accepted order (with the whole `order`) joins the open orders
 * or, done at once, the history; a later event updates the order where it is and moves
 * it to the history when it ends. */
export function applyOrder(orders: Orders, data: unknown, now: number): Orders | 'unknown' {
  const f = data as OrderFrame | null;
  if (!f || typeof f.event !== 'string') return 'unknown';
  if (f.event === 'rejected') return orders; // never accepted: in no list
  if (f.event === 'accepted') {
    const o = f.order;
    if (!o || typeof o.id !== 'number') return 'unknown';
    const without = (l: Order[]) => l.filter((x) => x.id !== o.id);
    return TERMINAL.has(o.status)
      ? { open: without(orders.open), history: [o, ...without(orders.history)] }
      : { open: [o, ...without(orders.open)], history: without(orders.history) };
  }
  const i = orders.open.findIndex((x) => x.id === f.order_id);
  if (i < 0 || typeof f.status !== 'string') return 'unknown';
  const updated: Order = {
    ...orders.open[i],
    status: f.status,
    filled_quantity: f.filled_quantity ?? orders.open[i].filled_quantity,
    remaining_quantity: f.remaining_quantity !== undefined ? f.remaining_quantity : orders.open[i].remaining_quantity,
    updated_at: now,
  };
  const open = orders.open.slice();
  if (TERMINAL.has(f.status)) {
    open.splice(i, 1);
    return { open, history: [updated, ...orders.history] };
  }
  open[i] = updated;
  return { open, history: orders.history };
}
