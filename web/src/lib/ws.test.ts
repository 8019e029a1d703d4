import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WsClient } from './ws';

class FakeSocket {
  static OPEN = 1;
  static last: FakeSocket | null = null;
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.last = this;
  }
  send(s: string) {
    this.sent.push(JSON.parse(s));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  recv(v: unknown) {
    this.onmessage?.({ data: JSON.stringify(v) });
  }
}

describe('WsClient', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', FakeSocket);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('authenticates, then subscribes to every channel with listeners', () => {
    const c = new WsClient('ws://x/ws');
    c.setToken('tok');
    c.subscribe('book.BTC-USD', () => undefined);
    c.start();
    const s = FakeSocket.last!;
    s.open();
    expect(s.sent).toEqual([
      { op: 'auth', token: 'tok' },
      { op: 'subscribe', channels: ['book.BTC-USD'] },
    ]);
  });

  it('delivers data frames only; a channel is live from its subscribe ack until unsubscribed or refused', () => {
    const c = new WsClient('ws://x/ws');
    const got: unknown[] = [];
    c.subscribe('orders', (m) => got.push(m.type));
    c.subscribe('book.BTC-USD', () => undefined);
    c.start();
    const s = FakeSocket.last!;
    s.open();
    s.recv({ type: 'error', code: 'UNAUTHORIZED', message: 'authenticate first', channel: 'orders' });
    expect(c.isLive('orders')).toBe(false);
    // A quiet private channel sends nothing after the ack: it is live all the same.
    s.recv({ type: 'subscribed', channels: ['orders'] });
    expect(got).toEqual([]);
    expect(c.isLive('orders')).toBe(true);
    expect(c.isLive('book.BTC-USD')).toBe(false);
    s.recv({ channel: 'orders', type: 'update', sequence: 5, data: {} });
    expect(got).toEqual(['update']);
    s.recv({ type: 'unsubscribed', channels: ['orders'] });
    expect(c.isLive('orders')).toBe(false);
    // A data frame counts too (a snapshot may come before the ack is read).
    s.recv({ channel: 'book.BTC-USD', type: 'snapshot', sequence: 1, data: { bids: [], asks: [] } });
    expect(c.isLive('book.BTC-USD')).toBe(true);
    s.recv({ type: 'error', code: 'UNKNOWN_CHANNEL', message: '', channel: 'book.BTC-USD' });
    expect(c.isLive('book.BTC-USD')).toBe(false);
  });

  it('an ack for a channel nobody listens to any more does not make it live', () => {
    const c = new WsClient('ws://x/ws');
    const off = c.subscribe('fills', () => undefined);
    c.start();
    const s = FakeSocket.last!;
    s.open();
    off();
    s.recv({ type: 'subscribed', channels: ['fills'] });
    expect(c.isLive('fills')).toBe(false);
  });

  it('the end of the session (revoked token) makes the private channels not live', () => {
    const c = new WsClient('ws://x/ws');
    c.setToken('tok');
    for (const ch of ['orders', 'fills', 'balances', 'notifications', 'trades.BTC-USD']) c.subscribe(ch, () => undefined);
    c.start();
    const s = FakeSocket.last!;
    s.open();
    s.recv({ type: 'authenticated', user_id: 2, expires_at: 0 });
    s.recv({ type: 'subscribed', channels: ['orders', 'fills', 'balances', 'notifications', 'trades.BTC-USD'] });
    expect(c.isLive('fills')).toBe(true);
    s.recv({ type: 'error', code: 'TOKEN_REVOKED', message: 'logged out' });
    for (const ch of ['orders', 'fills', 'balances', 'notifications']) expect(c.isLive(ch)).toBe(false);
    expect(c.isLive('trades.BTC-USD')).toBe(true);
  });

  it('asks again for channels refused before the login went through', () => {
    const c = new WsClient('ws://x/ws');
    c.subscribe('book.BTC-USD', () => undefined);
    c.subscribe('fills', () => undefined);
    c.start();
    const s = FakeSocket.last!;
    s.open();
    s.recv({ channel: 'book.BTC-USD', type: 'snapshot', sequence: 1, data: { bids: [], asks: [] } });
    s.recv({ type: 'error', code: 'UNAUTHORIZED', message: '', channel: 'fills' });
    s.sent = [];
    c.setToken('tok');
    s.recv({ type: 'authenticated', user_id: 2, expires_at: 0 });
    expect(s.sent).toEqual([{ op: 'auth', token: 'tok' }, { op: 'subscribe', channels: ['fills'] }]);
  });

  it('resubscribes for a fresh snapshot and unsubscribes when the last listener leaves', () => {
    const c = new WsClient('ws://x/ws');
    const off1 = c.subscribe('trades.BTC-USD', () => undefined);
    const off2 = c.subscribe('trades.BTC-USD', () => undefined);
    c.start();
    const s = FakeSocket.last!;
    s.open();
    s.sent = [];
    c.resubscribe('trades.BTC-USD');
    expect(s.sent).toEqual([
      { op: 'unsubscribe', channels: ['trades.BTC-USD'] },
      { op: 'subscribe', channels: ['trades.BTC-USD'] },
    ]);
    s.sent = [];
    off1();
    expect(s.sent).toEqual([]);
    off2();
    expect(s.sent).toEqual([{ op: 'unsubscribe', channels: ['trades.BTC-USD'] }]);
  });

  it('reconnects after the socket drops', () => {
    const c = new WsClient('ws://x/ws');
    c.start();
    const first = FakeSocket.last!;
    first.open();
    first.close();
    expect(c.status).toBe('closed');
    vi.advanceTimersByTime(600);
    expect(FakeSocket.last).not.toBe(first);
  });
});
