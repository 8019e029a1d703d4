// The logged-in user's private data: balances, open orders, order history, fills and
// notifications. Loaded over REST; refreshed when the private WS channels (orders, fills,
// balances, notifications) say something changed, and polled while any of them is not
// live (socket down, or the subscription not acknowledged yet). A quiet account on a live
// socket is not polled: the channels are live from their subscribe ack, not their first
// message.
// New fills and new notifications become toasts.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api } from '../lib/api';
import { trim } from '../lib/decimal';
import type { Balance, Fill, Notification, Order } from '../lib/types';
import { PRIVATE_CHANNELS as PRIVATE, ws } from '../lib/ws';
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
  const [openOrders, setOpen] = useState<Order[]>([]);
  const [history, setHistory] = useState<Order[]>([]);
  const [fills, setFills] = useState<Fill[]>([]);
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [notificationsAvailable, setNA] = useState(false);
  const seenFills = useRef<Set<string> | null>(null);
  const seenNotes = useRef<Set<string> | null>(null);
  const inflight = useRef(false);
  const again = useRef(false);

  const load = useCallback(async () => {
    if (!session) return;
    if (inflight.current) {
      again.current = true;
      return;
    }
    inflight.current = true;
    try {
      const [b, o, h, f, n] = await Promise.allSettled([
        api.balances(), api.orders('open'), api.orders('closed'), api.fills(), api.notifications(),
      ]);
      if (b.status === 'fulfilled') setBalances(b.value);
      if (o.status === 'fulfilled') setOpen(o.value);
      if (h.status === 'fulfilled') setHistory(h.value);
      if (f.status === 'fulfilled') {
        const key = (x: Fill) => `${x.trade_id}:${x.order_id}`;
        if (seenFills.current) {
          for (const x of f.value) {
            if (!seenFills.current.has(key(x))) {
              toast('success', `Filled: ${x.side.toUpperCase()} ${trim(x.quantity)} ${x.market}`, `@ ${x.price} · fee ${x.fee} ${x.fee_asset} · ${x.liquidity}`);
            }
          }
        }
        seenFills.current = new Set(f.value.map(key));
        setFills(f.value);
      }
      if (n.status === 'fulfilled') {
        setNA(true);
        const key = (x: Notification) => String(x.id);
        if (seenNotes.current) {
          for (const x of n.value) if (!seenNotes.current.has(key(x)) && !x.read && worthAToast(x)) toast('info', x.title, x.body);
        }
        seenNotes.current = new Set(n.value.map(key));
        setNotifications(n.value);
      }
    } finally {
      inflight.current = false;
      if (again.current) {
        again.current = false;
        void load();
      }
    }
  }, [session, toast]);

  useEffect(() => {
    seenFills.current = null;
    seenNotes.current = null;
    setBalances([]); setOpen([]); setHistory([]); setFills([]); setNotifications([]);
    if (!session) return;
    void load();
    // Any private event: reload (debounced a little, events come in bursts).
    let t: ReturnType<typeof setTimeout> | null = null;
    const kick = () => {
      if (t) return;
      t = setTimeout(() => { t = null; void load(); }, 150);
    };
    const offs = ws ? PRIVATE.map((c) => ws.subscribe(c, kick)) : [];
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
  }, [session, load]);

  const markAllRead = useCallback(() => {
    setNotifications((ns) => ns.map((n) => ({ ...n, read: true })));
    api.markAllNotificationsRead().catch(() => undefined);
  }, []);

  const markRead = useCallback((id: number | string) => {
    setNotifications((ns) => ns.map((n) => (n.id === id ? { ...n, read: true } : n)));
    api.markNotificationRead(id).catch(() => undefined);
  }, []);

  const value = useMemo(
    () => ({ balances, openOrders, history, fills, notifications, notificationsAvailable, refresh: () => void load(), markAllRead, markRead }),
    [balances, openOrders, history, fills, notifications, notificationsAvailable, load, markAllRead, markRead],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export const useAccount = () => useContext(Ctx);
