import { describe, expect, it } from 'vitest';
import { forTier, quantityForPercent, validateOrder, type OrderForm } from './orderForm';
import type { Market } from './types';

const m: Market = {
  symbol: 'BTC-USD', base: 'BTC', quote: 'USD', status: 'open',
  tick_size: '0.01', lot_size: '0.0001', min_quantity: '0.0001', max_quantity: '1000.0000',
  min_notional: '1.000000', base_decimals: 8, quote_decimals: 6,
  maker_fee_bps: 10, taker_fee_bps: 20, last_price: '100.00',
};

const form = (o: Partial<OrderForm> = {}): OrderForm => ({
  side: 'buy', type: 'limit', price: '100.00', stopPrice: '', quantity: '0.5', tif: 'gtc', postOnly: false, ...o,
});
const funds = { base: '2.00000000', quote: '1000.000000' };

describe('order entry validation', () => {
  it('accepts a good limit order and previews fee and total', () => {
    const v = validateOrder(form(), m, funds);
    expect(v.errors).toEqual({});
    expect(v.preview).toEqual({ notional: '50.000000', fee: '0.100000', total: '50.100000', estimated: false });
    expect(v.body).toEqual({ market: 'BTC-USD', side: 'buy', type: 'limit', price: '100.00', quantity: '0.5', time_in_force: 'gtc' });
  });

  it('rounds the previewed fee up and subtracts it on a sell', () => {
    const v = validateOrder(form({ side: 'sell', price: '100.01', quantity: '0.0333' }), m, funds);
    // 100.01 × 0.0333 = 3.330333; 20 bp = 0.0066606 → 0.006661.
    expect(v.preview.notional).toBe('3.330333');
    expect(v.preview.fee).toBe('0.006661');
    expect(v.preview.total).toBe('3.323672');
  });

  it('refuses prices off the tick and sizes off the lot', () => {
    expect(validateOrder(form({ price: '100.005' }), m, funds).errors.price).toMatch(/tick 0.01/);
    expect(validateOrder(form({ quantity: '0.00005' }), m, funds).errors.quantity).toMatch(/lot 0.0001/);
    expect(validateOrder(form({ price: 'abc' }), m, funds).errors.price).toMatch(/positive/);
    expect(validateOrder(form({ price: '' }), m, funds).errors.price).toMatch(/Enter a price/);
    expect(validateOrder(form({ quantity: '0' }), m, funds).errors.quantity).toMatch(/positive/);
    expect(validateOrder(form({ quantity: '1000.0001' }), m, funds).errors.quantity).toMatch(/Maximum/);
    expect(validateOrder(form({ price: '0.01' }), m, funds).body).toBeNull();
  });

  it('enforces the minimum notional', () => {
    const v = validateOrder(form({ price: '1.00', quantity: '0.5' }), m, funds);
    expect(v.errors.quantity).toMatch(/below the minimum 1.000000 USD/);
    expect(v.body).toBeNull();
    expect(validateOrder(form({ price: '2.00', quantity: '0.5' }), m, funds).errors).toEqual({});
  });

  it('checks the balance of the asset the order spends', () => {
    expect(validateOrder(form({ quantity: '10' }), m, funds).errors.balance).toMatch(/Not enough USD/);
    expect(validateOrder(form({ side: 'sell', quantity: '2.0001' }), m, funds).errors.balance).toMatch(/Not enough BTC/);
    expect(validateOrder(form({ side: 'sell', quantity: '2' }), m, funds).errors).toEqual({});
  });

  it('knows which types need which prices and time in force', () => {
    const mk = validateOrder(form({ type: 'market', price: '', tif: 'ioc' }), m, funds, '101.00');
    expect(mk.errors).toEqual({});
    expect(mk.preview.estimated).toBe(true);
    expect(mk.preview.notional).toBe('50.500000');
    expect(mk.body).not.toHaveProperty('price');
    expect(validateOrder(form({ type: 'market', tif: 'gtc' }), m, funds).errors.tif).toBeDefined();
    const sl = validateOrder(form({ type: 'stop_limit', stopPrice: '' }), m, funds);
    expect(sl.errors.stopPrice).toMatch(/stop price/);
    const ok = validateOrder(form({ type: 'stop_limit', stopPrice: '99.50' }), m, funds);
    expect(ok.body).toMatchObject({ type: 'stop_limit', price: '100.00', stop_price: '99.50' });
    const sm = validateOrder(form({ type: 'stop_market', stopPrice: '105.00', tif: 'ioc' }), m, funds);
    expect(sm.body).toMatchObject({ type: 'stop_market', stop_price: '105.00' });
    expect(sm.body).not.toHaveProperty('price');
  });

  it('allows post-only only on resting limit orders and previews the maker fee', () => {
    const po = validateOrder(form({ postOnly: true }), m, funds);
    expect(po.body).toMatchObject({ post_only: true });
    expect(po.preview.fee).toBe('0.050000');
    expect(validateOrder(form({ postOnly: true, tif: 'ioc' }), m, funds).errors.postOnly).toBeDefined();
    expect(validateOrder(form({ type: 'market', tif: 'ioc', postOnly: true }), m, funds, '100').errors.postOnly).toBeDefined();
  });

  it('needs a future expiry for GTD', () => {
    expect(validateOrder(form({ tif: 'gtd' }), m, funds).errors.tif).toMatch(/expiry/);
    const at = Date.now() + 60_000;
    expect(validateOrder(form({ tif: 'gtd', expireAt: at }), m, funds).body).toMatchObject({ expire_at: at });
  });
});

describe('fees by tier', () => {
  const tiered: Market = {
    ...m,
    fees: { standard: { maker_bps: 10, taker_bps: 20 }, premium: { maker_bps: 5, taker_bps: 8 } },
  };

  it("previews the fee of the user's tier", () => {
    // 50 USD at 8 bp (premium taker) instead of 20 bp (standard).
    expect(validateOrder(form(), forTier(tiered, 'premium'), funds).preview.fee).toBe('0.040000');
    expect(validateOrder(form({ postOnly: true }), forTier(tiered, 'premium'), funds).preview.fee).toBe('0.025000');
    expect(validateOrder(form(), forTier(tiered, 'standard'), funds).preview.fee).toBe('0.100000');
  });

  it('falls back to the listed fees for an unknown tier or a market without tiers', () => {
    expect(forTier(tiered, 'broker')).toBe(tiered);
    expect(forTier(tiered, null)).toBe(tiered);
    expect(forTier(m, 'premium')).toBe(m);
  });
});

describe('percent of balance', () => {
  it('sells a share of the base balance, floored to the lot', () => {
    expect(quantityForPercent(25, 'sell', m, { base: '1.23456789', quote: null }, null)).toBe('0.3086');
    expect(quantityForPercent(100, 'sell', m, funds, null)).toBe('2.0000');
  });

  it('buys what a share of the quote balance pays for, fee included', () => {
    // 1000 / (100 × 1.002) = 9.98003… → 9.9800
    expect(quantityForPercent(100, 'buy', m, funds, '100.00')).toBe('9.9800');
    expect(quantityForPercent(50, 'buy', m, funds, '100.00')).toBe('4.9900');
    expect(quantityForPercent(50, 'buy', m, funds, null)).toBeNull();
    expect(quantityForPercent(1, 'buy', m, { base: null, quote: '0.000001' }, '100.00')).toBeNull();
  });
});
