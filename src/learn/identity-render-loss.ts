/**
 * A differentiable render path in tfjs for Genova et al.'s multi-view identity loss: the face region of a
 * predicted identity, seen by a known camera under known light and albedo over a known background,
 * rendered straight into the embedding net's 150×150 crop, so that the cosine between its embedding and a
 * photo's can be differentiated with respect to the identity coefficients (and through them the MLP).
 *
 * Which triangle covers each pixel comes from the project's rasteriser (render/rasterize.ts) on the current
 * prediction and is held fixed; the barycentrics of each pixel centre are recomputed in tfjs from the
 * projected vertices, so that the image moves with the shape (interior motion, not the silhouette's
 * coverage, as in Genova's rasteriser-derivative approximation). The shading per vertex (albedo × SH
 * irradiance of the current normal) is held fixed too. Affine (screen-space) interpolation, no
 * supersampling: an approximation of render/synthetic-face.ts, measured against it by the caller.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import { EMBEDDING_INPUT, embeddingCropGeometry } from '../detect/face-embedding.js';
import { warpCrop } from '../detect/face-crop.js';
import type { Tf } from '../detect/landmark-net.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import { createRasterBuffers, rasterize } from '../render/rasterize.js';
import { shIrradiance } from '../render/spherical-harmonics.js';
import type { IdentityView } from './identity-data.js';

const S = EMBEDDING_INPUT;

export class IdentityRenderPath {
  private readonly basis: TfCore.Tensor2D;
  private readonly meanValues: Float32Array;
  private readonly basisValues: Float32Array;
  private readonly raster = createRasterBuffers(S, S);
  private readonly screen: Float32Array;
  private readonly positions: Float32Array;
  private readonly normals: Float32Array;
  private readonly colours: Float32Array;
  private readonly background = new Float32Array(S * S * 3);
  private readonly irradiance = new Float64Array(3);
  private readonly base: Float32Array;
  private readonly model: MorphableModel;

  /** For the face region's vertices `region` and its `triangles` (indices into region); K coefficients. */
  constructor(
    private readonly tf: Tf,
    model: MorphableModel,
    private readonly region: Uint32Array,
    private readonly triangles: Uint32Array,
    private readonly outputs: number,
  ) {
    const V = region.length;
    const n3 = model.mean.length;
    this.meanValues = new Float32Array(3 * V);
    this.basisValues = new Float32Array(outputs * 3 * V);
    for (let i = 0; i < V; i++) {
      for (let c = 0; c < 3; c++) {
        this.meanValues[3 * i + c] = model.mean[3 * region[i] + c];
        for (let k = 0; k < outputs; k++) {
          this.basisValues[k * 3 * V + 3 * i + c] = model.identity.basis[k * n3 + 3 * region[i] + c];
        }
      }
    }
    this.model = model;
    this.basis = tf.tensor2d(this.basisValues, [outputs, 3 * V]);
    this.base = new Float32Array(3 * V);
    this.screen = new Float32Array(3 * V);
    this.positions = new Float32Array(3 * V);
    this.normals = new Float32Array(3 * V);
    this.colours = new Float32Array(3 * V);
  }

  /**
   * Call inside tf.tidy (or tf.variableGrads). The crop [1, 150, 150, 3] (0..255) of `view`'s scene with
   * the face's identity set to `identity` ([1, K] tensor; `values` its current numbers), the crop placed
   * as embeddingCropGeometry places it for the view's landmarks.
   */
  render(view: IdentityView, identity: TfCore.Tensor2D, values: ArrayLike<number>): TfCore.Tensor4D {
    const { tf, region } = this;
    const V = region.length;
    const geometry = embeddingCropGeometry(view.landmarks);
    const step = geometry.side / S;
    const { rotation: R, translation: t } = view.camera;
    const f = view.camera.focal / step;
    // Crop pixel i samples image x = centre + (i + 0.5 − S/2)·step; rasteriser screen x = i + 0.5.
    const cx = (view.camera.cx - geometry.centreX) / step + S / 2;
    const cy = (view.camera.cy - geometry.centreY) / step + S / 2;

    // The mean with the view's expression, then the current mesh in JS: rasterise, shade per vertex.
    const base = this.base;
    base.set(this.meanValues);
    const ex = this.model.expression;
    const n3 = this.model.mean.length;
    for (let k = 0; k < ex.count; k++) {
      const a = view.expression[k];
      if (a === 0) continue;
      for (let i = 0; i < V; i++) {
        for (let c = 0; c < 3; c++) base[3 * i + c] += a * ex.basis[k * n3 + 3 * region[i] + c];
      }
    }
    const p = this.positions;
    p.set(base);
    for (let k = 0; k < this.outputs; k++) {
      const a = values[k];
      const o = k * 3 * V;
      for (let i = 0; i < 3 * V; i++) p[i] += a * this.basisValues[o + i];
    }
    for (let i = 0; i < V; i++) {
      const x = p[3 * i],
        y = p[3 * i + 1],
        z = p[3 * i + 2];
      const X = R[0] * x + R[1] * y + R[2] * z + t[0];
      const Y = R[3] * x + R[4] * y + R[5] * z + t[1];
      const Z = R[6] * x + R[7] * y + R[8] * z + t[2];
      const d = -Z;
      this.screen[3 * i] = cx + (f * X) / d;
      this.screen[3 * i + 1] = cy - (f * Y) / d;
      this.screen[3 * i + 2] = -1 / d;
    }
    rasterize(this.screen, this.triangles, this.raster);
    vertexNormals(p, this.triangles, this.normals);
    const n = this.normals;
    for (let i = 0; i < V; i++) {
      const nx = R[0] * n[3 * i] + R[1] * n[3 * i + 1] + R[2] * n[3 * i + 2];
      const ny = R[3] * n[3 * i] + R[4] * n[3 * i + 1] + R[5] * n[3 * i + 2];
      const nz = R[6] * n[3 * i] + R[7] * n[3 * i + 1] + R[8] * n[3 * i + 2];
      shIrradiance(nx, ny, nz, view.sh, this.irradiance);
      for (let c = 0; c < 3; c++) this.colours[3 * i + c] = view.albedo[3 * i + c] * this.irradiance[c];
    }
    warpCrop(view.background, geometry, S, this.background);

    // Covered pixels: their triangle's corners and centres.
    const tri = this.raster.triangle;
    let P = 0;
    for (let q = 0; q < S * S; q++) if (tri[q] >= 0) P++;
    const ia = new Int32Array(P),
      ib = new Int32Array(P),
      ic = new Int32Array(P);
    const px = new Float32Array(P),
      py = new Float32Array(P);
    const index = new Int32Array(S * S);
    let j = 0;
    for (let q = 0; q < S * S; q++) {
      const tq = tri[q];
      if (tq < 0) {
        index[q] = P + q;
        continue;
      }
      ia[j] = this.triangles[3 * tq];
      ib[j] = this.triangles[3 * tq + 1];
      ic[j] = this.triangles[3 * tq + 2];
      px[j] = (q % S) + 0.5;
      py[j] = Math.floor(q / S) + 0.5;
      index[q] = j;
      j++;
    }

    // Differentiable part: positions → screen → barycentrics → colour.
    const pos = tf.reshape(tf.add(tf.tensor2d(base, [1, 3 * V]), tf.matMul(identity, this.basis)), [V, 3]);
    const rot = tf.tensor2d(Array.from(R), [3, 3]);
    const cam = tf.add(tf.matMul(pos, rot, false, true), tf.tensor1d(Array.from(t)));
    const [X, Y, Z] = tf.split(cam, 3, 1);
    const d = tf.neg(Z);
    const u = tf.reshape(tf.add(tf.div(tf.mul(X, f), d), cx), [V]);
    const v = tf.reshape(tf.sub(cy, tf.div(tf.mul(Y, f), d)), [V]);
    const g = (values: TfCore.Tensor, idx: Int32Array) => tf.gather(values, tf.tensor1d(idx, 'int32'));
    const xa = g(u, ia),
      ya = g(v, ia),
      xb = g(u, ib),
      yb = g(v, ib),
      xc = g(u, ic),
      yc = g(v, ic);
    const X0 = tf.tensor1d(px),
      Y0 = tf.tensor1d(py);
    const den = tf.add(tf.mul(tf.sub(yb, yc), tf.sub(xa, xc)), tf.mul(tf.sub(xc, xb), tf.sub(ya, yc)));
    const wa = tf.div(tf.add(tf.mul(tf.sub(yb, yc), tf.sub(X0, xc)), tf.mul(tf.sub(xc, xb), tf.sub(Y0, yc))), den);
    const wb = tf.div(tf.add(tf.mul(tf.sub(yc, ya), tf.sub(X0, xc)), tf.mul(tf.sub(xa, xc), tf.sub(Y0, yc))), den);
    const wc = tf.sub(tf.sub(1, wa), wb);
    const colours = tf.tensor2d(this.colours, [V, 3]);
    const ca = tf.gather(colours, tf.tensor1d(ia, 'int32')),
      cb = tf.gather(colours, tf.tensor1d(ib, 'int32')),
      cc = tf.gather(colours, tf.tensor1d(ic, 'int32'));
    const linear = tf.addN([
      tf.mul(tf.reshape(wa, [P, 1]), ca),
      tf.mul(tf.reshape(wb, [P, 1]), cb),
      tf.mul(tf.reshape(wc, [P, 1]), cc),
    ]);
    // sRGB's power segment (the linear toe below 0.0031 is left out), 0..255.
    const srgb = tf.mul(tf.sub(tf.mul(tf.pow(tf.clipByValue(linear, 1e-4, 1), 1 / 2.4), 1.055), 0.055), 255);
    const all = tf.concat([srgb, tf.tensor2d(this.background, [S * S, 3])], 0);
    return tf.reshape(tf.gather(all, tf.tensor1d(index, 'int32')), [1, S, S, 3]);
  }

  dispose(): void {
    this.basis.dispose();
  }
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TfCore.TensorInfo;
  typedArrayFromHeap(info: TfCore.TensorInfo): Float32Array | Int32Array;
}

/**
 * UnsortedSegmentSum on the wasm backend (tf.gather's gradient), which tfjs 4.22's wasm backend lacks: a
 * plain loop over the heap arrays.
 */
export function registerSegmentSum(tf: Tf): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: TfCore.TensorInfo; segmentIds: TfCore.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const wasm = backend as unknown as WasmBackend;
      const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = wasm.makeOutput([numSegments, ...x.shape.slice(1)], 'float32');
      const xs = wasm.typedArrayFromHeap(x);
      const ids = wasm.typedArrayFromHeap(segmentIds);
      const sums = wasm.typedArrayFromHeap(out);
      sums.fill(0);
      for (let i = 0; i < ids.length; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue;
        for (let j = 0; j < inner; j++) sums[s * inner + j] += xs[i * inner + j];
      }
      return out;
    },
  });
}
