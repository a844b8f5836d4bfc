import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { formatPts, parsePts } from '../src/io/pts.js';

const points = Array.from({ length: 68 }, (_, i) => `${10 + i} ${20.5 + i}`);
const good = ['version: 1', 'n_points:  68', '{', ...points, '}', ''].join('\r\n');

describe('.pts landmark files', () => {
  it('reads 68 points and makes them 0-based', () => {
    const p = parsePts(good, 'a.pts');
    expect(p.length).toBe(136);
    expect(p[0]).toBe(9);
    expect(p[1]).toBe(19.5);
    expect(p[135]).toBe(19.5 + 67);
  });

  it('round-trips through formatPts', () => {
    const p = parsePts(good, 'a.pts');
    expect(Array.from(parsePts(formatPts(p), 'b.pts'))).toEqual(Array.from(p));
  });

  it.each([
    ['version: 1\nn_points: 5\n{\n1 2\n}\n', 'n_points says 5 but the file has 1 points'],
    [
      ['version: 1', 'n_points: 67', '{', ...points.slice(1), '}'].join('\n'),
      'has 67 points; iBUG-68 landmarks have 68',
    ],
    ['version: 1\nn_points: 68\n{\n1 2\n', 'missing the closing "}"'],
    ['hello\n', 'line 1: expected "version:", "n_points:" or "{"'],
    ['', 'not a .pts landmark file'],
    ['version: 1\nn_points: 68\n{\n1 x\n}\n', 'line 4: expected "x y"'],
    ['n_points: many\n', 'n_points "many" is not a positive integer'],
  ])('rejects a malformed file with a message naming it (%#)', (text, problem) => {
    const parse = () => parsePts(text, 'bad.pts');
    expect(parse).toThrow(InputError);
    expect(parse).toThrow(`bad.pts: `);
    expect(parse).toThrow(problem);
  });
});
