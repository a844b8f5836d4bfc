import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importSurreyModel, parseContours, parseIbugMapping } from '../src/io/importers/surrey.js';
import { InputError } from '../src/errors.js';
import { componentNorms, type MorphableModel } from '../src/model/morphable-model.js';

// The SFM files are not redistributable with this repository; they live next to it.
const dir = fileURLToPath(new URL('../../shared/models/sfm/', import.meta.url));
const haveSfm = existsSync(`${dir}sfm_shape_3448.bin`);

/** Runs `f` and returns the InputError it throws; fails the test on anything else. */
function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw new Error(`expected an InputError, got ${String(e)}`);
  }
  throw new Error('expected an InputError, nothing was thrown');
}

// ---------------------------------------------------------------------------------------------
// A minimal cereal binary writer, written from the archive rules (not from the importer).

class Writer {
  private chunks: Uint8Array[] = [];

  private push(size: number, fill: (v: DataView) => void): this {
    const b = new Uint8Array(size);
    fill(new DataView(b.buffer));
    this.chunks.push(b);
    return this;
  }
  u32(x: number) {
    return this.push(4, (v) => v.setUint32(0, x, true));
  }
  i32(x: number) {
    return this.push(4, (v) => v.setInt32(0, x, true));
  }
  u64(x: bigint | number) {
    return this.push(8, (v) => v.setBigUint64(0, BigInt(x), true));
  }
  bool(x: boolean) {
    return this.push(1, (v) => v.setUint8(0, x ? 1 : 0));
  }
  f32s(xs: number[]) {
    return this.push(4 * xs.length, (v) => xs.forEach((x, i) => v.setFloat32(4 * i, x, true)));
  }
  f64s(xs: number[]) {
    return this.push(8 * xs.length, (v) => xs.forEach((x, i) => v.setFloat64(8 * i, x, true)));
  }
  i32s(xs: number[]) {
    return this.push(4 * xs.length, (v) => xs.forEach((x, i) => v.setInt32(4 * i, x, true)));
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.chunks.push(b);
    return this;
  }
  /** Eigen matrix: int32 rows, int32 cols, column-major floats. */
  matrix(rows: number, cols: number, colMajor: number[]) {
    return this.i32(rows).i32(cols).f32s(colMajor);
  }
  triangles(tris: number[]) {
    return this.u64(tris.length / 3).i32s(tris);
  }
  pca(mean: number[], basisColMajor: number[], eigenvalues: number[], tris: number[]) {
    this.matrix(mean.length, 1, mean);
    this.matrix(mean.length, eigenvalues.length, basisColMajor);
    this.matrix(eigenvalues.length, 1, eigenvalues);
    return this.triangles(tris);
  }
  emptyPca() {
    return this.matrix(0, 1, []).matrix(0, 0, []).matrix(0, 1, []).triangles([]);
  }
  blendshapes(list: { name: string; delta: number[] }[]) {
    this.u64(list.length);
    for (const b of list) this.string(b.name).matrix(b.delta.length, 1, b.delta);
    return this;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((s, c) => s + c.length, 0));
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

// A 4-vertex, 2-component model; every value and sqrt(eigenvalue) is exact in float32.
const tiny = {
  mean: [1.5, -2.25, 3, 10, 0, -0.5, 0, 10, 0.125, -4, 8, 10],
  // Column 0 = e_0, column 1 = 0.5 on four entries: orthonormal.
  basis0: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  basis1: [0, 0.5, 0, 0, -0.5, 0, 0, 0, 0.5, 0, 0, -0.5],
  eigenvalues: [4, 0.25],
  triangles: [0, 1, 2, 0, 2, 3],
  uv: [0, 0, 1, 0, 0.25, 0.75, 0.5, 0.5],
  smile: [0, 0, 0, 1, 2, 2, 0, 0, 0, 0, 0, 0],
};

function tinyV1(): Uint8Array {
  return new Writer()
    .u32(1)
    .pca(tiny.mean, [...tiny.basis0, ...tiny.basis1], tiny.eigenvalues, tiny.triangles)
    .emptyPca()
    .u64(4)
    .f64s(tiny.uv)
    .bytes();
}

/** Version 4: embedded blendshapes, landmark definitions and seam-split texture coordinates. */
function tinyV4(): Uint8Array {
  return new Writer()
    .u32(4)
    .pca(tiny.mean, [...tiny.basis0, ...tiny.basis1], tiny.eigenvalues, tiny.triangles)
    .emptyPca()
    .bool(false) // expression model present
    .i32(1) // variant index 1: Blendshapes
    .blendshapes([{ name: 'smile', delta: tiny.smile }])
    .bool(false) // landmark definitions present
    .u64(2)
    .string('31')
    .i32(2)
    .string('eye.right.outer_corner')
    .i32(1)
    .u64(5)
    .f64s([...tiny.uv, 1, 1])
    .triangles([0, 1, 2, 0, 2, 4])
    .bytes();
}

describe('importSurreyModel on synthetic cereal files', () => {
  it('round-trips a version-1 model exactly', () => {
    const m = importSurreyModel({ shape: tinyV1(), shapeName: 'tiny.bin' });
    expect(m.vertexCount).toBe(4);
    expect(m.name).toBe('Surrey Face Model 4 (shape only)');
    expect(Array.from(m.mean)).toEqual(tiny.mean);
    expect(m.identity.kind).toBe('pca');
    expect(m.identity.count).toBe(2);
    expect(m.identity.names).toEqual(['pc0', 'pc1']);
    expect(Array.from(m.identity.stddev)).toEqual([2, 0.5]);
    // Component-major, each component scaled by its σ.
    expect(Array.from(m.identity.basis)).toEqual([
      ...tiny.basis0.map((x) => 2 * x),
      ...tiny.basis1.map((x) => 0.5 * x),
    ]);
    expect(Array.from(m.triangles)).toEqual(tiny.triangles);
    // v flipped to point up.
    expect(Array.from(m.uvs)).toEqual([0, 1, 1, 1, 0.25, 0.25, 0.5, 0.5]);
    expect(Array.from(m.uvTriangles)).toEqual(tiny.triangles);
    expect(m.expression.count).toBe(0);
    expect(m.color).toBeUndefined();
    expect(m.landmarks).toEqual({});
    expect(m.contours).toEqual({});
    expect(Array.from(m.regions.face)).toEqual([0, 1, 2, 3]);
  });

  it('reads a version-4 model with embedded blendshapes, landmarks and texture triangles', () => {
    const m = importSurreyModel({ shape: tinyV4(), shapeName: 'tiny4.bin' });
    expect(m.expression.kind).toBe('blendshapes');
    expect(m.expression.names).toEqual(['smile']);
    expect(Array.from(m.expression.basis)).toEqual(tiny.smile);
    expect(m.expression.stddev[0]).toBeCloseTo(3, 6);
    const ibug = m.landmarks.ibug68.vertices;
    expect(ibug.length).toBe(68);
    expect(ibug[30]).toBe(2);
    expect(Array.from(ibug).filter((v) => v !== -1)).toEqual([2]);
    expect(m.uvs.length).toBe(10);
    expect(Array.from(m.uvTriangles)).toEqual([0, 1, 2, 0, 2, 4]);
  });

  it('reads a separate blendshapes file and names its errors after that file', () => {
    const shapes = new Writer()
      .blendshapes([
        { name: 'smile', delta: tiny.smile },
        { name: 'frown', delta: tiny.smile.map((x) => -x) },
      ])
      .bytes();
    const m = importSurreyModel({
      shape: tinyV1(),
      shapeName: 'tiny.bin',
      blendshapes: shapes,
      blendshapesName: 'bs.bin',
    });
    expect(m.expression.names).toEqual(['smile', 'frown']);
    expect(Array.from(m.expression.basis.subarray(12))).toEqual(tiny.smile.map((x) => -x));
    expect(Array.from(m.expression.stddev)).toEqual(Array.from(componentNorms(m.expression.basis, 2)));

    for (let length = 0; length < shapes.length; length++) {
      const e = inputError(() =>
        importSurreyModel({
          shape: tinyV1(),
          shapeName: 'tiny.bin',
          blendshapes: shapes.subarray(0, length),
          blendshapesName: 'bs.bin',
        }),
      );
      expect(e.subject).toBe('bs.bin');
    }
    const wrongSize = new Writer().blendshapes([{ name: 'x', delta: [1, 2, 3] }]).bytes();
    expect(
      inputError(() =>
        importSurreyModel({ shape: tinyV1(), shapeName: 't', blendshapes: wrongSize, blendshapesName: 'bs.bin' }),
      ).message,
    ).toMatch(/bs\.bin: .*1 vertices, the shape model has 4/);
  });

  it('rejects every truncation of a model with an InputError naming the file', () => {
    for (const bytes of [tinyV1(), tinyV4()]) {
      for (let length = 0; length < bytes.length; length++) {
        const e = inputError(() => importSurreyModel({ shape: bytes.subarray(0, length), shapeName: 'tiny.bin' }));
        expect(e.subject).toBe('tiny.bin');
        expect(e.message.startsWith('tiny.bin: ')).toBe(true);
      }
    }
    expect(
      inputError(() => importSurreyModel({ shape: tinyV1().subarray(0, 100), shapeName: 'tiny.bin' })).message,
    ).toMatch(
      /truncated or corrupt eos model file \(shape model orthonormal basis: 12×2 floats at offset \d+ need 96 bytes/,
    );
  });

  it('rejects trailing bytes', () => {
    const bytes = new Uint8Array(tinyV1().length + 3);
    bytes.set(tinyV1());
    expect(inputError(() => importSurreyModel({ shape: bytes, shapeName: 'x.bin' })).message).toMatch(
      /3 unexpected bytes/,
    );
  });

  it('rejects corrupt sizes and indices quickly', () => {
    const good = tinyV1();
    const basisAt = 4 + 8 + 4 * 12;
    const trianglesAt = basisAt + 8 + 4 * 24 + 8 + 4 * 2;
    const patch = (f: (v: DataView) => void) => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return b;
    };
    const cases: [Uint8Array, RegExp][] = [
      [patch((v) => v.setInt32(basisAt + 4, 0x7fffffff, true)), /orthonormal basis: 12×2147483647 floats/],
      [patch((v) => v.setInt32(basisAt, -1, true)), /negative size/],
      [patch((v) => v.setBigUint64(trianglesAt, 1n << 62n, true)), /triangle list: count 4611686018427387904/],
      [patch((v) => v.setInt32(trianglesAt + 8 + 4, 99, true)), /triangle 0 names vertex 99/],
      [patch((v) => v.setFloat32(basisAt + 8 + 4 * 24 + 8, -1, true)), /eigenvalue 0 is negative/],
      [patch((v) => v.setFloat32(12, NaN, true)), /non-finite/],
      [patch((v) => v.setUint32(0, 7, true)), /not an eos model file: it starts with 7/],
    ];
    for (const [bytes, message] of cases) {
      expect(inputError(() => importSurreyModel({ shape: bytes, shapeName: 'c.bin' })).message).toMatch(message);
    }
  });

  it('rejects files that are not eos models', () => {
    let seed = 12345;
    const random = () => {
      // xorshift32: deterministic noise.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    for (const length of [1, 3, 4, 7, 16, 100, 1000, 65536]) {
      for (const version of [undefined, 1, 2, 3, 4]) {
        const bytes = new Uint8Array(length).map(() => random() & 0xff);
        if (version !== undefined && length >= 4) new DataView(bytes.buffer).setUint32(0, version, true);
        const e = inputError(() => importSurreyModel({ shape: bytes, shapeName: 'noise.bin' }));
        expect(e.subject).toBe('noise.bin');
      }
    }
    const text = new TextEncoder().encode(
      '# Mapping from the 68-point ibug annotations\n[landmark_mappings]\n9 = 33\n',
    );
    expect(inputError(() => importSurreyModel({ shape: text, shapeName: 'ibug_to_sfm.txt' })).message).toMatch(
      /^ibug_to_sfm\.txt: not an eos model file/,
    );
    expect(inputError(() => importSurreyModel({ shape: new Uint8Array(0), shapeName: 'e.bin' })).message).toMatch(
      /empty file/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseIbugMapping', () => {
  const good = [
    '# comment',
    'title = "x # not a comment"',
    '[landmark_mappings]',
    ' 9 =    3  # chin',
    '"31" = "2"',
    "'37' = 1",
    '',
    '[contour_landmarks]',
    'right = [ 1,',
    '          2 ]  # [ in a comment',
    'left  = [ 10,',
    '          "]", [11]',
    '        ]',
  ].join('\r\n');

  it('reads bare and quoted keys, skips comments and other tables', () => {
    const v = parseIbugMapping(good, 'map.txt', 4);
    expect(v.length).toBe(68);
    expect(v[8]).toBe(3);
    expect(v[30]).toBe(2);
    expect(v[36]).toBe(1);
    expect(Array.from(v).filter((x) => x !== -1).length).toBe(3);
  });

  const bad: [string, RegExp][] = [
    ['[landmark_mappings]\n9 33', /^map\.txt: line 2: not valid TOML/],
    [
      '[landmark_mappings]\n\n69 = 1',
      /^map\.txt: landmark_mappings: iBUG landmark number must be an integer from 1 to 68, found '69'/,
    ],
    ['[landmark_mappings]\n0 = 1', /iBUG landmark number/],
    ['[landmark_mappings]\nnose = 1', /iBUG landmark number .* found 'nose'/],
    ['[landmark_mappings]\n9 = -1', /vertex index for iBUG point 9 must be a non-negative integer/],
    ['[landmark_mappings]\n9 = 1.5', /vertex index for iBUG point 9/],
    ['[landmark_mappings]\n9 = "x"', /vertex index for iBUG point 9 .* found "x"/],
    ['[landmark_mappings]\n9 = 4', /iBUG point 9 maps to vertex 4, the model has 4 vertices/],
    ['[landmark_mappings]\n9 = 1\n9 = 2', /line 3: not valid TOML/],
    ['[landmark_mappings]\n9 = "1', /line 2: not valid TOML \(unfinished string\)/],
    ['[landmark_mappings\n9 = 1', /line 1: not valid TOML/],
    ['[other]\nx = [1,\n2', /line 3: not valid TOML/],
    ['9 = 1\n', /no \[landmark_mappings\] table/],
  ];
  it.each(bad)('rejects %j', (text, message) => {
    expect(inputError(() => parseIbugMapping(text, 'map.txt', 4)).message).toMatch(message);
  });

  it('reports errors from importSurreyModel under the mapping file name', () => {
    const e = inputError(() =>
      importSurreyModel({
        shape: tinyV1(),
        shapeName: 't.bin',
        ibugMapping: '[landmark_mappings]\n1 = x',
        ibugMappingName: 'ibug.txt',
      }),
    );
    expect(e.message).toMatch(/^ibug\.txt: line 2: not valid TOML/);
  });
});

describe('parseContours', () => {
  it('reads right and left lists in file order', () => {
    const c = parseContours('{"model_contour": {"right_contour": [3, 1], "left_contour": [2, 0]}}', 'c.json', 4);
    expect(Array.from(c.right)).toEqual([3, 1]);
    expect(Array.from(c.left)).toEqual([2, 0]);
    // cereal's default root name.
    expect(
      Array.from(parseContours('{"value0": {"right_contour": [1], "left_contour": []}}', 'c.json', 4).right),
    ).toEqual([1]);
  });

  const bad: [string, RegExp][] = [
    ['{"model_contour": {"right_contour": [1,]}}', /^c\.json: not valid JSON/],
    ['[1, 2]', /expected a JSON object/],
    ['{"model_contour": {"right_contour": [1]}}', /missing "model_contour\.left_contour"/],
    [
      '{"model_contour": {"right_contour": [1], "left_contour": [4]}}',
      /model_contour\.left_contour\[0\] is 4, expected a vertex index from 0 to 3/,
    ],
    ['{"model_contour": {"right_contour": [1.5], "left_contour": []}}', /right_contour\[0\] is 1\.5/],
    ['{"model_contour": {"right_contour": ["1"], "left_contour": []}}', /right_contour\[0\] is "1"/],
  ];
  it.each(bad)('rejects %j', (text, message) => {
    expect(inputError(() => parseContours(text, 'c.json', 4)).message).toMatch(message);
  });
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(!haveSfm)('importSurreyModel on the eos Surrey Face Model files', () => {
  const shapeName = `${dir}sfm_shape_3448.bin`;
  const shape = haveSfm ? new Uint8Array(readFileSync(shapeName)) : new Uint8Array(0);
  const mappingText = haveSfm ? readFileSync(`${dir}ibug_to_sfm.txt`, 'utf8') : '';
  const contoursText = haveSfm ? readFileSync(`${dir}sfm_model_contours.json`, 'utf8') : '';
  const load = (): MorphableModel =>
    importSurreyModel({
      shape,
      shapeName,
      blendshapes: new Uint8Array(readFileSync(`${dir}expression_blendshapes_3448.bin`)),
      blendshapesName: 'expression_blendshapes_3448.bin',
      ibugMapping: mappingText,
      ibugMappingName: 'ibug_to_sfm.txt',
      contours: contoursText,
      contoursName: 'sfm_model_contours.json',
    });
  const model = haveSfm ? load() : (undefined as unknown as MorphableModel);
  const n = 3448;
  const at = (v: number) => [model.mean[3 * v], model.mean[3 * v + 1], model.mean[3 * v + 2]];

  // Offsets into the raw file, derived here from the cereal headers without the importer.
  const raw = new DataView(shape.buffer, shape.byteOffset, shape.byteLength);
  const meanData = 12; // uint32 class version, int32 rows, int32 cols
  const meanRows = haveSfm ? raw.getInt32(4, true) : 0;
  const basisHeader = meanData + 4 * meanRows;
  const basisRows = haveSfm ? raw.getInt32(basisHeader, true) : 0;
  const basisCols = haveSfm ? raw.getInt32(basisHeader + 4, true) : 0;
  const basisData = basisHeader + 8;
  const eigenData = basisData + 4 * basisRows * basisCols + 8;
  const triangleCountAt = eigenData + 4 * basisCols;

  it('has the expected size, bases and names', () => {
    expect(model.name).toBe('Surrey Face Model 3448 (shape only)');
    expect(model.licence).toBe('Surrey Face Model: free for research and testing, see cvssp.org/facemodel');
    expect(model.vertexCount).toBe(n);
    expect(meanRows).toBe(3 * n);
    expect(model.mean.length).toBe(3 * n);
    expect(model.identity.kind).toBe('pca');
    expect(model.identity.count).toBe(63);
    expect(model.identity.basis.length).toBe(63 * 3 * n);
    expect(model.identity.names[0]).toBe('pc0');
    expect(model.identity.names[62]).toBe('pc62');
    expect(model.expression.kind).toBe('blendshapes');
    expect(model.expression.names).toEqual(['anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise']);
    expect(Array.from(model.expression.stddev)).toEqual(Array.from(componentNorms(model.expression.basis, 6)));
    expect(model.color).toBeUndefined();
    expect(model.regions.face.length).toBe(n);
    expect(model.regions.face[n - 1]).toBe(n - 1);
  });

  it('has the triangle count of the file header, all indices in range', () => {
    const count = Number(raw.getBigUint64(triangleCountAt, true));
    expect(count).toBeGreaterThan(0);
    expect(model.triangles.length).toBe(3 * count);
    expect(model.triangles.reduce((a, b) => Math.max(a, b))).toBeLessThan(n);
  });

  it('matches mean + 1.5·sqrt(λ_3)·u_3 at vertex 100 computed from the raw bytes', () => {
    const k = 3;
    const row = 3 * 100; // x of vertex 100
    const mean = raw.getFloat32(meanData + 4 * row, true);
    const lambda = raw.getFloat32(eigenData + 4 * k, true);
    const u = raw.getFloat32(basisData + 4 * (k * basisRows + row), true); // column-major
    const expected = mean + 1.5 * Math.sqrt(lambda) * u;
    const ours = model.mean[row] + 1.5 * model.identity.basis[k * 3 * n + row];
    expect(ours).toBeCloseTo(expected, 4);
    expect(Math.abs(1.5 * Math.sqrt(lambda) * u)).toBeGreaterThan(0.01); // the component does move it
    expect(model.identity.stddev[k]).toBeCloseTo(Math.sqrt(lambda), 3);
    // σ-scaled components have norm σ_k.
    expect(componentNorms(model.identity.basis, 63)[k]).toBeCloseTo(model.identity.stddev[k], 1);
  });

  it('maps the iBUG points as the mapping file says, with a plausible layout', () => {
    const ibug = model.landmarks.ibug68.vertices;
    const expected = new Int32Array(68).fill(-1);
    for (const m of mappingText.matchAll(/^\s*(\d+)\s*=\s*(\d+)/gm)) expected[Number(m[1]) - 1] = Number(m[2]);
    expect(Array.from(ibug)).toEqual(Array.from(expected));
    // The SFM has no vertices for the jaw outline (1–8, 10–17) or the inner mouth corners.
    for (const p of [1, 8, 10, 17, 61, 65]) expect(ibug[p - 1]).toBe(-1);

    const y = (p: number) => at(ibug[p - 1])[1];
    const x = (p: number) => at(ibug[p - 1])[0];
    const defined = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((p) => ibug[p - 1] >= 0);
    const noseTip = 31;
    for (const eye of defined(37, 48)) expect(y(eye)).toBeGreaterThan(y(noseTip));
    for (const mouth of defined(49, 68)) expect(y(mouth)).toBeLessThan(y(noseTip));
    // +z towards the viewer: the nose tip is in front of the eye corners.
    expect(at(ibug[noseTip - 1])[2]).toBeGreaterThan(at(ibug[36])[2] + 20);

    const midline = defined(28, 31).concat([9, 34, 52, 58]).map(x);
    const mid = midline.reduce((s, v) => s + v, 0) / midline.length;
    // (person's right, person's left) pairs; +x is the face's left.
    const pairs = [
      [37, 46],
      [38, 45],
      [39, 44],
      [40, 43],
      [41, 48],
      [42, 47],
      [18, 27],
      [20, 25],
      [22, 23],
      [32, 36],
      [49, 55],
      [50, 54],
      [60, 56],
      [62, 64],
      [68, 66],
    ];
    for (const [r, l] of pairs) {
      expect(x(r)).toBeLessThan(mid);
      expect(x(l)).toBeGreaterThan(mid);
      expect(Math.abs((x(r) + x(l)) / 2 - mid)).toBeLessThan(2);
      expect(Math.abs(y(r) - y(l))).toBeLessThan(2);
    }
  });

  it("reads the contours: right on the person's right, both from the top down", () => {
    const file = JSON.parse(contoursText) as { model_contour: { right_contour: number[]; left_contour: number[] } };
    expect(Array.from(model.contours.right)).toEqual(file.model_contour.right_contour);
    expect(Array.from(model.contours.left)).toEqual(file.model_contour.left_contour);
    for (const [side, sign] of [
      ['right', -1],
      ['left', 1],
    ] as const) {
      const list = Array.from(model.contours[side]);
      for (const v of list) expect(Math.sign(at(v)[0])).toBe(sign);
      for (let i = 1; i < list.length; i++) expect(at(list[i])[1]).toBeLessThan(at(list[i - 1])[1]);
    }
  });

  it('has per-vertex uvs with v up', () => {
    expect(model.uvs.length).toBe(2 * n);
    expect(Array.from(model.uvTriangles)).toEqual(Array.from(model.triangles));
    expect(model.uvs.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(0);
    expect(model.uvs.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(1);
    const ibug = model.landmarks.ibug68.vertices;
    const v = (p: number) => model.uvs[2 * ibug[p - 1] + 1];
    expect(v(9)).toBeLessThan(v(31)); // chin below nose tip
    expect(v(31)).toBeLessThan(v(37)); // nose tip below the eye
  });

  it('rejects truncated copies of the real files with the file name', () => {
    const size = shape.length;
    for (const length of [
      0,
      2,
      4,
      11,
      100,
      basisHeader + 4,
      eigenData - 1,
      triangleCountAt + 4,
      triangleCountAt + 20,
      size - 16,
      size - 1,
    ]) {
      const e = inputError(() => importSurreyModel({ shape: shape.subarray(0, length), shapeName }));
      expect(e.subject).toBe(shapeName);
    }
    const blendshapes = new Uint8Array(readFileSync(`${dir}expression_blendshapes_3448.bin`));
    for (const length of [5, 8, 20, 30, 1000, blendshapes.length - 1]) {
      const e = inputError(() =>
        importSurreyModel({
          shape,
          shapeName,
          blendshapes: blendshapes.subarray(0, length),
          blendshapesName: 'bs.bin',
        }),
      );
      expect(e.message).toMatch(/^bs\.bin: truncated or corrupt eos blendshapes file/);
    }
  });
});
