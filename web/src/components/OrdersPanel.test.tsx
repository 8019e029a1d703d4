// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { OrdersPanel } from './OrdersPanel';
import type { Order } from '../lib/types';
import { ToastProvider } from '../state/toasts';

const order: Order = {
  id: 7, client_order_id: null, market: 'BTC-USD', side: 'buy', type: 'limit', time_in_force: 'gtc',
  status: 'open', price: '100.00', stop_price: null, quantity: '0.5000', quote_quantity: null,
  filled_quantity: '0.0000', remaining_quantity: '0.5000', average_price: null, post_only: false,
  created_at: 1_700_000_000_000, updated_at: 1_700_000_000_000,
};

/** A fetch that answers every call with `order` (as amended/canceled) and records the calls. */
function stubFetch() {
  const fetch = vi.fn(async (_url: string, init?: RequestInit) => {
    const body = init?.body ? JSON.parse(String(init.body)) : {};
    return new Response(JSON.stringify({ ...order, ...body, status: init?.method === 'DELETE' ? 'canceled' : 'open' }), { status: 200 });
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}
const calls = (f: ReturnType<typeof stubFetch>) =>
  f.mock.calls.map(([url, init]) => ({ url, method: init?.method, body: init?.body ? JSON.parse(String(init.body)) : undefined }));

function setup(onChange = vi.fn()) {
  render(
    <ToastProvider>
      <OrdersPanel open={[order]} history={[]} fills={[]} loggedIn onChange={onChange} />
    </ToastProvider>,
  );
  return onChange;
}
const edit = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

describe('<OrdersPanel>', () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it('amend sends only the price when only the price changed', async () => {
    const fetch = stubFetch();
    const onChange = setup();
    fireEvent.click(screen.getByRole('button', { name: 'Amend' }));
    edit('New price', '99.50');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(onChange).toHaveBeenCalled());
    expect(calls(fetch)).toEqual([{ url: '/api/v1/orders/7', method: 'PATCH', body: { price: '99.50' } }]);
  });

  it('amend sends only the quantity when only the quantity changed', async () => {
    const fetch = stubFetch();
    const onChange = setup();
    fireEvent.click(screen.getByRole('button', { name: 'Amend' }));
    edit('New quantity', '0.2500');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(onChange).toHaveBeenCalled());
    expect(calls(fetch)).toEqual([{ url: '/api/v1/orders/7', method: 'PATCH', body: { quantity: '0.2500' } }]);
  });

  it('amend with nothing changed sends nothing and leaves the editor', () => {
    const fetch = stubFetch();
    setup();
    fireEvent.click(screen.getByRole('button', { name: 'Amend' }));
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(fetch).not.toHaveBeenCalled();
    expect(screen.queryByLabelText('New price')).toBeNull();
    expect(screen.getByRole('button', { name: 'Amend' })).toBeTruthy();
  });

  it('cancel sends DELETE for that order', async () => {
    const fetch = stubFetch();
    const onChange = setup();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await vi.waitFor(() => expect(onChange).toHaveBeenCalled());
    expect(calls(fetch)).toEqual([{ url: '/api/v1/orders/7', method: 'DELETE', body: undefined }]);
  });

  it('a refused amend keeps the editor open and does not report a change', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ error: { code: 'MARKET_HALTED', message: 'halted' } }), { status: 409 }));
    vi.stubGlobal('fetch', fetch);
    const onChange = setup();
    fireEvent.click(screen.getByRole('button', { name: 'Amend' }));
    edit('New price', '99.50');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Amend #7 failed');
    expect(screen.getByText('halted (MARKET_HALTED)')).toBeTruthy();
    expect(onChange).not.toHaveBeenCalled();
    expect(screen.getByLabelText('New price')).toBeTruthy();
  });
});
