import { useEffect, useMemo, useState } from 'react';
import { api, ApiError } from '../lib/api';
import { display, trim } from '../lib/decimal';
import { forTier, isPriced, isStop, quantityForPercent, tifChoices, validateOrder, type OrderForm } from '../lib/orderForm';
import type { Balance, Market, OrderType, Side, Tif } from '../lib/types';
import { useToast } from '../state/toasts';

const TYPES: [OrderType, string][] = [
  ['limit', 'Limit'],
  ['market', 'Market'],
  ['stop_limit', 'Stop-limit'],
  ['stop_market', 'Stop-market'],
];

interface Props {
  market: Market;
  /** The user's fee tier: the preview and the % buttons use its fees. */
  tier?: string | null;
  balances: Balance[];
  loggedIn: boolean;
  /** A price picked from the book. */
  pickedPrice: { price: string; n: number } | null;
  bestBid: string | null;
  bestAsk: string | null;
  onPlaced: () => void;
}

export function OrderEntry({ market: listed, tier, balances, loggedIn, pickedPrice, bestBid, bestAsk, onPlaced }: Props) {
  const market = useMemo(() => forTier(listed, tier), [listed, tier]);
  const toast = useToast();
  const [side, setSide] = useState<Side>('buy');
  const [type, setType] = useState<OrderType>('limit');
  const [price, setPrice] = useState('');
  const [stopPrice, setStopPrice] = useState('');
  const [quantity, setQuantity] = useState('');
  const [tif, setTif] = useState<Tif>('gtc');
  const [postOnly, setPostOnly] = useState(false);
  const [expiry, setExpiry] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);

  useEffect(() => {
    setPrice('');
    setStopPrice('');
    setQuantity('');
    setTouched(false);
  }, [market.symbol]);

  useEffect(() => {
    if (pickedPrice) setPrice(pickedPrice.price);
  }, [pickedPrice]);

  useEffect(() => {
    if (!tifChoices(type).includes(tif)) setTif(tifChoices(type)[0]);
    if (type !== 'limit') setPostOnly(false);
  }, [type, tif]);

  const bal = (asset: string) => balances.find((b) => b.asset === asset)?.available ?? null;
  const funds = { base: bal(market.base), quote: bal(market.quote) };
  const reference = side === 'buy' ? bestAsk ?? market.last_price : bestBid ?? market.last_price;

  const form: OrderForm = {
    side, type, price, stopPrice, quantity, tif, postOnly,
    expireAt: expiry ? new Date(expiry).getTime() : undefined,
  };
  const v = useMemo(
    () => validateOrder(form, market, loggedIn ? funds : { base: null, quote: null }, reference),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [side, type, price, stopPrice, quantity, tif, postOnly, expiry, market, funds.base, funds.quote, reference, loggedIn],
  );
  const show = (f: keyof typeof v.errors, value: string) => (touched || value !== '') && v.errors[f];

  const pct = (p: number) => {
    const ref = isPriced(type) ? price || reference : isStop(type) ? stopPrice || reference : reference;
    const q = quantityForPercent(p, side, market, funds, ref ?? null);
    if (q) setQuantity(q);
    else toast('error', 'Cannot size the order', side === 'buy' ? 'Enter a price first (or wait for the book)' : `No ${market.base} available`);
  };

  const submit = async () => {
    setTouched(true);
    setServerError(null);
    if (!v.body) return;
    setBusy(true);
    try {
      const o = await api.placeOrder(v.body);
      const filled = o.filled_quantity && !/^0(\.0*)?$/.test(o.filled_quantity);
      toast(
        'success',
        `${side === 'buy' ? 'Buy' : 'Sell'} ${type.replace('_', '-')} order ${o.status.replace('_', ' ')}`,
        `#${o.id} ${trim(o.quantity ?? '')} ${market.base}${o.price ? ` @ ${o.price}` : ''}${filled ? ` · filled ${trim(o.filled_quantity)}` : ''}`,
      );
      setQuantity('');
      setTouched(false);
      onPlaced();
    } catch (e) {
      const msg = e instanceof ApiError ? `${e.message} (${e.code})` : String(e);
      setServerError(msg);
      toast('error', 'Order rejected', msg);
    } finally {
      setBusy(false);
    }
  };

  const halted = market.status === 'halted';
  return (
    <form
      className="entry"
      data-testid="order-entry"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="sides">
        <button type="button" className={`buy ${side === 'buy' ? 'active' : ''}`} onClick={() => setSide('buy')}>Buy</button>
        <button type="button" className={`sell ${side === 'sell' ? 'active' : ''}`} onClick={() => setSide('sell')}>Sell</button>
      </div>
      <div className="seg" role="tablist">
        {TYPES.map(([t, label]) => (
          <button key={t} type="button" className={type === t ? 'active' : ''} onClick={() => setType(t)} data-testid={`type-${t}`}>
            {label}
          </button>
        ))}
      </div>
      <div className="avail">
        <span>Available</span>
        <span className="num">
          {side === 'buy' ? `${display(funds.quote)} ${market.quote}` : `${display(funds.base)} ${market.base}`}
        </span>
      </div>
      {isStop(type) && (
        <div className="field">
          <label htmlFor="stop">Stop price</label>
          <div className={`input ${show('stopPrice', stopPrice) ? 'invalid' : ''}`}>
            <input id="stop" inputMode="decimal" autoComplete="off" value={stopPrice} onChange={(e) => setStopPrice(e.target.value)} placeholder={market.tick_size} />
            <span className="unit">{market.quote}</span>
          </div>
          {show('stopPrice', stopPrice) && <span className="err">{v.errors.stopPrice}</span>}
        </div>
      )}
      {isPriced(type) ? (
        <div className="field">
          <label htmlFor="price">Price</label>
          <div className={`input ${show('price', price) ? 'invalid' : ''}`}>
            <input id="price" name="price" inputMode="decimal" autoComplete="off" value={price} onChange={(e) => setPrice(e.target.value)} placeholder={market.tick_size} />
            <span className="unit">{market.quote}</span>
          </div>
          {show('price', price) && <span className="err">{v.errors.price}</span>}
        </div>
      ) : (
        <div className="field">
          <span className="label">Price</span>
          <div className="input"><input disabled value="Market" /><span className="unit">{market.quote}</span></div>
        </div>
      )}
      <div className="field">
        <label htmlFor="qty">Quantity</label>
        <div className={`input ${show('quantity', quantity) ? 'invalid' : ''}`}>
          <input id="qty" name="quantity" inputMode="decimal" autoComplete="off" value={quantity} onChange={(e) => setQuantity(e.target.value)} placeholder={market.lot_size} />
          <span className="unit">{market.base}</span>
        </div>
        {show('quantity', quantity) && <span className="err">{v.errors.quantity}</span>}
      </div>
      <div className="pcts">
        {[25, 50, 75, 100].map((p) => (
          <button key={p} type="button" onClick={() => pct(p)} disabled={!loggedIn}>{p}%</button>
        ))}
      </div>
      <div className="row2">
        <div className="field">
          <label htmlFor="tif">Time in force</label>
          <select id="tif" className="sel" value={tif} onChange={(e) => setTif(e.target.value as Tif)}>
            {tifChoices(type).map((t) => (
              <option key={t} value={t}>{t.toUpperCase()}</option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={postOnly} disabled={type !== 'limit'} onChange={(e) => setPostOnly(e.target.checked)} /> Post-only
        </label>
      </div>
      {tif === 'gtd' && (
        <div className="field">
          <label htmlFor="exp">Expires</label>
          <input id="exp" className="text-input" type="datetime-local" value={expiry} onChange={(e) => setExpiry(e.target.value)} />
        </div>
      )}
      {(v.errors.tif || v.errors.postOnly) && <span className="err">{v.errors.tif ?? v.errors.postOnly}</span>}
      <div className="preview" data-testid="order-preview">
        <span>{v.preview.estimated ? 'Est. value' : 'Value'}</span>
        <span>{v.preview.notional ? `${display(v.preview.notional)} ${market.quote}` : '—'}</span>
        <span>Fee ({postOnly ? market.maker_fee_bps : market.taker_fee_bps} bp)</span>
        <span>{v.preview.fee ? `${display(v.preview.fee)} ${market.quote}` : '—'}</span>
        <span>{side === 'buy' ? 'Total cost' : 'You receive'}</span>
        <span>{v.preview.total ? `${display(v.preview.total)} ${market.quote}` : '—'}</span>
      </div>
      {v.errors.balance && (touched || quantity !== '') && <span className="err">{v.errors.balance}</span>}
      {serverError && <span className="err" data-testid="order-error">{serverError}</span>}
      {loggedIn ? (
        <button type="submit" className={`btn ${side}`} disabled={busy || halted} data-testid="place-order">
          {halted ? 'Market halted' : `${side === 'buy' ? 'Buy' : 'Sell'} ${market.base}`}
        </button>
      ) : (
        <a className="btn primary" href="/login">Log in to trade</a>
      )}
    </form>
  );
}
