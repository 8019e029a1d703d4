// REST client. Every call goes to this origin (the page and the API are served together),
// errors come back as `ApiError` carrying the contract's `{error: {code, message}}`.
// The normalisers accept the field names of DESIGN §4 and a few close variants, so the
// terminal keeps working while endpoints settle; money stays a string throughout.

import type { Dashboard } from './monitoring';
import type { Balance, Candle, Fill, Market, Notification, Order, Ticker, Trade } from './types';

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

let token: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setToken(t: string | null) {
  token = t;
}

export function setUnauthorizedHandler(f: (() => void) | null) {
  onUnauthorized = f;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `cannot reach the server (${String(e)})`);
  }
  const text = await res.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401 && token && onUnauthorized) onUnauthorized();
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? res.statusText);
  }
  return json as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

/** Is this error "the endpoint does not exist (yet)"? The UI then says so and carries on. */
export function isMissingEndpoint(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 404 || e.status === 405) && (e.code === 'NOT_FOUND' || e.code === 'METHOD_NOT_ALLOWED');
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** A list answer may be a bare array or `{<key>: [...], next_cursor}`. */
export function listOf<T>(v: unknown, ...keys: string[]): T[] {
  if (Array.isArray(v)) return v as T[];
  if (v && typeof v === 'object') {
    for (const k of [...keys, 'items', 'data']) {
      const x = (v as Obj)[k];
      if (Array.isArray(x)) return x as T[];
    }
  }
  return [];
}

export function normTrade(raw: unknown): Trade | null {
  if (!raw || typeof raw !== 'object') return null;
  const t = raw as Obj;
  const price = str(t.price);
  const quantity = str(t.quantity ?? t.qty ?? t.size);
  if (!price || !quantity) return null;
  const sideRaw = str(t.taker_side ?? t.side ?? (t.is_buyer_maker === true ? 'sell' : t.is_buyer_maker === false ? 'buy' : 'buy'));
  return {
    id: Number(t.id ?? t.trade_id ?? 0),
    price,
    quantity,
    side: sideRaw === 'sell' ? 'sell' : 'buy',
    time: Number(t.created_at ?? t.time ?? t.timestamp ?? t.ts ?? Date.now()),
  };
}

export function normCandle(raw: unknown): Candle | null {
  if (Array.isArray(raw)) {
    const [time, open, high, low, close, volume] = raw;
    return { time: Number(time), open: String(open), high: String(high), low: String(low), close: String(close), volume: String(volume ?? '0') };
  }
  if (!raw || typeof raw !== 'object') return null;
  const c = raw as Obj;
  const open = str(c.open ?? c.o);
  const close = str(c.close ?? c.c);
  if (open === null || close === null) return null;
  return {
    time: Number(c.open_time ?? c.time ?? c.start ?? c.t ?? 0),
    open,
    high: str(c.high ?? c.h) ?? open,
    low: str(c.low ?? c.l) ?? open,
    close,
    volume: str(c.volume ?? c.v ?? c.base_volume) ?? '0',
  };
}

export function normTicker(raw: unknown): Ticker {
  const t = (raw ?? {}) as Obj;
  return {
    last: str(t.last ?? t.last_price ?? t.close),
    change: str(t.change_percent ?? t.price_change_percent ?? t.change),
    high: str(t.high ?? t.high_24h),
    low: str(t.low ?? t.low_24h),
    volume: str(t.volume ?? t.volume_24h ?? t.base_volume),
    bid: str(t.bid ?? t.best_bid),
    ask: str(t.ask ?? t.best_ask),
  };
}

export function normNotification(raw: unknown): Notification | null {
  if (!raw || typeof raw !== 'object') return null;
  const n = raw as Obj;
  const kind = String(n.kind ?? n.type ?? n.category ?? 'info');
  return {
    id: (n.id as number | string) ?? `${kind}-${n.created_at ?? Date.now()}`,
    kind,
    priority: String(n.priority ?? 'normal'),
    title: String(n.title ?? n.subject ?? kind.replace(/_/g, ' ')),
    body: String(n.body ?? n.message ?? n.text ?? ''),
    time: Number(n.created_at ?? n.time ?? Date.now()),
    read: Boolean(n.read ?? n.read_at ?? false),
  };
}

// Typed endpoints ----------------------------------------------------------------------

export const api = {
  markets: () => get<Market[]>('/api/v1/markets').then((v) => listOf<Market>(v, 'markets')),
  book: (symbol: string, depth = 50) =>
    get<{ symbol: string; sequence: number; bids: [string, string][]; asks: [string, string][] }>(
      `/api/v1/markets/${encodeURIComponent(symbol)}/book?depth=${depth}`,
    ),
  trades: (symbol: string) =>
    get<unknown>(`/api/v1/markets/${encodeURIComponent(symbol)}/trades?limit=50`).then((v) =>
      listOf<unknown>(v, 'trades').map(normTrade).filter((t): t is Trade => t !== null),
    ),
  ticker: (symbol: string) => get<unknown>(`/api/v1/markets/${encodeURIComponent(symbol)}/ticker`).then(normTicker),
  candles: (symbol: string, interval: string) =>
    get<unknown>(`/api/v1/markets/${encodeURIComponent(symbol)}/candles?interval=${interval}`).then((v) =>
      listOf<unknown>(v, 'candles').map(normCandle).filter((c): c is Candle => c !== null),
    ),
  register: (username: string, password: string) => post('/api/v1/auth/register', { username, password }),
  login: (username: string, password: string) =>
    post<{ token: string; expires_at: number }>('/api/v1/auth/login', { username, password }),
  logout: () => post('/api/v1/auth/logout'),
  me: () => get<Obj>('/api/v1/auth/me'),
  balances: () => get<unknown>('/api/v1/balances').then((v) => listOf<Balance>(v, 'balances')),
  orders: (status: 'open' | 'closed', market?: string) =>
    get<unknown>(`/api/v1/orders?status=${status}&limit=100${market ? `&market=${encodeURIComponent(market)}` : ''}`).then((v) =>
      listOf<Order>(v, 'orders'),
    ),
  placeOrder: (body: Record<string, unknown>) => post<Order>('/api/v1/orders', body),
  cancelOrder: (id: number) => del<Order>(`/api/v1/orders/${id}`),
  cancelAll: (market?: string) => del<unknown>(`/api/v1/orders${market ? `?market=${encodeURIComponent(market)}` : ''}`),
  amendOrder: (id: number, body: { price?: string; quantity?: string }) => patch<Order>(`/api/v1/orders/${id}`, body),
  withdrawals: () => get<unknown>('/api/v1/withdrawals').then((v) => listOf<Obj>(v, 'withdrawals')),
  requestWithdrawal: (asset: string, amount: string, address: string) => post<Obj>('/api/v1/withdrawals', { asset, amount, address }),
  fills: () => get<unknown>('/api/v1/fills?limit=100').then((v) => listOf<Fill>(v, 'fills')),
  notifications: () =>
    get<unknown>('/api/v1/notifications').then((v) =>
      listOf<unknown>(v, 'notifications').map(normNotification).filter((n): n is Notification => n !== null),
    ),
  markNotificationRead: (id: number | string) => post(`/api/v1/notifications/${id}/read`),
  markAllNotificationsRead: () => post('/api/v1/notifications/read-all'),
  apiKeys: () => get<unknown>('/api/v1/api-keys').then((v) => listOf<Obj>(v, 'api_keys', 'keys')),
  createApiKey: (label: string) => post<Obj>('/api/v1/api-keys', label ? { label } : {}),
  deleteApiKey: (key: string) => del(`/api/v1/api-keys/${encodeURIComponent(key)}`),
  // Admin
  adminUsers: () => get<unknown>('/api/v1/admin/users?limit=200').then((v) => listOf<Obj>(v, 'users')),
  adminUpdateUser: (user: string | number, body: Obj) => patch<Obj>(`/api/v1/admin/users/${encodeURIComponent(String(user))}`, body),
  adminDeposit: (username: string, asset: string, amount: string) =>
    post<Obj>('/api/v1/admin/deposits', { username, asset, amount }),
  adminWithdrawals: () =>
    get<unknown>('/api/v1/admin/withdrawals?status=pending').then((v) => listOf<Obj>(v, 'withdrawals')),
  adminApproveWithdrawal: (id: number | string) => post<Obj>(`/api/v1/admin/withdrawals/${id}/approve`),
  adminRejectWithdrawal: (id: number | string) => post<Obj>(`/api/v1/admin/withdrawals/${id}/reject`),
  adminCreateMarket: (body: Obj) => post<Market>('/api/v1/admin/markets', body),
  adminHalt: (symbol: string) => post<Obj>(`/api/v1/admin/markets/${encodeURIComponent(symbol)}/halt`),
  adminResume: (symbol: string) => post<Obj>(`/api/v1/admin/markets/${encodeURIComponent(symbol)}/resume`),
  health: () => request<Obj>('GET', '/health').catch((e) => {
    throw e;
  }),
  adminState: () => get<Obj>('/api/v1/admin/state'),
  monitoringDashboard: () => get<Dashboard>('/api/v1/monitoring/dashboard'),
};
