// Shell: providers, the top bar and the page for the current path.
//   /                 terminal (first market)     /trade/:symbol   terminal
//   /login            log in or register          /account         profile, API keys, inbox
//   /admin/:page      admin console (admin role)
import { useEffect, useState } from 'react';
import { useMarkets } from './hooks/market';
import { ws, type WsStatus } from './lib/ws';
import { Account } from './pages/Account';
import { Admin } from './pages/admin/Admin';
import { Login } from './pages/Login';
import { Terminal } from './pages/Terminal';
import { Link, match, navigate, usePath } from './router';
import { AccountProvider, useAccount } from './state/account';
import { SessionProvider, useSession } from './state/session';
import { ToastProvider } from './state/toasts';

export function App() {
  useEffect(() => {
    ws?.start();
    return () => ws?.stop();
  }, []);
  return (
    <ToastProvider>
      <SessionProvider>
        <AccountProvider>
          <Shell />
        </AccountProvider>
      </SessionProvider>
    </ToastProvider>
  );
}

function useWsStatus(): WsStatus {
  const [s, setS] = useState<WsStatus>(ws?.status ?? 'closed');
  useEffect(() => ws?.onStatus(setS), []);
  return s;
}

function Shell() {
  const path = usePath();
  const { session, logout } = useSession();
  const { markets, error } = useMarkets();
  const isAdmin = session?.role === 'admin';

  let page;
  const trade = match('/trade/:symbol', path);
  const admin = match('/admin/:page', path);
  if (path === '/login') page = <Login />;
  else if (path === '/account') page = session ? <Account /> : <Redirect to="/login" />;
  else if (path === '/admin' || admin) page = isAdmin ? <Admin sub={admin?.page ?? ''} /> : session ? <div className="page"><p>Admins only.</p></div> : <Redirect to="/login" />;
  else page = <Terminal markets={markets} symbol={trade?.symbol ?? null} />;

  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand"><img src="/favicon.svg" alt="" /><span>BOURSE</span></Link>
        <nav className="nav">
          <Link to="/" className={path === '/' || trade ? 'active' : ''}>Trade</Link>
          {session && <Link to="/account">Account</Link>}
          {isAdmin && <Link to="/admin/users" activePrefix="/admin" data-testid="nav-admin">Admin</Link>}
        </nav>
        <span className="spacer" />
        {error && <span className="err">API unreachable</span>}
        <WsIndicator />
        {session ? (
          <div className="userbox">
            <Bell />
            <span data-testid="whoami">{session.username}{isAdmin ? ' (admin)' : ''}</span>
            <button className="btn small" onClick={() => { logout(); navigate('/'); }}>Log out</button>
          </div>
        ) : (
          path !== '/login' && <Link to="/login" className="btn small primary" data-testid="nav-login">Log in / Register</Link>
        )}
      </header>
      {page}
    </div>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

function WsIndicator() {
  const s = useWsStatus();
  const title = s === 'open' ? 'Live (WebSocket connected)' : s === 'connecting' ? 'Connecting…' : 'Offline: polling';
  return <span className={`ws-dot ${s}`} title={title} data-testid="ws-status" data-status={s} />;
}

function Bell() {
  const { notifications, notificationsAvailable, markAllRead, markRead } = useAccount();
  const [open, setOpen] = useState(false);
  const unread = notifications.filter((n) => !n.read).length;
  return (
    <>
      <button className="bell" onClick={() => setOpen(!open)} aria-label="Notifications" data-testid="bell">
        <BellIcon />{unread > 0 && <span className="badge">{unread}</span>}
      </button>
      {open && (
        <div className="inbox" data-testid="inbox">
          <div className="panel-head">
            Notifications <span className="spacer" />
            {unread > 0 && <button className="link" onClick={markAllRead}>Mark all read</button>}
          </div>
          {!notificationsAvailable ? (
            <div className="empty">No inbox on this server yet</div>
          ) : notifications.length === 0 ? (
            <div className="empty">Nothing yet</div>
          ) : (
            notifications.slice(0, 30).map((n) => (
              <div key={String(n.id)} className={`inbox-item ${n.read ? '' : 'unread'}`} onClick={() => !n.read && markRead(n.id)}>
                <div><b>{n.title}</b></div>
                <div className="muted">{n.body}</div>
                <div className="when">{new Date(n.time).toLocaleString([], { hour12: false })}</div>
              </div>
            ))
          )}
        </div>
      )}
    </>
  );
}

function BellIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
      <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
      <path d="M13.7 21a2 2 0 0 1-3.4 0" />
    </svg>
  );
}
