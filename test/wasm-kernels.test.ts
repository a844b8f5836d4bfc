import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, wasmTrainingKernelSettings } from '../src/learn/wasm-kernels.js';
import { SeededRandom } from '../src/model/random.js';

// Every kernel against tfjs's cpu backend (the reference) on the same random inputs, with the fast paths and
// without: the result must agree to 1e-4 of its largest magnitude.

const TOLERANCE = 1e-4;
type Pad = 'same' | 'valid' | number[][];

function randomArray(size: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: size }, () => random.normal());
}

/** The permutation that swaps the last two axes. */
function perm(shape: number[]): number[] {
  const p = shape.map((_, i) => i);
  [p[p.length - 2], p[p.length - 1]] = [p[p.length - 1], p[p.length - 2]];
  return p;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max |a − b| / max |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}

/** Runs `f` on the cpu backend and on wasm; returns both results' values and shapes. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]) {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const out = f();
      return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, values: t.dataSync().slice() }));
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

/** Checks wasm against cpu, with wasm's fast paths on and off. */
async function expectAgreement(f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  for (const fastPaths of [true, false]) {
    wasmTrainingKernelSettings.fastPaths = fastPaths;
    try {
      const { cpu, wasm } = await onBoth(f);
      expect(wasm.length).toBe(cpu.length);
      for (let i = 0; i < cpu.length; i++) {
        expect(wasm[i].shape).toEqual(cpu[i].shape);
        expect(relativeError(wasm[i].values, cpu[i].values), `fast paths ${fastPaths}, output ${i}`).toBeLessThan(
          TOLERANCE,
        );
      }
    } finally {
      wasmTrainingKernelSettings.fastPaths = true;
    }
  }
}

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
}

/** The 'same', 'valid' and explicit paddings, odd sizes, strides 1 and 2, 1×1 and non-square filters. */
const convCases: ConvCase[] = [
  { x: [2, 9, 11, 3], filter: [3, 3, 3, 5], strides: [1, 1], pad: 'same' },
  { x: [2, 9, 11, 3], filter: [3, 3, 3, 5], strides: [2, 2], pad: 'same' },
  { x: [1, 10, 7, 4], filter: [3, 3, 4, 2], strides: [2, 2], pad: 'valid' },
  { x: [1, 10, 7, 4], filter: [3, 3, 4, 2], strides: [1, 1], pad: 'valid' },
  {
    x: [2, 8, 9, 3],
    filter: [3, 2, 3, 4],
    strides: [1, 1],
    pad: [
      [0, 0],
      [0, 2],
      [1, 0],
      [0, 0],
    ],
  },
  {
    x: [2, 8, 9, 3],
    filter: [3, 2, 3, 4],
    strides: [2, 1],
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  { x: [3, 7, 5, 8], filter: [1, 1, 8, 6], strides: [1, 1], pad: 'valid' },
  { x: [2, 7, 5, 8], filter: [1, 1, 8, 6], strides: [2, 2], pad: 'same' },
  { x: [2, 6, 11, 2], filter: [5, 4, 2, 3], strides: [1, 2], pad: 'same' },
  {
    x: [1, 5, 6, 2],
    filter: [3, 3, 2, 2],
    strides: [1, 1],
    pad: [
      [0, 0],
      [0, 3],
      [3, 1],
      [0, 0],
    ],
  },
  {
    x: [2, 7, 6, 3],
    filter: [3, 2, 3, 2],
    strides: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 0],
      [0, 0],
    ],
  },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 2], strides: [1, 1], pad: 'valid' },
  { x: [2, 6, 7, 6], filter: [3, 3, 6, 2], strides: [2, 2], pad: 'same' },
];

function outShape(c: ConvCase, outChannels: number): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad as 'same');
  return [c.x[0], info.outHeight, info.outWidth, outChannels];
}

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
  registerWasmTrainingKernels(tf);
  await tf.setBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

describe('wasm training kernels (src/learn/wasm-kernels.ts)', () => {
  it('the comparison catches a result off by 1e-3 of its magnitude', () => {
    const reference = randomArray(100, 1);
    const off = reference.slice();
    off[17] += 1e-3 * Math.max(...reference.map(Math.abs));
    expect(relativeError(off, reference)).toBeGreaterThan(TOLERANCE);
    expect(relativeError(reference.slice(), reference)).toBe(0);
  });

  it('registers Conv2DBackpropFilter and the two depthwise gradients, once however often it is called', () => {
    const names = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'];
    const before = names.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    expect(before.every((f) => f !== undefined)).toBe(true);
    registerWasmTrainingKernels(tf);
    expect(names.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc)).toEqual(before);
  });

  it.each(convCases)(
    'Conv2DBackpropFilter matches cpu: x $x, filter $filter, strides $strides, pad $pad',
    async (c) => {
      const dyShape = outShape(c, c.filter[3]);
      const x = randomArray(sizeOf(c.x), 2);
      const dy = randomArray(sizeOf(dyShape), 3);
      await expectAgreement(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor(x, c.x), dy: tf.tensor(dy, dyShape) },
              { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter },
            ) as tf.Tensor,
      );
    },
  );

  it('Conv2DBackpropFilter matches cpu when its im2col is split into chunks of images', async () => {
    const c: ConvCase = { x: [5, 9, 8, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'same' };
    const dyShape = outShape(c, 4);
    const x = randomArray(sizeOf(c.x), 4);
    const dy = randomArray(sizeOf(dyShape), 5);
    const saved = wasmTrainingKernelSettings.im2colMaxFloats;
    // 27 rows × 20 pixels per image: two images per chunk, chunks of 2, 2 and 1.
    wasmTrainingKernelSettings.im2colMaxFloats = 27 * 20 * 2;
    try {
      await expectAgreement(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor(x, c.x), dy: tf.tensor(dy, dyShape) },
              { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter },
            ) as tf.Tensor,
      );
    } finally {
      wasmTrainingKernelSettings.im2colMaxFloats = saved;
    }
  });

  it.each(convCases)('Conv2DBackpropInput matches cpu: x $x, filter $filter, strides $strides, pad $pad', async (c) => {
    const dyShape = outShape(c, c.filter[3]);
    const filter = randomArray(sizeOf(c.filter), 20);
    const dy = randomArray(sizeOf(dyShape), 21);
    await expectAgreement(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy: tf.tensor(dy, dyShape), filter: tf.tensor(filter, c.filter) },
            { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
          ) as tf.Tensor,
    );
  });

  it('BatchMatMul matches cpu with either operand transposed, batched and broadcast', async () => {
    const cases: [number[], number[]][] = [
      [
        [3, 5, 7],
        [3, 7, 4],
      ],
      [
        [2, 3, 5, 7],
        [7, 4],
      ],
      [
        [1, 9],
        [9, 6],
      ],
    ];
    for (const [aShape, bShape] of cases) {
      const a = randomArray(sizeOf(aShape), 30);
      const b = randomArray(sizeOf(bShape), 31);
      const swap = (shape: number[]) => [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]];
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        // The same product, with the transposed operands stored transposed.
        const at = tf.tidy(() => tf.transpose(tf.tensor(a, aShape), ta ? perm(aShape) : undefined).dataSync());
        const bt = tf.tidy(() => tf.transpose(tf.tensor(b, bShape), tb ? perm(bShape) : undefined).dataSync());
        const aStored = ta ? swap(aShape) : aShape;
        const bStored = tb ? swap(bShape) : bShape;
        await expectAgreement(() =>
          tf.matMul(
            tf.tensor(ta ? at : a, aStored) as tf.Tensor3D,
            tf.tensor(tb ? bt : b, bStored) as tf.Tensor3D,
            ta,
            tb,
          ),
        );
      }
    }
  });

  const depthwiseCases = convCases
    .filter((c) => c.filter[0] > 1)
    .map((c) => ({ ...c, filter: [c.filter[0], c.filter[1], c.x[3], 1] as [number, number, number, number] }));

  it.each(depthwiseCases)(
    'depthwise gradients match cpu: x $x, filter $filter, strides $strides, pad $pad',
    async (c) => {
      const dyShape = outShape(c, c.x[3]);
      const x = randomArray(sizeOf(c.x), 6);
      const filter = randomArray(sizeOf(c.filter), 7);
      const dy = randomArray(sizeOf(dyShape), 8);
      const attrs = { strides: c.strides, pad: c.pad, dilations: [1, 1] };
      await expectAgreement(
        () =>
          tf
            .engine()
            .runKernel(
              'DepthwiseConv2dNativeBackpropFilter',
              { x: tf.tensor(x, c.x), dy: tf.tensor(dy, dyShape) },
              { ...attrs, filterShape: c.filter },
            ) as tf.Tensor,
      );
      await expectAgreement(
        () =>
          tf
            .engine()
            .runKernel(
              'DepthwiseConv2dNativeBackpropInput',
              { dy: tf.tensor(dy, dyShape), filter: tf.tensor(filter, c.filter) },
              { ...attrs, inputShape: c.x },
            ) as tf.Tensor,
      );
    },
  );

  it('backpropagates through the landmark net layers (conv2d, separableConv2d, relu, add, bias) like cpu', async () => {
    // A first layer (3×3 stride 2 'same' conv, 3 → 8) and two separable blocks (stride 2 and 1), on 17×17 images.
    const shapes: Record<string, number[]> = {
      image: [2, 17, 17, 3],
      conv: [3, 3, 3, 8],
      bias: [8],
      depthwise1: [3, 3, 8, 1],
      pointwise1: [1, 1, 8, 12],
      depthwise2: [3, 3, 12, 1],
      pointwise2: [1, 1, 12, 12],
      weights: [2, 5, 5, 12],
    };
    const values = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, randomArray(sizeOf(s), 10 + i)]));
    await expectAgreement(() => {
      const t = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor(values[k], s)]));
      const loss = (image: tf.Tensor, conv: tf.Tensor, d1: tf.Tensor, p1: tf.Tensor, d2: tf.Tensor, p2: tf.Tensor) => {
        const x = image as tf.Tensor4D;
        const out1 = tf.relu(tf.add(tf.conv2d(x, conv as tf.Tensor4D, 2, 'same'), t.bias)) as tf.Tensor4D;
        const out2 = tf.relu(tf.separableConv2d(out1, d1 as tf.Tensor4D, p1 as tf.Tensor4D, 2, 'same'));
        const out3 = tf.separableConv2d(out2, d2 as tf.Tensor4D, p2 as tf.Tensor4D, 1, 'same');
        return tf.sum(tf.mul(tf.relu(tf.add(out2, out3)), t.weights));
      };
      return tf.grads(loss)([t.image, t.conv, t.depthwise1, t.pointwise1, t.depthwise2, t.pointwise2]);
    });
  });

  it('frees every tensor it allocates on the wasm heap (fast paths on and off)', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    for (const fastPaths of [true, false]) {
      wasmTrainingKernelSettings.fastPaths = fastPaths;
      try {
        const before = backend.numDataIds();
        tf.tidy(() => {
          const x = tf.randomNormal([2, 9, 9, 4]) as tf.Tensor4D;
          const conv = tf.randomNormal([3, 3, 4, 4]) as tf.Tensor4D;
          const depthwise = tf.randomNormal([3, 3, 4, 1]) as tf.Tensor4D;
          const pointwise = tf.randomNormal([1, 1, 4, 6]) as tf.Tensor4D;
          const w = tf.randomNormal([6, 5]) as tf.Tensor2D;
          const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => {
            const h0 = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same');
            const h = tf.conv2d(h0, b as tf.Tensor4D, 1, 'same'); // the stride-1 input gradient's path
            const s1 = tf.separableConv2d(h, c as tf.Tensor4D, d as tf.Tensor4D, 1, 'same');
            const s2 = tf.separableConv2d(h, c as tf.Tensor4D, d as tf.Tensor4D, 2, 'same');
            return tf.add(tf.sum(tf.matMul(tf.reshape(s1, [-1, 6]), e as tf.Tensor2D)), tf.sum(s2));
          };
          for (const g of tf.grads(f)([x, conv, depthwise, pointwise, w])) g.dataSync();
        });
        expect(backend.numDataIds(), `fast paths ${fastPaths}`).toBe(before);
      } finally {
        wasmTrainingKernelSettings.fastPaths = true;
      }
    }
  });

  it('rejects dilations, channel multipliers and shapes it does not handle, naming the kernel and the problem', () => {
    const x = tf.zeros([1, 6, 6, 2]);
    const dy = tf.zeros([1, 6, 6, 2]);
    const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => () =>
      tf.engine().runKernel(name, inputs, attrs as never);
    const same = { strides: [1, 1], pad: 'same' };
    expect(
      run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...same, dilations: [2, 2], filterShape: [3, 3, 2, 1] }),
    ).toThrow(/DepthwiseConv2dNativeBackpropFilter on wasm: only dilations 1/);
    expect(
      run(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: tf.zeros([1, 6, 6, 4]), filter: tf.zeros([3, 3, 2, 2]) },
        {
          ...same,
          dilations: 1,
          inputShape: [1, 6, 6, 2],
        },
      ),
    ).toThrow(/DepthwiseConv2dNativeBackpropInput on wasm: only channel multiplier 1/);
    expect(
      run('Conv2DBackpropFilter', { x, dy: tf.zeros([1, 3, 3, 4]) }, { ...same, filterShape: [3, 3, 2, 4] }),
    ).toThrow(/Conv2DBackpropFilter on wasm: dy has shape \[1,3,3,4\], expected \[1,6,6,4\]/);
    expect(
      run(
        'DepthwiseConv2dNativeBackpropFilter',
        { x, dy: tf.zeros([1, 5, 6, 2]) },
        { ...same, filterShape: [3, 3, 2, 1] },
      ),
    ).toThrow(/dy has shape \[1,5,6,2\], expected \[1,6,6,2\]/);
    tf.dispose([x, dy]);
  });
});
