// One WebSocket to `/ws` (DESIGN §5) shared by the whole page.
// - Channels are reference-counted: the first listener subscribes, the last one leaving
//   unsubscribes.
// - On (re)connect it authenticates (when logged in) and subscribes to every channel that
//   has listeners; the server answers each with a snapshot.
// - `resubscribe(channel)` asks for a fresh snapshot (after a sequence gap).
// - It reconnects with backoff; listeners of `status` learn whether the socket is live,
//   so views can fall back to polling the REST API while it is not.
// - A channel counts as live from the server's subscribe ack (or its first data frame):
//   a private channel of a quiet account may send nothing for minutes, and the views must
//   not poll REST all that time. An unsubscribe ack, an error about the channel, or the
//   end of the session (for the private channels) makes it not live again.

export interface WsMessage {
  channel: string;
  type: 'snapshot' | 'update' | string;
  sequence?: number;
  data: unknown;
}

export type WsStatus = 'connecting' | 'open' | 'closed';
/** The channels that need a logged-in socket (DESIGN §5). */
export const PRIVATE_CHANNELS = ['orders', 'fills', 'balances', 'notifications'];
type Listener = (m: WsMessage) => void;

export class WsClient {
  private socket: WebSocket | null = null;
  private listeners = new Map<string, Set<Listener>>();
  private statusListeners = new Set<(s: WsStatus) => void>();
  private token: string | null = null;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  status: WsStatus = 'closed';
  /** Channels the server acknowledged (or sent data on) since the socket opened. */
  private live = new Set<string>();

  constructor(private url: string) {}

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
  }

  private setStatus(s: WsStatus) {
    this.status = s;
    for (const f of this.statusListeners) f(s);
  }

  onStatus(f: (s: WsStatus) => void): () => void {
    this.statusListeners.add(f);
    return () => this.statusListeners.delete(f);
  }

  /** Is the server sending `channel` on the current connection? */
  isLive(channel: string): boolean {
    return this.status === 'open' && this.live.has(channel);
  }

  private connect() {
    if (this.stopped) return;
    this.setStatus('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.live.clear();
      this.setStatus('open');
      if (this.token) this.send({ op: 'auth', token: this.token });
      const channels = [...this.listeners.keys()];
      if (channels.length) this.send({ op: 'subscribe', channels });
    };
    ws.onmessage = (ev) => {
      let msg: WsMessage;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (!msg) return;
      if (msg.type === 'authenticated') {
        // Private channels asked for before the login went through were refused: ask again.
        const pending = [...this.listeners.keys()].filter((c) => !this.live.has(c));
        if (pending.length) this.send({ op: 'subscribe', channels: pending });
        return;
      }
      // Acks ({type, channels}) and errors ({type: "error", code, channel}) carry no data.
      if (msg.type === 'subscribed' || msg.type === 'unsubscribed') {
        const channels = (msg as { channels?: unknown }).channels;
        // Only channels someone still listens to: a late ack must not revive a channel
        // given up in the meantime.
        if (Array.isArray(channels)) {
          for (const c of channels) {
            if (msg.type === 'unsubscribed') this.live.delete(String(c));
            else if (this.listeners.has(String(c))) this.live.add(String(c));
          }
        }
        return;
      }
      if (msg.type === 'error') {
        const code = (msg as { code?: unknown }).code;
        if (typeof msg.channel === 'string') this.live.delete(msg.channel);
        // The session ended: the server dropped every private subscription.
        if (code === 'TOKEN_EXPIRED' || code === 'TOKEN_REVOKED' || code === 'INVALID_API_KEY') {
          for (const c of PRIVATE_CHANNELS) this.live.delete(c);
        }
        return;
      }
      if (typeof msg.channel !== 'string' || (msg.type !== 'snapshot' && msg.type !== 'update')) return;
      this.live.add(msg.channel);
      const ls = this.listeners.get(msg.channel);
      if (ls) for (const f of [...ls]) f(msg);
    };
    ws.onclose = () => {
      if (this.socket === ws) {
        this.socket = null;
        this.setStatus('closed');
        this.scheduleReconnect();
      }
    };
    ws.onerror = () => ws.close();
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    const delay = Math.min(15000, 500 * 2 ** this.retry++);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private send(v: unknown) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(v));
  }

  /** Logs the socket in (private channels) or out (`null`: reconnects anonymously). */
  setToken(token: string | null) {
    if (token === this.token) return;
    const hadToken = this.token !== null;
    this.token = token;
    if (token) this.send({ op: 'auth', token });
    else if (hadToken && this.socket) this.socket.close();
  }

  subscribe(channel: string, f: Listener): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.send({ op: 'subscribe', channels: [channel] });
    }
    set.add(f);
    return () => {
      const s = this.listeners.get(channel);
      if (!s) return;
      s.delete(f);
      if (s.size === 0) {
        this.listeners.delete(channel);
        this.live.delete(channel);
        this.send({ op: 'unsubscribe', channels: [channel] });
      }
    };
  }

  /** Asks again for `channel`, so the server sends a fresh snapshot. */
  resubscribe(channel: string) {
    this.send({ op: 'unsubscribe', channels: [channel] });
    this.send({ op: 'subscribe', channels: [channel] });
  }
}

export function wsUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}

export const ws = typeof window !== 'undefined' ? new WsClient(wsUrl()) : (null as unknown as WsClient);
