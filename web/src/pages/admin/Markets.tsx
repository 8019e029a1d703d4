import { useState } from 'react';
import { useMarkets } from '../../hooks/market';
import { api, ApiError } from '../../lib/api';
import { useToast } from '../../state/toasts';

export function Markets() {
  const toast = useToast();
  const { markets, reload } = useMarkets();
  const act = (symbol: string, halt: boolean) =>
    (halt ? api.adminHalt(symbol) : api.adminResume(symbol)).then(
      () => { toast('success', `${symbol} ${halt ? 'halted' : 'resumed'}`); reload(); },
      (e: ApiError) => toast('error', `${symbol}`, `${e.message} (${e.code})`),
    );
  return (
    <>
      <h2>Markets</h2>
      <table className="grid" data-testid="admin-markets">
        <thead>
          <tr><th>Symbol</th><th>Status</th><th className="right">Tick</th><th className="right">Lot</th><th className="right">Min notional</th><th className="right">Fees (maker/taker bp)</th><th className="right">Last</th><th /></tr>
        </thead>
        <tbody>
          {markets.map((m) => (
            <tr key={m.symbol} data-symbol={m.symbol}>
              <td className="text">{m.symbol}</td>
              <td>{m.status === 'halted' ? <span className="pill bad">halted</span> : <span className="pill ok">open</span>}</td>
              <td className="right">{m.tick_size}</td>
              <td className="right">{m.lot_size}</td>
              <td className="right">{m.min_notional}</td>
              <td className="right">{m.maker_fee_bps} / {m.taker_fee_bps}</td>
              <td className="right">{m.last_price ?? '—'}</td>
              <td className="right">
                {m.status === 'halted' ? (
                  <button className="btn small primary" onClick={() => void act(m.symbol, false)} data-testid={`resume-${m.symbol}`}>Resume</button>
                ) : (
                  <button className="btn small danger" onClick={() => void act(m.symbol, true)} data-testid={`halt-${m.symbol}`}>Halt</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <CreateMarket onDone={reload} />
    </>
  );
}

function CreateMarket({ onDone }: { onDone: () => void }) {
  const toast = useToast();
  const [f, setF] = useState({ symbol: '', base: '', quote: 'USD', tick_size: '0.01', lot_size: '0.001', min_notional: '1' });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = () =>
    api.adminCreateMarket({ ...f, symbol: f.symbol || `${f.base}-${f.quote}` }).then(
      (m) => { toast('success', `Market ${m.symbol} created`); onDone(); },
      (e: ApiError) => toast('error', 'Could not create the market', `${e.message} (${e.code})`),
    );
  const field = (k: keyof typeof f, label: string) => (
    <div className="field">
      <label htmlFor={`mk-${k}`}>{label}</label>
      <input id={`mk-${k}`} className="text-input" value={f[k]} onChange={set(k)} />
    </div>
  );
  return (
    <form className="card" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <h3>Create a market</h3>
      <div className="form-row">
        {field('base', 'Base asset')}
        {field('quote', 'Quote asset')}
        {field('symbol', 'Symbol (default BASE-QUOTE)')}
        {field('tick_size', 'Tick size')}
        {field('lot_size', 'Lot size')}
        {field('min_notional', 'Min notional')}
        <button className="btn primary" type="submit">Create</button>
      </div>
    </form>
  );
}
