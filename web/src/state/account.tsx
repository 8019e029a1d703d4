// The logged-in user's private data: balances, open orders, order history, fills and
// notifications. Loaded over REST once; then the private WS frames update it from their
// own data (`privateFrames.ts`: a balance, a fill, an order event), and only a frame the
// page cannot place (an order it never saw) or a notification (the inbox) costs a REST
// read. Polled while any channel is not live (socket down, the subscription not
// acknowledged yet, updates lost): a quiet account on a live socket is not polled.
// New fills and new notifications become toasts.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api } from '../lib/api';
import { trim } from '../lib/decimal';
import type { Balance, Fill, Notification, Order } from '../lib/types';
import { PRIVATE_CHANNELS as PRIVATE, ws } from '../lib/ws';
import { applyBalance, applyFill, applyOrder, fillKey, type Orders } from './privateFrames';
import { useSession } from './session';
import { useToast } from './toasts';

interface Account {
  balances: Balance[];
  openOrders: Order[];
  history: Order[];
  fills: Fill[];
  notifications: Notification[];
  notificationsAvailable: boolean;
  refresh(): void;
  markAllRead(): void;
  markRead(id: number | string): void;
}

const empty: Account = {
  balances: [], openOrders: [], history: [], fills: [], notifications: [], notificationsAvailable: false,
  refresh: () => undefined, markAllRead: () => undefined, markRead: () => undefined,
};
const Ctx = createContext<Account>(empty);

/**
 * Notifications that become toasts: not the echo of what the user just did (the order
 * form and the fill toasts say that already) nor low-priority balance updates; yes to
 * what happens *to* the user (admin actions, expiries, kill switch, announcements).
 */
export function worthAToast(n: Notification): boolean {
  if (n.priority === 'low') return false;
  if (/^(balance_updated|order_accepted|order_amended|order_filled|order_partially_filled|trade)/.test(n.kind)) return false;
  if (n.kind === 'order_canceled' && /\(user\)/.test(n.body)) return false;
  return true;
}

const POLL_MS = 3000;

export function AccountProvider({ children }: { children: ReactNode }) {
  const { session } = useSession();
  const toast = useToast();
  const [balances, setBalances] = useState<Balance[]>([]);
  // Open orders and history change together (an order moves from one to the other).
  const [orders, setOrders] = useState<Orders>({ open: [], history: [] });
  const [fills, setFills] = useState<Fill[]>([]);
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [notificationsAvailable, setNA] = useState(false);
  const seenFills = useRef<Set<string> | null>(null);
  const seenNotes = useRef<Set<string> | null>(null);
  const inflight = useRef(false);
  const again = useRef(false);

  const fillToast = useCallback(
    (x: Fill) => toast('success', `Filled: ${x.side.toUpperCase()} ${trim(x.quantity)} ${x.market}`, `@ ${x.price} · fee ${x.fee} ${x.fee_asset} · ${x.liquidity}`),
    [toast],
  );

  const loadNotifications = useCallback(async () => {
    const n = await api.notifications();
    setNA(true);
    const key = (x: Notification) => String(x.id);
    if (seenNotes.current) {
      for (const x of n) if (!seenNotes.current.has(key(x)) && !x.read && worthAToast(x)) toast('info', x.title, x.body);
    }
    seenNotes.current = new Set(n.map(key));
    setNotifications(n);
  }, [toast]);

  const load = useCallback(async () => {
    if (!session) return;
    if (inflight.current) {
      again.current = true;
      return;
    }
    inflight.current = true;
    try {
      const [b, o, h, f] = await Promise.allSettled([
        api.balances(), api.orders('open'), api.orders('closed'), api.fills(), loadNotifications(),
      ]);
      if (b.status === 'fulfilled') setBalances(b.value);
      if (o.status === 'fulfilled') setOrders((x) => ({ ...x, open: o.value }));
      if (h.status === 'fulfilled') setOrders((x) => ({ ...x, history: h.value }));
      if (f.status === 'fulfilled') {
        if (seenFills.current) {
          for (const x of f.value) if (!seenFills.current.has(fillKey(x))) fillToast(x);
        }
        seenFills.current = new Set(f.value.map(fillKey));
        setFills(f.value);
      }
    } finally {
      inflight.current = false;
      if (again.current) {
        again.current = false;
        void load();
      }
    }
  }, [session, fillToast, loadNotifications]);

  useEffect(() => {
    seenFills.current = null;
    seenNotes.current = null;
    setBalances([]); setOrders({ open: [], history: [] }); setFills([]); setNotifications([]);
    if (!session) return;
    void load();
    // A frame the page cannot place: one REST reload (debounced, frames come in bursts).
    let t: ReturnType<typeof setTimeout> | null = null;
    const kick = () => {
      if (t) return;
      t = setTimeout(() => { t = null; void load(); }, 150);
    };
    const onFrame: Record<string, (data: unknown) => void> = {
      balances: (d) => setBalances((b) => {
        const next = applyBalance(b, d);
        if (next === 'unknown') { kick(); return b; }
        return next;
      }),
      fills: (d) => {
        const x = d as Fill;
        if (seenFills.current && x && !seenFills.current.has(fillKey(x))) {
          seenFills.current.add(fillKey(x));
          fillToast(x);
        }
        setFills((f) => {
          const next = applyFill(f, d);
          if (next === 'unknown') { kick(); return f; }
          return next;
        });
      },
      orders: (d) => {
        const now = Date.now();
        setOrders((x) => {
          const next = applyOrder(x, d, now);
          if (next === 'unknown') { kick(); return x; }
          return next;
        });
      },
      notifications: () => void loadNotifications().catch(() => undefined),
    };
    const offs = ws ? PRIVATE.map((c) => ws.subscribe(c, (m) => (onFrame[c] ?? kick)(m.data))) : [];
    // Poll while a channel is not live, and once more on the first tick after they all
    // are: what changed before the server acknowledged them is in no frame.
    let wasLive = false;
    const poll = setInterval(() => {
      const live = !!ws && PRIVATE.every((c) => ws.isLive(c));
      if (!live || !wasLive) void load();
      wasLive = live;
    }, POLL_MS);
    return () => {
      offs.forEach((f) => f());
      clearInterval(poll);
      if (t) clearTimeout(t);
    };
  }, [session, load, fillToast, loadNotifications]);

  const markAllRead = useCallback(() => {
    setNotifications((ns) => ns.map((n) => ({ ...n, read: true })));
    api.markAllNotificationsRead().catch(() => undefined);
  }, []);

  const markRead = useCallback((id: number | string) => {
    setNotifications((ns) => ns.map((n) => (n.id === id ? { ...n, read: true } : n)));
    api.markNotificationRead(id).catch(() => undefined);
  }, []);

  const value = useMemo(
    () => ({ balances, openOrders: orders.open, history: orders.history, fills, notifications, notificationsAvailable, refresh: () => void load(), markAllRead, markRead }),
    [balances, orders, fills, notifications, notificationsAvailable, load, markAllRead, markRead],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export const useAccount = () => useContext(Ctx);
