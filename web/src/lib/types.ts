// Wire shapes of the API (DESIGN §4). Money and sizes are decimal strings, times are ms.

export interface Market {
  symbol: string;
  base: string;
  quote: string;
  status: 'open' | 'halted' | string;
  tick_size: string;
  lot_size: string;
  min_quantity: string;
  max_quantity: string;
  min_notional: string;
  base_decimals: number;
  quote_decimals: number;
  /** The standard tier's fees; `fees` has every tier's. */
  maker_fee_bps: number;
  taker_fee_bps: number;
  fees?: Partial<Record<string, { maker_bps: number; taker_bps: number }>>;
  price_band_bps?: number;
  max_open_orders?: number;
  last_price: string | null;
}

export type Side = 'buy' | 'sell';
export type OrderType = 'limit' | 'market' | 'stop_limit' | 'stop_market';
export type Tif = 'gtc' | 'ioc' | 'fok' | 'gtd';

export interface Fill {
  trade_id: number;
  order_id: number;
  market: string;
  side: Side;
  price: string;
  quantity: string;
  fee: string;
  fee_asset: string;
  liquidity: 'maker' | 'taker';
  created_at: number;
}

export interface Order {
  id: number;
  client_order_id: string | null;
  market: string;
  side: Side;
  type: OrderType;
  time_in_force: Tif;
  status: string;
  price: string | null;
  stop_price: string | null;
  quantity: string | null;
  quote_quantity: string | null;
  filled_quantity: string;
  remaining_quantity: string | null;
  average_price: string | null;
  post_only: boolean;
  created_at: number;
  updated_at: number;
  fills?: Fill[];
}

export interface Balance {
  asset: string;
  available: string;
  held: string;
}

export interface Trade {
  id: number;
  price: string;
  quantity: string;
  /** The taker's side: a buy lifted an ask (price up), a sell hit a bid. */
  side: Side;
  time: number;
}

export interface Candle {
  /** Open time, ms. */
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

export interface Ticker {
  last: string | null;
  change?: string | null;
  high?: string | null;
  low?: string | null;
  volume?: string | null;
  bid?: string | null;
  ask?: string | null;
}

export interface Notification {
  id: number | string;
  kind: string;
  priority: string;
  title: string;
  body: string;
  time: number;
  read: boolean;
}

export interface Session {
  token: string;
  expiresAt: number;
  username: string;
  userId: number;
  role: string;
}
