import { describe, expect, it } from 'vitest';
import { add, cmp, dec, display, div, floorTo, format, isMultiple, mul, parse, percent, sub, trim, bps } from './decimal';

describe('decimal', () => {
  it('parses strictly', () => {
    expect(parse('101.25')).toEqual({ units: 10125n, scale: 2 });
    expect(parse('-0.5')).toEqual({ units: -5n, scale: 1 });
    for (const bad of ['', '1e5', '1.', '.5', '1,000', 'abc', '1.2.3', 'NaN', '0x10']) {
      expect(parse(bad), bad).toBeNull();
    }
  });

  it('is exact where floats are not', () => {
    expect(format(add(dec('0.1'), dec('0.2')))).toBe('0.3');
    expect(format(mul(dec('1.1'), dec('1.1')))).toBe('1.21');
    // 2^53 + 1 survives.
    expect(format(add(dec('9007199254740992'), dec('1')))).toBe('9007199254740993');
    expect(format(sub(dec('1'), dec('0.000000000000000001')))).toBe('0.999999999999999999');
  });

  it('divides and rounds toward zero', () => {
    expect(format(div(dec('10'), dec('3'), 4)!)).toBe('3.3333');
    expect(format(div(dec('2'), dec('3'), 2)!)).toBe('0.66');
    expect(div(dec('1'), dec('0'), 2)).toBeNull();
    expect(format(dec('1.239'), 2)).toBe('1.23');
    expect(format(dec('-1.239'), 2)).toBe('-1.23');
  });

  it('checks and floors to a grid', () => {
    expect(isMultiple(dec('101.25'), dec('0.01'))).toBe(true);
    expect(isMultiple(dec('101.255'), dec('0.01'))).toBe(false);
    expect(isMultiple(dec('0.0030'), dec('0.001'))).toBe(true);
    expect(isMultiple(dec('5'), dec('0.5'))).toBe(true);
    expect(isMultiple(dec('5.25'), dec('0.5'))).toBe(false);
    expect(format(floorTo(dec('1.23456'), dec('0.001')), 3)).toBe('1.234');
    expect(format(floorTo(dec('7'), dec('2')))).toBe('6');
  });

  it('compares across scales', () => {
    expect(cmp(dec('1.50'), dec('1.5'))).toBe(0);
    expect(cmp(dec('1.49'), dec('1.5'))).toBe(-1);
    expect(cmp(dec('10'), dec('9.999'))).toBe(1);
  });

  it('takes percents and basis points toward zero', () => {
    expect(format(percent(dec('1000.01'), 25))).toBe('250.00');
    expect(format(percent(dec('0.03'), 50))).toBe('0.01');
    expect(format(bps(dec('101.25'), 20, 6))).toBe('0.202500');
    expect(format(bps(dec('0.01'), 10, 2))).toBe('0.00');
  });

  it('formats for display', () => {
    expect(display('1234567.891')).toBe('1,234,567.891');
    expect(display('-1234.5', 2)).toBe('-1,234.50');
    expect(display('12')).toBe('12');
    expect(display(null)).toBe('—');
    expect(trim('1.2300')).toBe('1.23');
    expect(trim('5.000')).toBe('5');
    expect(trim('500')).toBe('500');
  });
});
