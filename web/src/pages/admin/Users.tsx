import { useCallback, useEffect, useState } from 'react';
import { api, ApiError } from '../../lib/api';
import { useToast } from '../../state/toasts';

type Obj = Record<string, unknown>;

export function Users() {
  const toast = useToast();
  const [users, setUsers] = useState<Obj[]>([]);
  const [creditTo, setCreditTo] = useState('');
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api.adminUsers().then((u) => { setUsers(u); setError(null); }, (e: ApiError) => setError(`${e.message} (${e.code})`));
  }, []);
  useEffect(load, [load]);

  const update = (username: string, body: Obj, what: string) =>
    api.adminUpdateUser(username, body).then(
      () => { toast('success', `${username}: ${what}`); load(); },
      (e: ApiError) => toast('error', `Could not update ${username}`, `${e.message} (${e.code})`),
    );

  return (
    <>
      <h2>Users</h2>
      <Deposit onDone={load} username={creditTo} setUsername={setCreditTo} />
      {error && <p className="err">User list unavailable: {error}</p>}
      <table className="grid" data-testid="admin-users">
        <thead>
          <tr><th>ID</th><th>Username</th><th>Role</th><th>Tier</th><th>KYC</th><th>Kill switch</th><th /></tr>
        </thead>
        <tbody>
          {users.map((u) => {
            const name = String(u.username);
            return (
              <tr key={name} data-username={name}>
                <td>{String(u.id)}</td>
                <td className="text">{name}</td>
                <td>
                  <select className="sel" value={String(u.role)} onChange={(e) => void update(name, { role: e.target.value }, `role ${e.target.value}`)}>
                    {['trader', 'broker', 'admin'].map((r) => <option key={r}>{r}</option>)}
                  </select>
                </td>
                <td>
                  <select className="sel" value={String(u.tier)} onChange={(e) => void update(name, { tier: e.target.value }, `tier ${e.target.value}`)}>
                    {['standard', 'premium', 'broker'].map((r) => <option key={r}>{r}</option>)}
                  </select>
                </td>
                <td>
                  <button className="btn small" data-testid={`kyc-${name}`} onClick={() => void update(name, { kyc_verified: !u.kyc_verified }, u.kyc_verified ? 'KYC revoked' : 'KYC verified')}>
                    {u.kyc_verified ? <span className="pill ok">verified</span> : <span className="pill warn">unverified</span>}
                  </button>
                </td>
                <td>
                  <button className="btn small" data-testid={`kill-${name}`} onClick={() => void update(name, { kill_switch: !u.kill_switch }, u.kill_switch ? 'kill switch off' : 'kill switch ON')}>
                    {u.kill_switch ? <span className="pill bad">ON</span> : <span className="pill">off</span>}
                  </button>
                </td>
                <td className="right">
                  <button className="btn small" onClick={() => setCreditTo(name)}>Credit…</button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Deposit({ onDone, username, setUsername }: { onDone: () => void; username: string; setUsername: (u: string) => void }) {
  const toast = useToast();
  const [asset, setAsset] = useState('USD');
  const [amount, setAmount] = useState('');
  const submit = () =>
    api.adminDeposit(username, asset, amount).then(
      (r) => { toast('success', `Credited ${amount} ${asset} to ${username}`, `available ${String(r.available ?? '')}`); setAmount(''); onDone(); },
      (e: ApiError) => toast('error', 'Deposit failed', `${e.message} (${e.code})`),
    );
  return (
    <form className="card form-row" data-testid="deposit-form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <div className="field"><label htmlFor="dep-user">Credit user</label><input id="dep-user" className="text-input" value={username} onChange={(e) => setUsername(e.target.value)} placeholder="username" /></div>
      <div className="field"><label htmlFor="dep-asset">Asset</label><input id="dep-asset" className="text-input" value={asset} onChange={(e) => setAsset(e.target.value.toUpperCase())} /></div>
      <div className="field"><label htmlFor="dep-amount">Amount</label><input id="dep-amount" className="text-input" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} placeholder="1000" /></div>
      <button className="btn primary" type="submit" data-testid="deposit">Deposit</button>
    </form>
  );
}
