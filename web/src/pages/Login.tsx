import { useState, type FormEvent } from 'react';
import { ApiError } from '../lib/api';
import { navigate } from '../router';
import { useSession } from '../state/session';

export function Login() {
  const { login, register } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (what: 'login' | 'register', e?: FormEvent) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (what === 'login' ? login(username, password) : register(username, password));
      navigate('/');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-wrap">
      <form className="card login" onSubmit={(e) => void run('login', e)} data-testid="login-form">
        <h2>Bourse</h2>
        <p className="muted">Log in, or create an account (3–32 characters; password at least 8).</p>
        <div className="field">
          <label htmlFor="username">Username</label>
          <input id="username" name="username" className="text-input" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input id="password" name="password" type="password" className="text-input" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        {error && <p className="err" data-testid="login-error">{error}</p>}
        <div className="actions">
          <button className="btn primary" type="submit" disabled={busy} data-testid="login">Log in</button>
          <button className="btn" type="button" disabled={busy} onClick={() => void run('register')} data-testid="register">Register</button>
        </div>
      </form>
    </div>
  );
}
