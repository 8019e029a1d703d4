// The logged-in user: token (kept in localStorage), id and role from the token's claims.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, setToken, setUnauthorizedHandler } from '../lib/api';
import type { Session } from '../lib/types';
import { ws } from '../lib/ws';

const KEY = 'bourse.session';

interface SessionApi {
  session: Session | null;
  login(username: string, password: string): Promise<void>;
  register(username: string, password: string): Promise<void>;
  logout(): void;
}

const Ctx = createContext<SessionApi | null>(null);

/** The JWT's payload (sub, role, exp); the signature is the server's business. */
export function claims(token: string): { sub?: number; role?: string; exp?: number } {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return {};
  }
}

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    if (s && s.expiresAt > Date.now()) return s;
  } catch {
    /* a bad entry is the same as none */
  }
  return null;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => {
    const s = load();
    setToken(s?.token ?? null);
    return s;
  });

  useEffect(() => {
    setToken(session?.token ?? null);
    ws?.setToken(session?.token ?? null);
    if (session) localStorage.setItem(KEY, JSON.stringify(session));
    else localStorage.removeItem(KEY);
  }, [session]);

  const logout = useCallback(() => {
    api.logout().catch(() => undefined);
    setToken(null);
    setSession(null);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => setSession(null));
    return () => setUnauthorizedHandler(null);
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const t = await api.login(username, password);
    const c = claims(t.token);
    setToken(t.token);
    setSession({ token: t.token, expiresAt: t.expires_at, username, userId: Number(c.sub ?? 0), role: String(c.role ?? 'trader') });
  }, []);

  const register = useCallback(
    async (username: string, password: string) => {
      await api.register(username, password);
      await login(username, password);
    },
    [login],
  );

  const value = useMemo(() => ({ session, login, register, logout }), [session, login, register, logout]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): SessionApi {
  const v = useContext(Ctx);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}
