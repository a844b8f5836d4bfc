import { InputError } from '../errors.js';

/** A Wavefront OBJ mesh, triangulated (polygons fanned from their first corner). */
export interface ObjMesh {
  positions: Float32Array;
  /** Per-vertex colours from `v x y z r g b` lines as written (sRGB by convention), or empty. */
  colors: Float32Array;
  uvs: Float32Array;
  triangles: Uint32Array;
  /** Parallel to `triangles`: indices into `uvs`, or empty if the faces have none. */
  uvTriangles: Uint32Array;
}

const enum Ch {
  Space = 32,
  Tab = 9,
  CR = 13,
  LF = 10,
  Hash = 35,
  Slash = 47,
  Minus = 45,
  Plus = 43,
  Dot = 46,
  Zero = 48,
  Nine = 57,
  e = 101,
  E = 69,
}

/**
 * Parses OBJ bytes without building per-line strings: the ICT model is 155 files of 2.5 MB,
 * and string splitting made import several times slower.
 * `positionsOnly` skips everything but `v` lines (the shape files of a model share one topology).
 */
export function parseObj(bytes: Uint8Array, fileName: string, options: { positionsOnly?: boolean } = {}): ObjMesh {
  const positions = new GrowableFloats();
  const colors = new GrowableFloats();
  const uvs = new GrowableFloats();
  const triangles = new GrowableInts();
  const uvTriangles = new GrowableInts();
  const corners = new Int32Array(64);
  const cornerUvs = new Int32Array(64);
  let pos = 0;
  let line = 1;
  const end = bytes.length;

  const fail = (problem: string): never => {
    throw new InputError(fileName, `line ${line}: ${problem}`);
  };
  const skipSpaces = () => {
    while (pos < end && (bytes[pos] === Ch.Space || bytes[pos] === Ch.Tab)) pos++;
  };
  const atLineEnd = () => pos >= end || bytes[pos] === Ch.LF || bytes[pos] === Ch.CR || bytes[pos] === Ch.Hash;
  const readNumber = (): number => {
    skipSpaces();
    const start = pos;
    let sign = 1;
    if (bytes[pos] === Ch.Minus) {
      sign = -1;
      pos++;
    } else if (bytes[pos] === Ch.Plus) pos++;
    // Mantissa digits as an exact integer, divided once by a power of ten: correctly rounded
    // for up to 15 significant digits, unlike accumulating 0.1 steps.
    let mantissa = 0;
    let digits = 0;
    let decimals = 0;
    while (pos < end && bytes[pos] >= Ch.Zero && bytes[pos] <= Ch.Nine) {
      mantissa = mantissa * 10 + (bytes[pos++] - Ch.Zero);
      digits++;
    }
    if (bytes[pos] === Ch.Dot) {
      pos++;
      while (pos < end && bytes[pos] >= Ch.Zero && bytes[pos] <= Ch.Nine) {
        mantissa = mantissa * 10 + (bytes[pos++] - Ch.Zero);
        digits++;
        decimals++;
      }
    }
    if (digits === 0) fail(`expected a number, found "${lineText(bytes, start)}"`);
    let exponent = -decimals;
    if (bytes[pos] === Ch.e || bytes[pos] === Ch.E) {
      pos++;
      let expSign = 1;
      if (bytes[pos] === Ch.Minus) {
        expSign = -1;
        pos++;
      } else if (bytes[pos] === Ch.Plus) pos++;
      let exp = 0;
      const expStart = pos;
      while (pos < end && bytes[pos] >= Ch.Zero && bytes[pos] <= Ch.Nine) exp = exp * 10 + (bytes[pos++] - Ch.Zero);
      if (pos === expStart) fail('malformed exponent');
      exponent += expSign * exp;
    }
    const value = exponent < 0 ? mantissa / powerOfTen(-exponent) : mantissa * powerOfTen(exponent);
    return sign * value;
  };
  const readIndex = (count: number): number => {
    let sign = 1;
    if (bytes[pos] === Ch.Minus) {
      sign = -1;
      pos++;
    }
    let value = 0;
    const start = pos;
    while (pos < end && bytes[pos] >= Ch.Zero && bytes[pos] <= Ch.Nine) value = value * 10 + (bytes[pos++] - Ch.Zero);
    if (pos === start) fail('malformed face index');
    const index = sign > 0 ? value - 1 : count - value;
    if (index < 0 || index >= count) fail(`face index ${sign * value} out of range (1..${count})`);
    return index;
  };

  while (pos < end) {
    skipSpaces();
    const c0 = bytes[pos];
    const c1 = bytes[pos + 1];
    const isSep = (c: number) => c === Ch.Space || c === Ch.Tab;
    if (c0 === 118 /* v */ && isSep(c1)) {
      pos += 2;
      positions.push(readNumber());
      positions.push(readNumber());
      positions.push(readNumber());
      skipSpaces();
      if (!atLineEnd()) {
        const r = readNumber(),
          g = readNumber(),
          b = readNumber();
        if (!options.positionsOnly) {
          colors.push(r);
          colors.push(g);
          colors.push(b);
        }
      }
    } else if (!options.positionsOnly && c0 === 118 && c1 === 116 /* vt */ && isSep(bytes[pos + 2])) {
      pos += 3;
      uvs.push(readNumber());
      uvs.push(readNumber());
    } else if (!options.positionsOnly && c0 === 102 /* f */ && isSep(c1)) {
      pos += 2;
      let n = 0;
      let withUv = true;
      const vertexCount = positions.length / 3;
      const uvCount = uvs.length / 2;
      for (;;) {
        skipSpaces();
        if (atLineEnd()) break;
        if (n === corners.length) fail('face with more than 64 corners');
        corners[n] = readIndex(vertexCount);
        cornerUvs[n] = -1;
        if (bytes[pos] === Ch.Slash) {
          pos++;
          if (bytes[pos] !== Ch.Slash) cornerUvs[n] = readIndex(uvCount);
          if (bytes[pos] === Ch.Slash) {
            pos++;
            while (pos < end && bytes[pos] > Ch.Space) pos++;
          }
        }
        if (cornerUvs[n] < 0) withUv = false;
        n++;
      }
      if (n < 3) fail(`face with ${n} corners`);
      for (let i = 1; i + 1 < n; i++) {
        triangles.push(corners[0]);
        triangles.push(corners[i]);
        triangles.push(corners[i + 1]);
        if (withUv) {
          uvTriangles.push(cornerUvs[0]);
          uvTriangles.push(cornerUvs[i]);
          uvTriangles.push(cornerUvs[i + 1]);
        }
      }
      if (!withUv && uvTriangles.length > 0) fail('face without texture coordinates among faces with them');
    }
    // Anything else (comments, vn, g, o, s, usemtl, mtllib) is skipped to the end of the line.
    while (pos < end && bytes[pos] !== Ch.LF) pos++;
    pos++;
    line++;
  }
  if (positions.length === 0) throw new InputError(fileName, 'no vertices (not an OBJ file?)');
  if (colors.length !== 0 && colors.length !== positions.length)
    throw new InputError(fileName, 'only some vertices have colours');
  if (uvTriangles.length !== 0 && uvTriangles.length !== triangles.length)
    throw new InputError(fileName, 'only some faces have texture coordinates');
  return {
    positions: positions.toArray(),
    colors: colors.toArray(),
    uvs: uvs.toArray(),
    triangles: triangles.toArray(),
    uvTriangles: uvTriangles.toArray(),
  };
}

const powers = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** 10^e, exact for e ≤ 22 (doubles hold those powers exactly). */
function powerOfTen(e: number): number {
  return e < powers.length ? powers[e] : 10 ** e;
}

function lineText(bytes: Uint8Array, start: number): string {
  let stop = start;
  while (stop < bytes.length && stop - start < 20 && bytes[stop] !== 10 && bytes[stop] !== 13) stop++;
  return new TextDecoder().decode(bytes.subarray(start, stop));
}

class GrowableFloats {
  private data = new Float32Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  toArray(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

class GrowableInts {
  private data = new Uint32Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  toArray(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}
