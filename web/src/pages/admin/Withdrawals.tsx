import { useCallback, useEffect, useState } from 'react';
import { api, ApiError } from '../../lib/api';
import { display } from '../../lib/decimal';
import { useToast } from '../../state/toasts';

type Obj = Record<string, unknown>;

export function Withdrawals() {
  const toast = useToast();
  const [rows, setRows] = useState<Obj[]>([]);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api.adminWithdrawals().then((w) => { setRows(w); setError(null); }, (e: ApiError) => setError(`${e.message} (${e.code})`));
  }, []);
  useEffect(() => {
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [load]);
  const act = (id: unknown, approve: boolean) =>
    (approve ? api.adminApproveWithdrawal(String(id)) : api.adminRejectWithdrawal(String(id))).then(
      () => { toast('success', `Withdrawal #${String(id)} ${approve ? 'approved' : 'rejected'}`); load(); },
      (e: ApiError) => toast('error', `Withdrawal #${String(id)}`, `${e.message} (${e.code})`),
    );
  return (
    <>
      <h2>Pending withdrawals</h2>
      {error && <p className="err">{error}</p>}
      {!rows.length && !error ? (
        <p className="muted">Nothing waiting for approval.</p>
      ) : (
        <table className="grid" data-testid="admin-withdrawals">
          <thead><tr><th>ID</th><th>User</th><th>Asset</th><th className="right">Amount</th><th>Address</th><th>Requested</th><th /></tr></thead>
          <tbody>
            {rows.map((w) => (
              <tr key={String(w.id)} data-id={String(w.id)}>
                <td>{String(w.id)}</td>
                <td className="text">{String(w.username ?? w.user ?? '')}</td>
                <td className="text">{String(w.asset)}</td>
                <td className="right">{display(String(w.amount))}</td>
                <td>{String(w.address ?? '')}</td>
                <td className="muted">{typeof w.created_at === 'number' ? new Date(w.created_at).toLocaleString([], { hour12: false }) : ''}</td>
                <td className="right">
                  <button className="btn small primary" onClick={() => void act(w.id, true)}>Approve</button>{' '}
                  <button className="btn small danger" onClick={() => void act(w.id, false)}>Reject</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
