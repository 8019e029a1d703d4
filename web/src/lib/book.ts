// The local order book: a snapshot plus diffs from the `book.{symbol}` channel (DESIGN §5).
// A diff carries the new total quantity of each changed price level ("0" = level gone)
// and the next consecutive sequence number. Rules:
// - an update whose sequence is not above the book's is stale (already in the snapshot)
//   and is ignored;
// - an update that skips a sequence number means a diff was lost: the book is no longer
//   trustworthy, so `applyUpdate` reports a gap and the caller resubscribes for a fresh
//   snapshot (keeping the old levels on screen meanwhile).

import { add, cmp, dec, format, isZero, parse } from './decimal';

export type Level = [price: string, qty: string];

export interface BookData {
  bids: Level[];
  asks: Level[];
}

export interface Book {
  sequence: number;
  bids: Map<string, string>;
  asks: Map<string, string>;
}

export type UpdateResult =
  | { kind: 'applied'; book: Book }
  | { kind: 'stale' }
  | { kind: 'gap'; expected: number; got: number };

function levelMap(levels: Level[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [p, q] of levels) {
    const d = parse(q);
    if (d && !isZero(d)) m.set(p, q);
  }
  return m;
}

export function fromSnapshot(sequence: number, data: BookData): Book {
  return { sequence, bids: levelMap(data.bids ?? []), asks: levelMap(data.asks ?? []) };
}

function applySide(side: Map<string, string>, levels: Level[]): Map<string, string> {
  const out = new Map(side);
  for (const [p, q] of levels) {
    const d = parse(q);
    if (!d || isZero(d)) out.delete(p);
    else out.set(p, q);
  }
  return out;
}

/** Applies one diff (a new book is returned; the old one is not changed). */
export function applyUpdate(book: Book, sequence: number, data: Partial<BookData>): UpdateResult {
  if (sequence <= book.sequence) return { kind: 'stale' };
  if (sequence !== book.sequence + 1) {
    return { kind: 'gap', expected: book.sequence + 1, got: sequence };
  }
  return {
    kind: 'applied',
    book: {
      sequence,
      bids: applySide(book.bids, data.bids ?? []),
      asks: applySide(book.asks, data.asks ?? []),
    },
  };
}

function sorted(side: Map<string, string>, descending: boolean): Level[] {
  const levels = [...side.entries()] as Level[];
  levels.sort((a, b) => (descending ? -1 : 1) * cmp(dec(a[0]), dec(b[0])));
  return levels;
}

/** Bids best (highest) first. */
export function bidLevels(book: Book, depth = Infinity): Level[] {
  return sorted(book.bids, true).slice(0, depth);
}

/** Asks best (lowest) first. */
export function askLevels(book: Book, depth = Infinity): Level[] {
  return sorted(book.asks, false).slice(0, depth);
}

/** Levels with the running total of quantity from the best price outwards. */
export function withCumulative(levels: Level[]): { price: string; qty: string; total: string }[] {
  let total = dec('0');
  return levels.map(([price, qty]) => {
    total = add(total, dec(qty));
    return { price, qty, total: format(total) };
  });
}
