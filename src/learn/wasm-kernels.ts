/**
 * Training kernels for tfjs's wasm backend. The backend (4.22) can run a convolutional net forward but lacks
 * three kernels that its gradients need (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
 * DepthwiseConv2dNativeBackpropInput), and its Conv2DBackpropInput is slow. `registerWasmTrainingKernels(tf)`
 * registers them for 'wasm' in the kernel registry of the tfjs-core instance `tf` belongs to.
 *
 * Layout NHWC only, dilations 1, depthwise channel multiplier 1: anything else throws. The depthwise gradients are
 * plain loops over the wasm heap, except the stride-1 input gradient, which the backend's own depthwise conv
 * computes; the conv2d filter gradient is an im2col (built in place on the heap) times dy by the backend's own
 * BatchMatMul (XNNPACK). The fast paths (see `wasmTrainingKernelSettings`) replace the backend's slow transposed
 * BatchMatMul and its Conv2DBackpropInput at 1×1 (a product) and at stride 1 (the backend's Conv2D with the
 * filter turned).
 */
import type * as tfc from '@tensorflow/tfjs-core';

type Tf = Pick<typeof tfc, 'registerKernel' | 'unregisterKernel' | 'getKernel' | 'backend_util'>;
type TensorInfo = tfc.TensorInfo;
type KernelFunc = tfc.KernelFunc;
type Conv2DInfo = tfc.backend_util.Conv2DInfo;

/** What the kernels use of tfjs-backend-wasm's BackendWasm (its type is not worth a dependency on its internals). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/** Marks the kernel functions made here, so that a second registration (or a second copy of this module) skips. */
const MARK = Symbol.for('morphable.wasmTrainingKernel');

/**
 * Read at every call. `fastPaths: false` leaves the wasm backend's own BatchMatMul and Conv2DBackpropInput as they
 * are and computes every depthwise gradient by the loops (to measure what the fast paths gain, and to test both).
 * Above `im2colMaxFloats` floats, the conv2d filter gradient's im2col is built and multiplied a few images at a
 * time (a setting, so that tests can reach that path with small tensors).
 */
export const wasmTrainingKernelSettings = { fastPaths: true, im2colMaxFloats: 1 << 24 };

/**
 * Registers the training kernels for the 'wasm' backend of the tfjs-core instance that `tf` is (pass the namespace
 * in use: `@tensorflow/tfjs`, or `@tensorflow/tfjs-core`; in Node both are one instance). Import
 * `@tensorflow/tfjs-backend-wasm` first (its kernels must be registered); the backend need not be initialised yet.
 * Idempotent. Gradients themselves are registered by `@tensorflow/tfjs` (its layers), not here. Also replaces
 * the wasm BatchMatMul and Conv2DBackpropInput kernels by faster paths where they apply (see
 * `wasmTrainingKernelSettings`).
 */
export function registerWasmTrainingKernels(tf: Tf): void {
  const wasmKernel = (name: string): KernelFunc => {
    const config = tf.getKernel(name, 'wasm');
    if (config === undefined) {
      throw new Error(
        `registerWasmTrainingKernels: the wasm backend has no ${name} kernel; import @tensorflow/tfjs-backend-wasm`,
      );
    }
    return original(config.kernelFunc);
  };
  const ops: Ops = {
    tf,
    matMul: wasmKernel('BatchMatMul'),
    transpose: wasmKernel('Transpose'),
    depthwise: wasmKernel('DepthwiseConv2dNative'),
    conv2d: wasmKernel('Conv2D'),
  };
  register(tf, 'Conv2DBackpropFilter', (args) => conv2DBackpropFilter(ops, args));
  register(tf, 'DepthwiseConv2dNativeBackpropFilter', (args) => depthwiseBackpropFilter(tf, args));
  register(tf, 'DepthwiseConv2dNativeBackpropInput', (args) => depthwiseBackpropInput(ops, args));
  const backpropInput = wasmKernel('Conv2DBackpropInput');
  register(tf, 'Conv2DBackpropInput', (args) => conv2DBackpropInput(ops, backpropInput, args), backpropInput);
  register(tf, 'BatchMatMul', (args) => batchMatMul(ops, args), ops.matMul);
}

interface Ops {
  tf: Tf;
  /** The wasm backend's own kernels (never the ones registered here). */
  matMul: KernelFunc;
  transpose: KernelFunc;
  depthwise: KernelFunc;
  conv2d: KernelFunc;
}

type KernelArgs = Parameters<KernelFunc>[0];

/** The kernel a marked function replaced (so that wrapping twice never wraps a wrapper). */
function original(fn: KernelFunc): KernelFunc {
  const marked = fn as KernelFunc & { [MARK]?: KernelFunc };
  return marked[MARK] ?? fn;
}

/** Registers `kernelFunc` for 'wasm' under `kernelName`, keeping the replaced kernel's setup and dispose. */
function register(tf: Tf, kernelName: string, kernelFunc: KernelFunc, replaced?: KernelFunc): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing !== undefined && MARK in existing.kernelFunc) return;
  const marked = kernelFunc as KernelFunc & { [MARK]?: KernelFunc };
  marked[MARK] = replaced ?? kernelFunc;
  if (existing !== undefined) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...existing, kernelName, backendName: 'wasm', kernelFunc: marked });
}

function checkNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm: only NHWC is supported, got dataFormat ${String(dataFormat)}`);
  }
}

function checkDilations(kernel: string, dilations: unknown): void {
  const ok =
    dilations === undefined || dilations === 1 || (Array.isArray(dilations) && dilations.every((d) => d === 1));
  if (!ok) throw new Error(`${kernel} on wasm: only dilations 1 are supported, got ${String(dilations)}`);
}

function checkFloat(kernel: string, ...infos: TensorInfo[]): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') throw new Error(`${kernel} on wasm: float32 tensors only, got ${info.dtype}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter: dW[ky,kx,ci,co] = Σ_{b,oy,ox} x[b, oy·s − top + ky, ox·s − left + kx, ci] · dy[b,oy,ox,co]
// ---------------------------------------------------------------------------------------------------------------

function conv2DBackpropFilter(ops: Ops, args: KernelArgs): TensorInfo {
  const kernel = 'Conv2DBackpropFilter';
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tfc.Conv2DBackpropFilterAttrs;
  checkNhwc(kernel, attrs.dataFormat);
  checkFloat(kernel, x, dy);
  const info = ops.tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  checkShape(kernel, 'dy', dy.shape, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]);
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const pixels = info.outHeight * info.outWidth;
  const perChunk = Math.max(
    1,
    Math.min(info.batchSize, Math.floor(wasmTrainingKernelSettings.im2colMaxFloats / (k * pixels))),
  );

  let total: TensorInfo | undefined;
  for (let b0 = 0; b0 < info.batchSize; b0 += perChunk) {
    const nb = Math.min(perChunk, info.batchSize - b0);
    const m = nb * pixels;
    // cols = im2colᵀ [k, m]: a plain (not transposed) matMul cols · dy, which XNNPACK does fast. (For 1×1 convs,
    // x transposed by the wasm Transpose kernel instead measured the same within the noise at load 6–7.)
    const cols = backend.makeOutput([1, k, m], 'float32');
    let dyChunk: TensorInfo = { dataId: dy.dataId, shape: [1, m, info.outChannels], dtype: 'float32' };
    if (nb !== info.batchSize) {
      dyChunk = backend.makeOutput([1, m, info.outChannels], 'float32');
      const src = backend.typedArrayFromHeap(dy);
      const start = b0 * pixels * info.outChannels;
      backend.typedArrayFromHeap(dyChunk).set(src.subarray(start, start + m * info.outChannels));
    }
    im2colTransposed(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(cols), info, b0, nb);
    const part = ops.matMul({
      inputs: { a: cols, b: dyChunk },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
    backend.disposeData(cols.dataId);
    if (dyChunk.dataId !== dy.dataId) backend.disposeData(dyChunk.dataId);
    if (total === undefined) {
      total = part;
    } else {
      const sum = backend.typedArrayFromHeap(total);
      const add = backend.typedArrayFromHeap(part);
      for (let i = 0; i < sum.length; i++) sum[i] += add[i];
      backend.disposeData(part.dataId);
    }
  }
  if (total === undefined) throw new Error(`${kernel} on wasm: empty batch`);
  return { dataId: total.dataId, shape: [...info.filterShape], dtype: 'float32' };
}

/** Writes im2colᵀ of images b0 … b0+nb−1 of x: row (ky·kw + kx)·ci + c, column (b·oh + oy)·ow + ox; 0 in padding. */
function im2colTransposed(x: Float32Array, cols: Float32Array, info: Conv2DInfo, b0: number, nb: number): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = nb * outHeight * outWidth;
  const rowStride = inWidth * inChannels;
  const imageStride = inHeight * rowStride;
  for (let ky = 0; ky < filterHeight; ky++) {
    for (let kx = 0; kx < filterWidth; kx++) {
      for (let c = 0; c < inChannels; c++) {
        const rowStart = ((ky * filterWidth + kx) * inChannels + c) * m;
        let col = rowStart;
        for (let b = b0; b < b0 + nb; b++) {
          const image = b * imageStride + c;
          for (let oy = 0; oy < outHeight; oy++) {
            const iy = oy * strideHeight - top + ky;
            if (iy < 0 || iy >= inHeight) {
              cols.fill(0, col, col + outWidth);
              col += outWidth;
              continue;
            }
            const row = image + iy * rowStride;
            for (let ox = 0; ox < outWidth; ox++) {
              const ix = ox * strideWidth - left + kx;
              cols[col++] = ix >= 0 && ix < inWidth ? x[row + ix * inChannels] : 0;
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fast paths on the backend's own kernels
// ---------------------------------------------------------------------------------------------------------------

/** x with its last two axes swapped, by the wasm Transpose kernel (a new tensor on the heap). */
function transposeLastTwo(ops: Ops, backend: WasmBackend, x: TensorInfo): TensorInfo {
  const perm = x.shape.map((_, i) => i);
  perm[perm.length - 2] = perm.length - 1;
  perm[perm.length - 1] = perm.length - 2;
  return ops.transpose({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
}

/**
 * BatchMatMul with a transposed operand as an explicit transpose + a plain product: the wasm kernel's transposed
 * products are slow ([50176, 32]ᵀ·[50176, 32]: 76 → 30 ms; [3136, 256]ᵀ·[3136, 256]: 66–105 → 3–7 ms;
 * [50176, 32]·[32, 32]ᵀ: 110–122 → 40–50 ms; 2-core machine at load 6–7).
 */
function batchMatMul(ops: Ops, args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const attrs = args.attrs as unknown as tfc.BatchMatMulAttrs;
  const fast = wasmTrainingKernelSettings.fastPaths;
  if (!fast || (!attrs.transposeA && !attrs.transposeB)) return ops.matMul(args) as TensorInfo;
  const at = attrs.transposeA ? transposeLastTwo(ops, backend, a) : a;
  const bt = attrs.transposeB ? transposeLastTwo(ops, backend, b) : b;
  const out = ops.matMul({
    inputs: { a: at, b: bt },
    backend,
    attrs: { transposeA: false, transposeB: false },
  }) as TensorInfo;
  if (at !== a) backend.disposeData(at.dataId);
  if (bt !== b) backend.disposeData(bt.dataId);
  return out;
}

/**
 * Conv2DBackpropInput of a 1×1 stride-1 unpadded conv (the pointwise half of a separable conv) as dy · Wᵀ: the
 * wasm kernel's general loop took 132–137 ms at 16 × 56 × 56 × 32 → 32 channels, transpose + matMul 60–68 ms
 * (51 → 4 ms at 16 × 14 × 14 × 128 → 128; 33–36 → 3.5 ms at 7 × 7 × 256; load 6–7). Larger filters at stride 1:
 * conv2DBackpropInputStride1. Others go to the wasm kernel.
 */
function conv2DBackpropInput(ops: Ops, general: KernelFunc, args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tfc.Conv2DBackpropInputAttrs;
  const [fh, fw, inChannels, outChannels] = filter.shape;
  const fast = wasmTrainingKernelSettings.fastPaths;
  if (!fast || (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC')) return general(args) as TensorInfo;
  const info = ops.tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { top, bottom, left, right } = info.padInfo;
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return general(args) as TensorInfo;
  if (fh !== 1 || fw !== 1) {
    checkFloat('Conv2DBackpropInput', dy, filter);
    return conv2DBackpropInputStride1(ops, backend, dy, filter, info) ?? (general(args) as TensorInfo);
  }
  if (top !== 0 || bottom !== 0 || left !== 0 || right !== 0) return general(args) as TensorInfo;
  checkFloat('Conv2DBackpropInput', dy, filter);
  checkShape('Conv2DBackpropInput', 'dy', dy.shape, [info.batchSize, info.outHeight, info.outWidth, outChannels]);
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const w = { dataId: filter.dataId, shape: [1, inChannels, outChannels], dtype: filter.dtype };
  const wt = transposeLastTwo(ops, backend, w);
  const out = ops.matMul({
    inputs: { a: { dataId: dy.dataId, shape: [1, pixels, outChannels], dtype: dy.dtype }, b: wt },
    backend,
    attrs: { transposeA: false, transposeB: false },
  }) as TensorInfo;
  backend.disposeData(wt.dataId);
  return { dataId: out.dataId, shape: [...attrs.inputShape], dtype: 'float32' };
}

/**
 * At stride 1, dx is dy correlated with the filter turned by 180° and its in/out channels swapped (padded by
 * filter size − 1 − the forward pad), which the wasm Conv2D kernel (XNNPACK) computes: 32 × 64 × 64 × 8 → 8
 * channels, 3×3 'same', gradient of a UV decoder's conv: the general loop's share of a training step 440–500 ms,
 * this 26 ms (load 7–9). Undefined where a forward pad exceeds filter size − 1 (left to the general kernel).
 */
function conv2DBackpropInputStride1(
  ops: Ops,
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: Conv2DInfo,
): TensorInfo | undefined {
  const { filterHeight, filterWidth, inChannels, outChannels } = info;
  const pad = transposedPad(info);
  if (pad === undefined) return undefined;
  const turned = backend.makeOutput([filterHeight, filterWidth, outChannels, inChannels], 'float32');
  const w = backend.typedArrayFromHeap(filter);
  const t = backend.typedArrayFromHeap(turned);
  const taps = filterHeight * filterWidth;
  for (let k = 0; k < taps; k++) {
    const from = k * inChannels * outChannels,
      to = (taps - 1 - k) * inChannels * outChannels;
    for (let i = 0; i < inChannels; i++) {
      for (let o = 0; o < outChannels; o++) t[to + o * inChannels + i] = w[from + i * outChannels + o];
    }
  }
  return correlateTurned(ops.conv2d, backend, dy, turned, pad);
}

/**
 * The pads of a stride-1 conv's input gradient as a correlation of dy with the turned filter: filter size − 1 −
 * the forward pad on each side; undefined where a forward pad exceeds filter size − 1.
 */
function transposedPad(info: Conv2DInfo): number[][] | undefined {
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth } = info;
  const top = filterHeight - 1 - info.padInfo.top;
  const left = filterWidth - 1 - info.padInfo.left;
  const bottom = inHeight - 1 + filterHeight - outHeight - top;
  const right = inWidth - 1 + filterWidth - outWidth - left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return undefined;
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/** `kernel` (the backend's Conv2D or DepthwiseConv2dNative) of dy with the turned filter at stride 1; frees it. */
function correlateTurned(
  kernel: KernelFunc,
  backend: WasmBackend,
  dy: TensorInfo,
  turned: TensorInfo,
  pad: number[][],
): TensorInfo {
  const out = kernel({
    inputs: { x: dy, filter: turned },
    backend,
    attrs: { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC' },
  }) as TensorInfo;
  backend.disposeData(turned.dataId);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Depthwise (channel multiplier 1): y[b,oy,ox,c] = Σ_{ky,kx} x[b, oy·s − top + ky, ox·s − left + kx, c] · w[ky,kx,c]
// ---------------------------------------------------------------------------------------------------------------

function depthwiseInfo(
  tf: Tf,
  kernel: string,
  inShape: number[],
  filterShape: number[],
  attrs: tfc.DepthwiseConv2dNativeBackpropFilterAttrs | tfc.DepthwiseConv2dNativeBackpropInputAttrs,
): Conv2DInfo {
  checkDilations(kernel, attrs.dilations);
  if (filterShape.length !== 4 || filterShape[3] !== 1) {
    throw new Error(`${kernel} on wasm: only channel multiplier 1 is supported, got filter shape [${filterShape}]`);
  }
  if (inShape.length !== 4 || inShape[3] !== filterShape[2]) {
    throw new Error(`${kernel} on wasm: input shape [${inShape}] does not match filter shape [${filterShape}]`);
  }
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
    'channelsLast',
  );
}

function checkShape(kernel: string, name: string, shape: number[], expected: number[]): void {
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${kernel} on wasm: ${name} has shape [${shape}], expected [${expected}]`);
  }
}

/** The output pixels ox with 0 ≤ ox·stride − pad + k < size: [first, end). */
function validRange(out: number, size: number, stride: number, pad: number, k: number): [number, number] {
  const first = Math.max(0, Math.ceil((pad - k) / stride));
  const end = Math.min(out, Math.floor((size - 1 + pad - k) / stride) + 1);
  return [first, Math.max(first, end)];
}

function depthwiseBackpropFilter(tf: Tf, args: KernelArgs): TensorInfo {
  const kernel = 'DepthwiseConv2dNativeBackpropFilter';
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tfc.DepthwiseConv2dNativeBackpropFilterAttrs;
  checkFloat(kernel, x, dy);
  const info = depthwiseInfo(tf, kernel, x.shape, attrs.filterShape, attrs);
  checkShape(kernel, 'dy', dy.shape, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]);
  const { batchSize, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const channels = info.inChannels;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const out = backend.makeOutput([filterHeight, filterWidth, channels, 1], 'float32');
  const xs = backend.typedArrayFromHeap(x);
  const dys = backend.typedArrayFromHeap(dy);
  const acc = new Float64Array(channels);
  const dw = backend.typedArrayFromHeap(out);
  for (let ky = 0; ky < filterHeight; ky++) {
    const [oy0, oy1] = validRange(outHeight, inHeight, strideHeight, top, ky);
    for (let kx = 0; kx < filterWidth; kx++) {
      const [ox0, ox1] = validRange(outWidth, inWidth, strideWidth, left, kx);
      acc.fill(0);
      const xStep = strideWidth * channels;
      for (let b = 0; b < batchSize; b++) {
        for (let oy = oy0; oy < oy1; oy++) {
          const iy = oy * strideHeight - top + ky;
          const xStart = ((b * inHeight + iy) * inWidth + ox0 * strideWidth - left + kx) * channels;
          const dyStart = ((b * outHeight + oy) * outWidth + ox0) * channels;
          // Four channels at a time along the row, summed in locals, instead of a channel loop per pixel:
          // 16 × 56 × 56 × 32: 62 → 39 ms, 16 × 28 × 28 × 64: 32 → 20 ms (load 6–7).
          let c = 0;
          for (; c + 4 <= channels; c += 4) {
            let s0 = 0;
            let s1 = 0;
            let s2 = 0;
            let s3 = 0;
            let xi = xStart + c;
            let di = dyStart + c;
            for (let ox = ox0; ox < ox1; ox++) {
              s0 += xs[xi] * dys[di];
              s1 += xs[xi + 1] * dys[di + 1];
              s2 += xs[xi + 2] * dys[di + 2];
              s3 += xs[xi + 3] * dys[di + 3];
              xi += xStep;
              di += channels;
            }
            acc[c] += s0;
            acc[c + 1] += s1;
            acc[c + 2] += s2;
            acc[c + 3] += s3;
          }
          for (; c < channels; c++) {
            let sum = 0;
            let xi = xStart + c;
            let di = dyStart + c;
            for (let ox = ox0; ox < ox1; ox++) {
              sum += xs[xi] * dys[di];
              xi += xStep;
              di += channels;
            }
            acc[c] += sum;
          }
        }
      }
      dw.set(acc, (ky * filterWidth + kx) * channels);
    }
  }
  return out;
}

function depthwiseBackpropInput(ops: Ops, args: KernelArgs): TensorInfo {
  const kernel = 'DepthwiseConv2dNativeBackpropInput';
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tfc.DepthwiseConv2dNativeBackpropInputAttrs;
  checkFloat(kernel, dy, filter);
  const info = depthwiseInfo(ops.tf, kernel, attrs.inputShape, filter.shape, attrs);
  checkShape(kernel, 'dy', dy.shape, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]);
  if (wasmTrainingKernelSettings.fastPaths && info.strideHeight === 1 && info.strideWidth === 1) {
    const out = depthwiseBackpropInputStride1(ops, backend, dy, filter, info);
    if (out !== undefined) return out;
  }
  const { batchSize, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const channels = info.inChannels;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const out = backend.makeOutput([batchSize, inHeight, inWidth, channels], 'float32');
  const dys = backend.typedArrayFromHeap(dy);
  const w = backend.typedArrayFromHeap(filter);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  // Scatter: each dy pixel adds dy·w into the filterHeight × filterWidth input pixels it was computed from.
  for (let ky = 0; ky < filterHeight; ky++) {
    const [oy0, oy1] = validRange(outHeight, inHeight, strideHeight, top, ky);
    for (let kx = 0; kx < filterWidth; kx++) {
      const [ox0, ox1] = validRange(outWidth, inWidth, strideWidth, left, kx);
      const wi = (ky * filterWidth + kx) * channels;
      for (let b = 0; b < batchSize; b++) {
        for (let oy = oy0; oy < oy1; oy++) {
          const iy = oy * strideHeight - top + ky;
          const xRow = (b * inHeight + iy) * inWidth;
          const dyRow = (b * outHeight + oy) * outWidth;
          for (let ox = ox0; ox < ox1; ox++) {
            const xi = (xRow + ox * strideWidth - left + kx) * channels;
            const di = (dyRow + ox) * channels;
            for (let c = 0; c < channels; c++) dx[xi + c] += dys[di + c] * w[wi + c];
          }
        }
      }
    }
  }
  return out;
}

/**
 * At stride 1, dx is dy correlated with the filter turned by 180° (padded by filter size − 1 − the forward pad),
 * which the wasm DepthwiseConv2dNative kernel (XNNPACK) computes: 16 × 56 × 56 × 32, 3×3 'same': the loops
 * 132–135 ms, this 44–53 ms (59–67 → 11–21 ms at 28 × 28 × 64; load 6–7). Undefined where a forward pad exceeds
 * filter size − 1 (left to the loops).
 */
function depthwiseBackpropInputStride1(
  ops: Ops,
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: Conv2DInfo,
): TensorInfo | undefined {
  const { filterHeight, filterWidth } = info;
  const channels = info.inChannels;
  const pad = transposedPad(info);
  if (pad === undefined) return undefined;
  const turned = backend.makeOutput([filterHeight, filterWidth, channels, 1], 'float32');
  const w = backend.typedArrayFromHeap(filter);
  const t = backend.typedArrayFromHeap(turned);
  const taps = filterHeight * filterWidth;
  for (let k = 0; k < taps; k++) t.set(w.subarray(k * channels, (k + 1) * channels), (taps - 1 - k) * channels);
  return correlateTurned(ops.depthwise, backend, dy, turned, pad);
}
