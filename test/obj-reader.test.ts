import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { parseObj } from '../src/io/obj-reader.js';

const encode = (text: string) => new TextEncoder().encode(text);

describe('parseObj', () => {
  it('reads positions, UVs and fans quads into triangles', () => {
    const obj = parseObj(
      encode(
        '# c\nv 0 0 0\nv 1 0 0\r\nv 1 1 0\nv 0 1 0\n'
          + 'vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\nf 1/1/1 2/2/1 3/3/1 4/4/1\n',
      ),
      'quad.obj',
    );
    expect(Array.from(obj.positions)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
    expect(Array.from(obj.triangles)).toEqual([0, 1, 2, 0, 2, 3]);
    expect(Array.from(obj.uvTriangles)).toEqual([0, 1, 2, 0, 2, 3]);
    expect(obj.uvs.length).toBe(8);
  });

  it('parses numbers as parseFloat does (signs, decimals, exponents)', () => {
    const values = ['-1.5', '+2', '3.25e-2', '-0.000123456', '1E3', '.5', '123456.789012'];
    const obj = parseObj(
      encode(
        `v ${values[0]} ${values[1]} ${values[2]}\nv ${values[3]} ${values[4]} ${values[5]}\nv ${values[6]} 0 0\n`,
      ),
      'n.obj',
    );
    values.forEach((text, i) => expect(obj.positions[i]).toBe(Math.fround(parseFloat(text))));
  });

  it('reads vertex colours, negative indices and v//vn faces', () => {
    const obj = parseObj(encode('v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1\nf -3//1 -2//1 -1//1\n'), 'c.obj');
    expect(Array.from(obj.colors)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(Array.from(obj.triangles)).toEqual([0, 1, 2]);
    expect(obj.uvTriangles.length).toBe(0);
  });

  it('skips everything but positions when asked', () => {
    const obj = parseObj(encode('v 1 2 3\nvt 0 0\nf 1 1 1\n'), 'p.obj', { positionsOnly: true });
    expect(Array.from(obj.positions)).toEqual([1, 2, 3]);
    expect(obj.triangles.length).toBe(0);
  });

  it.each([
    ['', 'no vertices'],
    ['hello world\n', 'no vertices'],
    ['v 1 2\n', 'line 1: expected a number'],
    ['v 1 2 x\n', 'line 1: expected a number'],
    ['v 0 0 0\nv 1 0 0\nf 1 2 5\n', 'line 3: face index 5 out of range'],
    ['v 0 0 0\nf 1 1\n', 'line 2: face with 2 corners'],
    ['v 1 2 3e\n', 'malformed exponent'],
  ])('rejects %j with a message naming the file', (text, problem) => {
    const parse = () => parseObj(encode(text), 'bad.obj');
    expect(parse).toThrow(InputError);
    expect(parse).toThrow(`bad.obj: `);
    expect(parse).toThrow(problem);
  });
});
