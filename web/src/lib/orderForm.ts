// Order entry: inline validation against the market's grid (tick, lot, min/max quantity,
// min notional) and the caller's balance, the fee and total preview, and the request body.
// Pure functions of the form, the market and the balances, so they are tested directly.
// The server checks all of this again; the point here is to say what is wrong before
// sending, in the words of the field.

import { add, bps, cmp, dec, div, floorTo, format, isMultiple, isZero, mul, parse, percent, sub, type Dec } from './decimal';
import type { Market, OrderType, Side, Tif } from './types';

export interface OrderForm {
  side: Side;
  type: OrderType;
  price: string;
  stopPrice: string;
  quantity: string;
  tif: Tif;
  postOnly: boolean;
  /** GTD expiry, ms since the epoch, as typed (datetime-local converted by the caller). */
  expireAt?: number;
}

export interface Preview {
  /** price × quantity in the quote asset, or an estimate for market orders. */
  notional: string | null;
  fee: string | null;
  /** Buy: what leaves the quote balance (notional + fee). Sell: what arrives (notional − fee). */
  total: string | null;
  estimated: boolean;
}

export interface Validation {
  errors: Partial<Record<'price' | 'stopPrice' | 'quantity' | 'tif' | 'postOnly' | 'balance', string>>;
  preview: Preview;
  /** The `POST /api/v1/orders` body when there are no errors. */
  body: Record<string, unknown> | null;
}

export interface Funds {
  base: string | null;
  quote: string | null;
}

export const isPriced = (t: OrderType) => t === 'limit' || t === 'stop_limit';
export const isStop = (t: OrderType) => t === 'stop_limit' || t === 'stop_market';

/** The time-in-force choices that make sense for an order type. */
export function tifChoices(type: OrderType): Tif[] {
  return isPriced(type) ? ['gtc', 'ioc', 'fok', 'gtd'] : ['ioc', 'fok'];
}

function positive(s: string): Dec | null {
  const d = parse(s);
  return d && d.units > 0n ? d : null;
}

/**
 * Validates the form. `reference` is the price used to estimate market orders (the best
 * opposite price or the last trade); without it the preview of a market order is empty.
 */
/** The market as a user of `tier` trades it: that tier's maker and taker fees. */
export function forTier(m: Market, tier: string | null | undefined): Market {
  const f = tier ? m.fees?.[tier] : undefined;
  return f ? { ...m, maker_fee_bps: f.maker_bps, taker_fee_bps: f.taker_bps } : m;
}

export function validateOrder(form: OrderForm, m: Market, funds: Funds, reference?: string | null): Validation {
  const errors: Validation['errors'] = {};
  const tick = dec(m.tick_size);
  const lot = dec(m.lot_size);

  let price: Dec | null = null;
  if (isPriced(form.type)) {
    if (form.price.trim() === '') errors.price = 'Enter a price';
    else if (!(price = positive(form.price))) errors.price = 'Price must be a positive number';
    else if (!isMultiple(price, tick)) errors.price = `Price must be a multiple of the tick ${m.tick_size}`;
  }

  let stop: Dec | null = null;
  if (isStop(form.type)) {
    if (form.stopPrice.trim() === '') errors.stopPrice = 'Enter a stop price';
    else if (!(stop = positive(form.stopPrice))) errors.stopPrice = 'Stop price must be a positive number';
    else if (!isMultiple(stop, tick)) errors.stopPrice = `Stop price must be a multiple of the tick ${m.tick_size}`;
  }

  let qty: Dec | null = null;
  if (form.quantity.trim() === '') errors.quantity = 'Enter a quantity';
  else if (!(qty = positive(form.quantity))) errors.quantity = 'Quantity must be a positive number';
  else if (!isMultiple(qty, lot)) errors.quantity = `Quantity must be a multiple of the lot ${m.lot_size}`;
  else if (cmp(qty, dec(m.min_quantity)) < 0) errors.quantity = `Minimum quantity is ${m.min_quantity}`;
  else if (cmp(qty, dec(m.max_quantity)) > 0) errors.quantity = `Maximum quantity is ${m.max_quantity}`;

  const tifs = tifChoices(form.type);
  if (!tifs.includes(form.tif)) errors.tif = `${form.type.replace('_', '-')} orders take ${tifs.join(', ').toUpperCase()}`;
  if (form.tif === 'gtd' && !(form.expireAt && form.expireAt > Date.now())) errors.tif = 'GTD needs an expiry in the future';
  if (form.postOnly) {
    if (form.type !== 'limit') errors.postOnly = 'Post-only is for limit orders';
    else if (form.tif === 'ioc' || form.tif === 'fok') errors.postOnly = 'Post-only cannot be IOC or FOK';
  }

  // Preview: what the order is worth, the fee at the taker rate (maker when post-only:
  // it can only rest), and the total that leaves or reaches the quote balance.
  const qScale = m.quote_decimals;
  const refPrice = isPriced(form.type) ? price : stop ?? (reference ? parse(reference) : null);
  const estimated = !isPriced(form.type);
  let preview: Preview = { notional: null, fee: null, total: null, estimated };
  let notional: Dec | null = null;
  let total: Dec | null = null;
  if (qty && refPrice) {
    notional = mul(refPrice, qty);
    const feeBps = form.postOnly ? m.maker_fee_bps : m.taker_fee_bps;
    // The fee is rounded up on the exchange's side; preview it rounded up too.
    const exact = mul(notional, { units: BigInt(feeBps), scale: 4 });
    let fee = bps(notional, feeBps, qScale);
    if (cmp(fee, exact) < 0) fee = add(fee, { units: 1n, scale: qScale });
    total = form.side === 'buy' ? add(notional, fee) : sub(notional, fee);
    preview = { notional: format(notional, qScale), fee: format(fee, qScale), total: format(total, qScale), estimated };
  }

  if (notional && !estimated && !errors.price && !errors.quantity && cmp(notional, dec(m.min_notional)) < 0) {
    errors.quantity = `Order value ${format(notional, qScale)} is below the minimum ${m.min_notional} ${m.quote}`;
  }

  if (!errors.quantity && qty) {
    if (form.side === 'sell' && funds.base !== null && cmp(qty, dec(funds.base)) > 0) {
      errors.balance = `Not enough ${m.base}: ${funds.base} available`;
    }
    if (form.side === 'buy' && funds.quote !== null && total && cmp(total, dec(funds.quote)) > 0) {
      errors.balance = `Not enough ${m.quote}: ${funds.quote} available`;
    }
  }

  let body: Record<string, unknown> | null = null;
  if (Object.keys(errors).length === 0 && qty) {
    body = {
      market: m.symbol,
      side: form.side,
      type: form.type,
      quantity: format(qty),
      time_in_force: form.tif,
    };
    if (price) body.price = format(price);
    if (stop) body.stop_price = format(stop);
    if (form.postOnly) body.post_only = true;
    if (form.tif === 'gtd') body.expire_at = form.expireAt;
  }
  return { errors, preview, body };
}

/**
 * The quantity for "pct % of my balance": sells use the base balance, buys spend the quote
 * balance at `price` including the taker fee. Floored to the lot; `null` if it cannot be
 * worked out (no price, no balance) or is below one lot.
 */
export function quantityForPercent(
  pct: number,
  side: Side,
  m: Market,
  funds: Funds,
  price: string | null,
): string | null {
  const lot = dec(m.lot_size);
  let qty: Dec | null = null;
  if (side === 'sell') {
    if (funds.base === null) return null;
    qty = percent(dec(funds.base), pct);
  } else {
    const p = price ? positive(price) : null;
    if (funds.quote === null || !p) return null;
    const spend = percent(dec(funds.quote), pct);
    // price × (1 + fee): 10000 + bps over 10000.
    const perUnit = mul(p, { units: 10000n + BigInt(m.taker_fee_bps), scale: 4 });
    qty = div(spend, perUnit, lot.scale + 2);
  }
  if (!qty) return null;
  const floored = floorTo(qty, lot);
  if (isZero(floored)) return null;
  return format(floored, lot.scale);
}
