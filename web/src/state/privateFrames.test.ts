import { describe, expect, it } from 'vitest';
import type { Fill, Order } from '../lib/types';
import { applyBalance, applyFill, applyOrder } from './privateFrames';

const order = (id: number, status = 'open'): Order => ({
  id, client_order_id: null, market: 'BTC-USD', side: 'buy', type: 'limit', time_in_force: 'gtc',
  status, price: '100.00', stop_price: null, quantity: '1.0000', quote_quantity: null,
  filled_quantity: '0.0000', remaining_quantity: '1.0000', average_price: null, post_only: false,
  created_at: 1, updated_at: 1,
});
const fill = (trade: number, ord: number): Fill => ({
  trade_id: trade, order_id: ord, market: 'BTC-USD', side: 'buy', price: '100.00', quantity: '0.1000',
  fee: '0.020000', fee_asset: 'USD', liquidity: 'taker', created_at: 5,
});

describe('private frames', () => {
  it('a balance frame replaces its asset and adds a new one at the end', () => {
    const b = [{ asset: 'BTC', available: '1', held: '0' }, { asset: 'USD', available: '5', held: '0' }];
    expect(applyBalance(b, { asset: 'USD', available: '4', held: '1' })).toEqual([
      { asset: 'BTC', available: '1', held: '0' }, { asset: 'USD', available: '4', held: '1' }]);
    expect(applyBalance(b, { asset: 'ETH', available: '2', held: '0' })).toEqual([
      b[0], b[1], { asset: 'ETH', available: '2', held: '0' }]);
    expect(applyBalance(b, { asset: 'USD' })).toBe('unknown');
  });

  it('fills are prepended once', () => {
    const once = applyFill([fill(1, 7)], fill(2, 7));
    expect(once).toEqual([fill(2, 7), fill(1, 7)]);
    expect(applyFill(once as Fill[], fill(2, 7))).toBe(once);
    expect(applyFill([], { trade_id: 'x' })).toBe('unknown');
  });

  it('an accepted order joins the open orders, or the history when it is already done', () => {
    const start = { open: [order(1)], history: [] };
    const rested = applyOrder(start, { event: 'accepted', order_id: 2, order: order(2) }, 9);
    expect(rested).toEqual({ open: [order(2), order(1)], history: [] });
    const done = applyOrder(start, { event: 'accepted', order_id: 3, order: order(3, 'filled') }, 9);
    expect(done).toEqual({ open: [order(1)], history: [order(3, 'filled')] });
    expect(applyOrder(start, { event: 'accepted', order_id: 4 }, 9)).toBe('unknown');
  });

  it('later events update the open order, and a terminal one moves it to the history', () => {
    const start = { open: [order(1)], history: [] };
    const part = applyOrder(start, { event: 'partially_filled', order_id: 1, status: 'partially_filled',
      filled_quantity: '0.4000', remaining_quantity: '0.6000' }, 9);
    expect(part).toEqual({ open: [{ ...order(1), status: 'partially_filled', filled_quantity: '0.4000',
      remaining_quantity: '0.6000', updated_at: 9 }], history: [] });
    const gone = applyOrder(part as { open: Order[]; history: Order[] }, { event: 'canceled', order_id: 1,
      status: 'canceled', filled_quantity: '0.4000', remaining_quantity: '0.6000' }, 10);
    expect(gone).toEqual({ open: [], history: [{ ...order(1), status: 'canceled', filled_quantity: '0.4000',
      remaining_quantity: '0.6000', updated_at: 10 }] });
    // An order the page never saw: it cannot be placed without REST.
    expect(applyOrder(start, { event: 'filled', order_id: 99, status: 'filled' }, 9)).toBe('unknown');
    // A rejected placement is in no list.
    expect(applyOrder(start, { event: 'rejected', order_id: null }, 9)).toBe(start);
  });
});
