// The user's account: profile, API keys (create, list, revoke) and the notifications inbox.
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, isMissingEndpoint } from '../lib/api';
import { display } from '../lib/decimal';
import { useAccount } from '../state/account';
import { useToast } from '../state/toasts';

type Obj = Record<string, unknown>;
const when = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toLocaleString([], { hour12: false }) : '—');

export function Account() {
  return (
    <div className="page">
      <h2>Account</h2>
      <Profile />
      <Withdraw />
      <ApiKeys />
      <Inbox />
    </div>
  );
}

function Profile() {
  const [me, setMe] = useState<Obj | null>(null);
  useEffect(() => {
    api.me().then(setMe, () => setMe(null));
  }, []);
  if (!me) return null;
  return (
    <div className="card kv" data-testid="profile">
      <span>Username</span><span>{String(me.username)}</span>
      <span>Role</span><span>{String(me.role)}</span>
      <span>Fee tier</span><span>{String(me.tier ?? '—')}</span>
      <span>KYC</span><span>{me.kyc_verified ? <span className="pill ok">verified</span> : <span className="pill warn">not verified</span>}</span>
      <span>Kill switch</span><span>{me.kill_switch ? <span className="pill bad">ON — trading disabled</span> : <span className="pill ok">off</span>}</span>
    </div>
  );
}

function ApiKeys() {
  const toast = useToast();
  const [keys, setKeys] = useState<Obj[]>([]);
  const [missing, setMissing] = useState(false);
  const [label, setLabel] = useState('');
  const [fresh, setFresh] = useState<Obj | null>(null);
  const load = useCallback(() => {
    api.apiKeys().then(setKeys, (e) => setMissing(isMissingEndpoint(e)));
  }, []);
  useEffect(load, [load]);

  const create = () =>
    api.createApiKey(label || 'key').then(
      (k) => { setFresh(k); setLabel(''); load(); },
      (e: ApiError) => toast('error', 'Could not create the key', e.message),
    );
  const revoke = (key: string) =>
    api.deleteApiKey(key).then(
      () => { toast('info', 'API key revoked'); load(); },
      (e: ApiError) => toast('error', 'Could not revoke the key', e.message),
    );

  return (
    <div className="card" data-testid="api-keys">
      <h3>API keys</h3>
      {missing ? (
        <p className="muted">This server does not offer API keys yet.</p>
      ) : (
        <>
          <p className="muted">
            Sign requests with <code>X-API-KEY</code>, <code>X-API-TIMESTAMP</code> and <code>X-API-SIGNATURE</code> = hex HMAC-SHA256(secret, timestamp + method + path + body).
          </p>
          <div className="form-row">
            <div className="field">
              <label htmlFor="key-label">Label</label>
              <input id="key-label" className="text-input" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="trading bot" />
            </div>
            <button className="btn primary" onClick={() => void create()}>Create key</button>
          </div>
          {fresh && (
            <div className="card">
              <p><b>Copy the secret now</b> — it is shown only once.</p>
              <div className="kv">
                <span>Key</span><span className="secret" data-testid="api-key">{String(fresh.key)}</span>
                <span>Secret</span><span className="secret" data-testid="api-secret">{String(fresh.secret)}</span>
              </div>
              <button className="btn" onClick={() => setFresh(null)}>Done</button>
            </div>
          )}
          {keys.length ? (
            <table className="grid" data-testid="api-key-list">
              <thead><tr><th>Key</th><th>Label</th><th>Created</th><th /></tr></thead>
              <tbody>
                {keys.map((k) => (
                  <tr key={String(k.key)} data-key={String(k.key)}>
                    <td>{String(k.key)}</td>
                    <td className="text">{String(k.label ?? '')}</td>
                    <td className="muted">{when(k.created_at)}</td>
                    <td className="right"><button className="btn small danger" onClick={() => void revoke(String(k.key))}>Revoke</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No API keys.</p>
          )}
        </>
      )}
    </div>
  );
}

function Inbox() {
  const { notifications, notificationsAvailable, markAllRead } = useAccount();
  return (
    <div className="card">
      <h3>Notifications</h3>
      {!notificationsAvailable ? (
        <p className="muted">No notifications inbox on this server yet; fills still appear as toasts.</p>
      ) : notifications.length === 0 ? (
        <p className="muted">Nothing yet.</p>
      ) : (
        <>
          <button className="btn small" onClick={markAllRead}>Mark all read</button>
          {notifications.map((n) => (
            <div key={String(n.id)} className={`inbox-item ${n.read ? '' : 'unread'}`}>
              <div><b>{n.title}</b> <span className="when">{when(n.time)}</span></div>
              <div className="muted">{n.body}</div>
            </div>
          ))}
        </>
      )}
    </div>
  );
}

function Withdraw() {
  const toast = useToast();
  const { balances, refresh } = useAccount();
  const [asset, setAsset] = useState('USD');
  const [amount, setAmount] = useState('');
  const [address, setAddress] = useState('');
  const [rows, setRows] = useState<Obj[]>([]);
  const load = useCallback(() => {
    api.withdrawals().then(setRows, () => setRows([]));
  }, []);
  useEffect(load, [load]);
  const submit = () =>
    api.requestWithdrawal(asset, amount, address).then(
      () => { toast('success', `Withdrawal of ${amount} ${asset} requested`, 'an operator approves it'); setAmount(''); load(); refresh(); },
      (e: ApiError) => toast('error', 'Withdrawal refused', `${e.message} (${e.code})`),
    );
  return (
    <div className="card">
      <h3>Withdraw</h3>
      <form className="form-row" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <div className="field">
          <label htmlFor="wd-asset">Asset</label>
          <select id="wd-asset" className="sel" value={asset} onChange={(e) => setAsset(e.target.value)}>
            {(balances.length ? balances.map((b) => b.asset) : ['USD']).map((a) => <option key={a}>{a}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="wd-amount">Amount (available {display(balances.find((b) => b.asset === asset)?.available)})</label>
          <input id="wd-amount" className="text-input" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="wd-address">Address</label>
          <input id="wd-address" className="text-input" value={address} onChange={(e) => setAddress(e.target.value)} placeholder="bank:DE89…" />
        </div>
        <button className="btn primary" type="submit" data-testid="withdraw">Request</button>
      </form>
      {rows.length > 0 && (
        <table className="grid" data-testid="my-withdrawals">
          <thead><tr><th>ID</th><th>Asset</th><th className="right">Amount</th><th>Address</th><th>Status</th><th>Requested</th></tr></thead>
          <tbody>
            {rows.map((w) => (
              <tr key={String(w.id)}>
                <td>{String(w.id)}</td>
                <td className="text">{String(w.asset)}</td>
                <td className="right">{display(String(w.amount))}</td>
                <td>{String(w.address)}</td>
                <td className="text">{String(w.status)}</td>
                <td className="muted">{when(w.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
