// Exact decimal arithmetic on strings, for money and sizes. The API sends decimal strings
// ("101.25"); they are parsed into BigInt units at a scale and never go through a float.
// Rules: parsing is strict (digits, one optional dot, optional leading minus); division
// and rounding always round toward zero, so a preview never shows more than you can pay.

export interface Dec {
  /** The value times 10^scale. */
  units: bigint;
  scale: number;
}

const DECIMAL = /^-?(\d+)(\.(\d+))?$/;

/** Parses "12.340" exactly; `null` for anything that is not a plain decimal. */
export function parse(s: string): Dec | null {
  const t = s.trim();
  const m = DECIMAL.exec(t);
  if (!m) return null;
  const frac = m[3] ?? '';
  const units = BigInt(m[1] + frac);
  return { units: t.startsWith('-') ? -units : units, scale: frac.length };
}

/** Like [`parse`] but throws: for strings that come from the server. */
export function dec(s: string): Dec {
  const d = parse(s);
  if (!d) throw new Error(`not a decimal: ${JSON.stringify(s)}`);
  return d;
}

const TEN = 10n;
function pow10(n: number): bigint {
  return TEN ** BigInt(n);
}

/** The same value at a larger scale. */
function rescaleUp(d: Dec, scale: number): Dec {
  return scale <= d.scale ? d : { units: d.units * pow10(scale - d.scale), scale };
}

/** Rounds toward zero to `scale` decimals. */
export function truncate(d: Dec, scale: number): Dec {
  if (scale >= d.scale) return rescaleUp(d, scale);
  return { units: d.units / pow10(d.scale - scale), scale };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const s = Math.max(a.scale, b.scale);
  return [rescaleUp(a, s).units, rescaleUp(b, s).units, s];
}

export function add(a: Dec, b: Dec): Dec {
  const [x, y, s] = align(a, b);
  return { units: x + y, scale: s };
}

export function sub(a: Dec, b: Dec): Dec {
  const [x, y, s] = align(a, b);
  return { units: x - y, scale: s };
}

export function mul(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

/** a / b rounded toward zero to `scale` decimals; `null` when b is zero. */
export function div(a: Dec, b: Dec, scale: number): Dec | null {
  if (b.units === 0n) return null;
  // a/b = (a.u / 10^as) / (b.u / 10^bs); scaled by 10^scale.
  const num = a.units * pow10(scale + b.scale);
  const den = b.units * pow10(a.scale);
  return { units: num / den, scale };
}

export function cmp(a: Dec, b: Dec): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(d: Dec): boolean {
  return d.units === 0n;
}

/** Is `value` a whole multiple of `step` (a tick or lot grid)? */
export function isMultiple(value: Dec, step: Dec): boolean {
  if (step.units === 0n) return false;
  const [x, y] = align(value, step);
  return x % y === 0n;
}

/** The largest multiple of `step` not above `value` (for positive values). */
export function floorTo(value: Dec, step: Dec): Dec {
  const [x, y, s] = align(value, step);
  if (y === 0n) return value;
  return { units: (x / y) * y, scale: s };
}

/** Percent (an integer 0..100) of a value, rounded toward zero at the value's scale. */
export function percent(d: Dec, pct: number): Dec {
  return { units: (d.units * BigInt(Math.trunc(pct))) / 100n, scale: d.scale };
}

/** Basis points of a value, rounded toward zero at `scale` decimals. */
export function bps(d: Dec, points: number, scale: number): Dec {
  const v = mul(d, { units: BigInt(Math.trunc(points)), scale: 4 });
  return truncate(v, scale);
}

/** Plain string with exactly `scale` decimals (the value's own scale when omitted). */
export function format(d: Dec, scale: number = d.scale): string {
  const t = truncate(d, scale);
  const neg = t.units < 0n;
  let digits = (neg ? -t.units : t.units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return (neg ? '-' : '') + digits;
}

/** Number of decimals written in a decimal string ("0.010" → 3). */
export function decimalsOf(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

/** Display form of a decimal string: grouped thousands, fixed decimals (truncated). */
export function display(s: string | null | undefined, scale?: number): string {
  if (s === null || s === undefined || s === '') return '—';
  const d = parse(s);
  if (!d) return s;
  const out = format(d, scale ?? d.scale);
  const [int, frac] = out.split('.');
  const neg = int.startsWith('-');
  const body = (neg ? int.slice(1) : int).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (neg ? '-' : '') + body + (frac !== undefined ? `.${frac}` : '');
}

/** Removes trailing zeros after the dot ("1.2300" → "1.23", "5.000" → "5"). */
export function trim(s: string): string {
  if (!s.includes('.')) return s;
  return s.replace(/0+$/, '').replace(/\.$/, '');
}

/** A ratio as a JS number, for drawing only (bar widths, chart coordinates), never money. */
export function toNumberForDisplay(s: string): number {
  return Number(s);
}
