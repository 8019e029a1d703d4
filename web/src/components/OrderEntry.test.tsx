// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { OrderEntry } from './OrderEntry';
import type { Market } from '../lib/types';

const market: Market = {
  symbol: 'BTC-USD', base: 'BTC', quote: 'USD', status: 'open',
  tick_size: '0.01', lot_size: '0.0001', min_quantity: '0.0001', max_quantity: '1000.0000',
  min_notional: '10.000000', base_decimals: 8, quote_decimals: 6,
  maker_fee_bps: 10, taker_fee_bps: 20, last_price: '100.00',
};
const balances = [
  { asset: 'USD', available: '1000.000000', held: '0' },
  { asset: 'BTC', available: '1.00000000', held: '0' },
];

function setup(over: Partial<Parameters<typeof OrderEntry>[0]> = {}) {
  return render(
    <OrderEntry market={market} balances={balances} loggedIn pickedPrice={null} bestBid="99.00" bestAsk="101.00" onPlaced={() => undefined} {...over} />,
  );
}
const type = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

describe('<OrderEntry>', () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it('says what is wrong next to the field, as you type', () => {
    setup();
    type('Price', '100.005');
    expect(screen.getByText('Price must be a multiple of the tick 0.01')).toBeTruthy();
    type('Price', '100.00');
    type('Quantity', '0.05');
    expect(screen.getByText(/below the minimum 10.000000 USD/)).toBeTruthy();
    type('Quantity', '20');
    expect(screen.getByText(/Not enough USD: 1000.000000 available/)).toBeTruthy();
  });

  it('previews value, fee and total, and fills quantity from a percent of the balance', () => {
    setup();
    type('Price', '100.00');
    fireEvent.click(screen.getByText('50%'));
    expect((screen.getByLabelText('Quantity') as HTMLInputElement).value).toBe('4.9900');
    const preview = screen.getByTestId('order-preview').textContent ?? '';
    expect(preview).toContain('499.000000 USD');
    expect(preview).toContain('0.998000 USD');
    expect(preview).toContain('499.998000 USD');
  });

  it('does not send an invalid order, and sends the exact decimal strings of a valid one', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ id: 7, status: 'open', quantity: '0.5', price: '100.00', filled_quantity: '0' }), { status: 201 }));
    vi.stubGlobal('fetch', fetch);
    const placed = vi.fn();
    setup({ onPlaced: placed });
    fireEvent.click(screen.getByTestId('place-order'));
    expect(fetch).not.toHaveBeenCalled();
    expect(screen.getByText('Enter a price')).toBeTruthy();
    type('Price', '100.00');
    type('Quantity', '0.5');
    fireEvent.click(screen.getByTestId('place-order'));
    await vi.waitFor(() => expect(placed).toHaveBeenCalled());
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/orders');
    expect(JSON.parse(String(init.body))).toEqual({ market: 'BTC-USD', side: 'buy', type: 'limit', price: '100.00', quantity: '0.5', time_in_force: 'gtc' });
  });

  it('switches fields with the order type and refuses orders on a halted market', () => {
    setup({ market: { ...market, status: 'halted' } });
    fireEvent.click(screen.getByTestId('type-stop_market'));
    expect(screen.getByLabelText('Stop price')).toBeTruthy();
    expect(screen.queryByLabelText('Price')).toBeNull();
    expect((screen.getByTestId('place-order') as HTMLButtonElement).disabled).toBe(true);
  });
});
