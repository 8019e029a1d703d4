import { describe, expect, it } from 'vitest';
import { applyUpdate, askLevels, bidLevels, fromSnapshot, withCumulative, type Book } from './book';

const snap = () =>
  fromSnapshot(10, {
    bids: [['99.00', '1.0'], ['100.00', '2.0'], ['98.50', '0.5']],
    asks: [['101.00', '1.5'], ['100.50', '0.7']],
  });

function applied(r: ReturnType<typeof applyUpdate>): Book {
  if (r.kind !== 'applied') throw new Error(`expected applied, got ${r.kind}`);
  return r.book;
}

describe('order book', () => {
  it('sorts bids down and asks up, numerically not lexically', () => {
    const b = fromSnapshot(1, { bids: [['9.50', '1'], ['10.00', '1'], ['100.00', '1']], asks: [['100.50', '1'], ['99.75', '1']] });
    expect(bidLevels(b).map((l) => l[0])).toEqual(['100.00', '10.00', '9.50']);
    expect(askLevels(b).map((l) => l[0])).toEqual(['99.75', '100.50']);
  });

  it('sets, changes and removes levels from a diff', () => {
    const b = applied(
      applyUpdate(snap(), 11, { bids: [['100.00', '0'], ['99.50', '3.0']], asks: [['100.50', '0.2']] }),
    );
    expect(b.sequence).toBe(11);
    expect(bidLevels(b)).toEqual([['99.50', '3.0'], ['99.00', '1.0'], ['98.50', '0.5']]);
    expect(askLevels(b)).toEqual([['100.50', '0.2'], ['101.00', '1.5']]);
  });

  it('does not change the book it was given', () => {
    const s = snap();
    applyUpdate(s, 11, { bids: [['100.00', '0']] });
    expect(s.bids.get('100.00')).toBe('2.0');
  });

  it('ignores stale updates and reports a gap', () => {
    const s = snap();
    expect(applyUpdate(s, 10, { bids: [['1.00', '1']] }).kind).toBe('stale');
    expect(applyUpdate(s, 3, {}).kind).toBe('stale');
    expect(applyUpdate(s, 12, {})).toEqual({ kind: 'gap', expected: 11, got: 12 });
    const b = applied(applyUpdate(s, 11, {}));
    expect(applyUpdate(b, 13, {}).kind).toBe('gap');
    expect(applyUpdate(b, 12, {}).kind).toBe('applied');
  });

  it('drops zero levels in a snapshot and accumulates depth exactly', () => {
    const b = fromSnapshot(1, { bids: [['1.00', '0.1'], ['0.99', '0.2'], ['0.98', '0']], asks: [] });
    expect(bidLevels(b).length).toBe(2);
    expect(withCumulative(bidLevels(b)).map((l) => l.total)).toEqual(['0.1', '0.3']);
  });
});
