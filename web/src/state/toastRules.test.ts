import { describe, expect, it } from 'vitest';
import { worthAToast } from './account';
import type { Notification } from '../lib/types';

const n = (kind: string, priority = 'normal', body = ''): Notification => ({ id: 1, kind, priority, title: kind, body, time: 0, read: false });

describe('which notifications become toasts', () => {
  it('skips echoes of the user\'s own actions and low-priority noise', () => {
    expect(worthAToast(n('balance_updated', 'low'))).toBe(false);
    expect(worthAToast(n('order_accepted'))).toBe(false);
    expect(worthAToast(n('order_filled', 'high'))).toBe(false);
    expect(worthAToast(n('order_canceled', 'normal', 'Order 118 on BTC-USD canceled (user)'))).toBe(false);
  });
  it('shows what happens to the user', () => {
    expect(worthAToast(n('order_canceled', 'normal', 'Order 7 on BTC-USD canceled (kill switch)'))).toBe(true);
    expect(worthAToast(n('deposit_credited'))).toBe(true);
    expect(worthAToast(n('announcement', 'high'))).toBe(true);
  });
});
