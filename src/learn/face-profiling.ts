/**
 * 3D face profiling (Zhu et al., "Face alignment across large poses: a 3D solution", CVPR 2016: how 300W-LP
 * was made for 3DDFA): a training face is fitted once, and rendered turned further away from the camera,
 * with its 68 landmarks carried along, to give a landmark network large-yaw faces.
 *
 * - Fit: the landmark fitter (fit/landmark-fit.ts) on the ground-truth landmarks with the default focal
 *   length; faces whose fit the quality score (fit/fit-quality.ts: landmark residual, face shape,
 *   expression, roll, pitch) rejects are skipped.
 * - Texture: every pixel of the turned face is a point of the fitted mesh (its face region); it takes
 *   the photo's colour where that point projected in the photo, if it was visible there (z-buffer), else
 *   at its left/right mirror point if that was visible, else at its projection anyway (hair and the side
 *   of the head, which turning further away barely uncovers). Rendered at 2× and averaged 2 × 2 over the
 *   original image, which stays behind as the background: where the old face is no longer covered, it
 *   is filled from its surroundings (fillOldFace: onion-peel inpainting, then smoothing).
 * - Turn: about the camera's vertical axis through the mesh's centroid, so that yaw' = yaw + Δ with pitch
 *   and roll unchanged (R = Ry(yaw)·Rx(pitch)·Rz(roll)), always away from frontal: only the side the photo
 *   saw becomes more visible.
 * - Labels: the 51 inner points are the ground-truth points themselves, lifted onto the fitted surface
 *   (the triangle under each point) and turned with it, so that they stay on the pixels they marked; a
 *   point whose surface point lies more than 10 mm from its fitted model landmark (hidden behind the nose)
 *   or that lies on no triangle (the eye and mouth openings) takes its fitted model landmark moved, at the
 *   same depth, onto the point's ray (moveToRay), so that it keeps the annotation's offset from the model.
 *   The 16 outline points move to the silhouette of the turned head ("landmark marching", fit/contour.ts):
 *   each keeps its place along the silhouette polyline of its side's contour lines (outlinePlaces); the
 *   chin stays at the front of the chin (frontChin).
 */
import { buildContourLines, CHIN, type ContourLines, silhouetteVertices } from '../fit/contour.js';
import { coefficientMeanAbs, coefficientRms, fitQuality, MIN_QUALITY } from '../fit/fit-quality.js';
import { landmarkNme } from '../fit/fit-result.js';
import { LandmarkFitter, type LandmarkFitResult } from '../fit/landmark-fit.js';
import type { Camera } from '../geometry/camera.js';
import { projectPoints, projectToRaster } from '../geometry/projection.js';
import { anglesFromRotation, rotationFromAngles } from '../geometry/rotation.js';
import { evaluateShape } from '../model/evaluate.js';
import { landmarkPositions } from '../model/landmark-positions.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { createRasterBuffers, type RasterBuffers, rasterize } from '../render/rasterize.js';
import type { RgbImage } from '../render/rgb-image.js';

export interface ProfileOptions {
  /** Faces whose fit scores below this (fit/fit-quality.ts) are skipped (default MIN_QUALITY, 0.5). */
  minQuality?: number;
  /** Faces whose fitted landmarks are further than this NME (%, outer eye-corner distance) are skipped (default 5). */
  maxFitNmePercent?: number;
  /** Below this |yaw| (degrees) a face counts as frontal: the turn goes the way Δ's sign says (default 5). */
  frontalYawDeg?: number;
  /**
   * The model region rendered and lifted onto (default 'face': ICT's face with the ears, without the back of the
   * head and the neck, which would be textured with hair; null: the whole mesh).
   */
  region?: string | null;
}

/** A face turned by profiling: the new image (the input's size), its 68 landmarks and the head's yaw in it. */
export interface ProfiledFace {
  image: RgbImage;
  /** 136 values, 0-based pixel-centre image coordinates. */
  landmarks: Float32Array;
  yawDeg: number;
  /** The turned view's camera (the fitted mesh, ProfileSource.positions, seen from it). */
  camera: Camera;
}

/** One face fitted and ready to be turned (FaceProfiler.prepare); render() it at as many yaws as wanted. */
export interface ProfileSource {
  image: RgbImage;
  landmarks: Float32Array;
  fit: LandmarkFitResult;
  /** The fitted mesh (model space, mm). */
  positions: Float32Array;
  yawDeg: number;
  pitchDeg: number;
  rollDeg: number;
  /** The fit's landmark NME (%) and quality score. */
  nmePercent: number;
  quality: number;
  /** Model-space points that the 68 labels follow (3 × 68): inner points on the surface, outline on the mesh. */
  points3d: Float64Array;
  /** How many of the 51 inner points were lifted onto the surface (the rest: their model point moved onto the ray). */
  liftedPoints: number;
  /**
   * Per outline landmark (0–16), the silhouette segment it lies on (its lines j and j + 1 on its side, -1: it
   * keeps its fitted model point) and where on it (0 at line j, 1 at line j + 1): see outlinePlaces.
   */
  outlineSegment: Int32Array;
  outlineFraction: Float32Array;
  /** The chin's vertex in every turned view (-1: the fitted one). */
  chinVertex: number;
  /** The photo's depth buffer at SUPERSAMPLE × its size (visibility of surface points). */
  depth: Float32Array;
  /** 1 where the rendered region covered the photo, grown by FACE_MASK_GROWTH px: the old face, filled if uncovered. */
  faceMask: Uint8Array;
}

const POINTS = 68;
const OUTLINE = 17;
/** Rendering resolution factor (rendered at 2×, averaged 2 × 2). */
const SUPERSAMPLE = 2;
/** A surface point counts as visible in the photo if it is at most this far (mm) behind the z-buffer. */
const DEPTH_TOLERANCE = 3;
/** The photo's face mask is grown by this many pixels: its edge pixels hold the old face's colours too. */
const FACE_MASK_GROWTH = 2;
/** Smoothing sweeps over the filled pixels after the onion-peel fill. */
const FILL_SMOOTHING = 8;
/** A lifted ground-truth point further than this (mm) from its model landmark is replaced by the landmark. */
const MAX_LIFT_DISTANCE = 10;

/**
 * The landmark fit of a face to its annotated landmarks (the default focal length), with its angles, its NME
 * against the annotation and the quality score (fit/fit-quality.ts) that training data is gated on.
 */
export function fitAnnotation(fitter: LandmarkFitter, image: RgbImage, landmarks: Float32Array) {
  const { model } = fitter;
  const fit = fitter.fit(landmarks, image.width, image.height);
  const angles = anglesFromRotation(fit.camera.rotation);
  const nmePercent = landmarkNme(fit.fittedLandmarks, landmarks);
  const quality = fitQuality({
    nmePercent,
    identityRms: coefficientRms(fit.identity),
    expressionMean: model.expression.kind === 'blendshapes' ? coefficientMeanAbs(fit.expression) : 0,
    roll: angles.roll,
    pitch: angles.pitch,
  }).score;
  return { fit, angles, nmePercent, quality };
}

/**
 * Profiles faces of one model: the fitter, the contour lines and the render buffers are made once.
 * `prepare` fits a face (null when the fit is poor), `render` turns it.
 */
export class FaceProfiler {
  readonly model: MorphableModel;
  private readonly fitter: LandmarkFitter;
  private readonly lines: ContourLines | undefined;
  private readonly options: Required<Omit<ProfileOptions, 'region'>>;
  private readonly centre = new Float64Array(3);
  private readonly screen: Float32Array;
  private raster: RasterBuffers<Float32Array> | undefined;
  private readonly silhouette: Int32Array;
  private readonly colour = new Float64Array(3);
  /** The triangles rendered: those of the region named by options.region (all of them without one). */
  private readonly triangles: Uint32Array;

  constructor(model: MorphableModel, options: ProfileOptions = {}) {
    this.model = model;
    this.fitter = new LandmarkFitter(model);
    this.lines = buildContourLines(model);
    this.options = {
      minQuality: options.minQuality ?? MIN_QUALITY,
      maxFitNmePercent: options.maxFitNmePercent ?? 5,
      frontalYawDeg: options.frontalYawDeg ?? 5,
    };
    this.screen = new Float32Array(3 * model.vertexCount);
    this.triangles = regionTriangles(model, options.region === undefined ? 'face' : options.region);
    this.silhouette = new Int32Array(this.lines ? 2 * this.lines.linesPerSide : 0);
  }

  /** Fits the face; null when the fit is poor (quality below minQuality or NME above maxFitNmePercent). */
  prepare(image: RgbImage, landmarks: Float32Array): ProfileSource | null {
    if (landmarks.length !== 2 * POINTS) throw new RangeError(`expected ${2 * POINTS} landmark values`);
    const { model } = this;
    const { fit, angles, nmePercent, quality } = fitAnnotation(this.fitter, image, landmarks);
    if (!(quality >= this.options.minQuality) || !(nmePercent <= this.options.maxFitNmePercent)) return null;

    const positions = evaluateShape(model, fit.identity, fit.expression);
    const raster = this.rasterFor(image.width, image.height);
    projectToRaster(fit.camera, positions, model.vertexCount, SUPERSAMPLE, this.screen);
    rasterize(this.screen, this.triangles, raster);
    const depth = Float32Array.from(raster.depth);
    const faceMask = growMask(coverageMask(depth, image.width, image.height), image.width, image.height);

    // The labels' model-space points: fitted model landmarks, inner ones replaced by the lifted ground truth.
    const points3d = landmarkPositions(
      model,
      fit.landmarkVertices,
      positions,
      null,
      null,
      new Float64Array(3 * POINTS),
    );
    const lifted = new Float64Array(3);
    let liftedCount = 0;
    for (let i = OUTLINE; i < POINTS; i++) {
      const u = landmarks[2 * i],
        v = landmarks[2 * i + 1];
      if (this.liftPoint(raster, positions, u, v, lifted)) {
        const distance = Math.hypot(
          lifted[0] - points3d[3 * i],
          lifted[1] - points3d[3 * i + 1],
          lifted[2] - points3d[3 * i + 2],
        );
        if (distance <= MAX_LIFT_DISTANCE) {
          points3d.set(lifted, 3 * i);
          liftedCount++;
          continue;
        }
      }
      moveToRay(fit.camera, points3d, i, u, v);
    }
    const outline = this.outlinePlaces(fit, positions, landmarks);
    return {
      image,
      landmarks,
      fit,
      positions,
      yawDeg: angles.yaw,
      pitchDeg: angles.pitch,
      rollDeg: angles.roll,
      nmePercent,
      quality,
      points3d,
      liftedPoints: liftedCount,
      outlineSegment: outline.segment,
      outlineFraction: outline.fraction,
      chinVertex: this.frontChin(fit, positions, landmarks),
      depth,
      faceMask,
    };
  }

  /**
   * The signed turn that takes the face `source` to |yaw| = `targetDeg`, away from frontal (a near-frontal
   * face turns the way `sign` says); null when |yaw| is already within `minTurnDeg` of the target or beyond.
   */
  turnToward(source: ProfileSource, targetDeg: number, sign: 1 | -1, minTurnDeg = 5): number | null {
    const yaw = source.yawDeg;
    const turn = targetDeg - Math.abs(yaw);
    if (turn < minTurnDeg) return null;
    return Math.abs(yaw) < this.options.frontalYawDeg ? sign * (targetDeg - sign * yaw) : Math.sign(yaw) * turn;
  }

  /**
   * The photo's colour (sRGB, 0..255) at each of `vertices` of the fitted mesh, 3 values per vertex into
   * `out`: where the photo saw the point, else at its mirror point, else at its projection anyway (as render()
   * textures the turned face). A texture unwrapped from the photo onto the mesh, shading and all.
   */
  vertexColours(source: ProfileSource, vertices: ArrayLike<number>, out: Float32Array): Float32Array {
    const { positions } = source;
    const colour = this.colour;
    for (let i = 0; i < vertices.length; i++) {
      const v = 3 * vertices[i];
      this.photoColour(source, positions[v], positions[v + 1], positions[v + 2], colour);
      out[3 * i] = colour[0];
      out[3 * i + 1] = colour[1];
      out[3 * i + 2] = colour[2];
    }
    return out;
  }

  /**
   * The face turned by |yawDeltaDeg| away from frontal (the sign of the face's yaw; a near-frontal face,
   * |yaw| < frontalYawDeg, turns the way yawDeltaDeg's sign says), rendered over the original image.
   */
  render(source: ProfileSource, yawDeltaDeg: number): ProfiledFace {
    const { model } = this;
    const { image, positions, fit } = source;
    const { width, height } = image;
    const delta =
      Math.abs(source.yawDeg) < this.options.frontalYawDeg
        ? yawDeltaDeg
        : Math.sign(source.yawDeg) * Math.abs(yawDeltaDeg);
    const camera = this.turnedCamera(fit.camera, positions, delta);

    const raster = this.rasterFor(width, height);
    projectToRaster(camera, positions, model.vertexCount, SUPERSAMPLE, this.screen);
    rasterize(this.screen, this.triangles, raster);
    const out = new Uint8Array(image.data);
    const coverage = new Uint8Array(width * height);
    const rendered = new Float32Array(3 * width * height);
    const W = SUPERSAMPLE * width;
    const T = this.triangles;
    const colour = this.colour;
    const sum = new Float64Array(3);
    const norm = 1 / (SUPERSAMPLE * SUPERSAMPLE);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        sum.fill(0);
        let covered = 0;
        for (let j = 0; j < SUPERSAMPLE; j++) {
          for (let i = 0; i < SUPERSAMPLE; i++) {
            const p = (SUPERSAMPLE * y + j) * W + SUPERSAMPLE * x + i;
            const t = raster.triangle[p];
            if (t < 0) continue;
            const w1 = raster.barycentric[2 * p],
              w2 = raster.barycentric[2 * p + 1],
              w0 = 1 - w1 - w2;
            const a = 3 * T[3 * t],
              b = 3 * T[3 * t + 1],
              c = 3 * T[3 * t + 2];
            const px = w0 * positions[a] + w1 * positions[b] + w2 * positions[c];
            const py = w0 * positions[a + 1] + w1 * positions[b + 1] + w2 * positions[c + 1];
            const pz = w0 * positions[a + 2] + w1 * positions[b + 2] + w2 * positions[c + 2];
            this.photoColour(source, px, py, pz, colour);
            sum[0] += colour[0];
            sum[1] += colour[1];
            sum[2] += colour[2];
            covered++;
          }
        }
        if (covered === 0) continue;
        const o = 3 * (y * width + x);
        coverage[y * width + x] = covered;
        const keep = (SUPERSAMPLE * SUPERSAMPLE - covered) * norm;
        for (let c = 0; c < 3; c++) {
          rendered[o + c] = sum[c] * norm;
          out[o + c] = Math.round(sum[c] * norm + keep * image.data[o + c]);
        }
      }
    }
    fillOldFace(out, width, height, source.faceMask, coverage, rendered);

    const landmarks = new Float32Array(2 * POINTS);
    projectPoints(camera, source.points3d, POINTS, landmarks);
    this.outlineLandmarks(source, camera, landmarks);
    return { image: { width, height, data: out }, landmarks, yawDeg: anglesFromRotation(camera.rotation).yaw, camera };
  }

  /** The fitted camera turned by `deltaDeg` about the camera's vertical axis through the mesh's centroid. */
  private turnedCamera(camera: Camera, positions: Float32Array, deltaDeg: number): Camera {
    const n = positions.length / 3;
    const c = this.centre.fill(0);
    for (let v = 0; v < n; v++) {
      c[0] += positions[3 * v];
      c[1] += positions[3 * v + 1];
      c[2] += positions[3 * v + 2];
    }
    const R = camera.rotation,
      t = camera.translation;
    // The centroid in camera space: C = R c / n + t.
    const cx = (R[0] * c[0] + R[1] * c[1] + R[2] * c[2]) / n + t[0];
    const cy = (R[3] * c[0] + R[4] * c[1] + R[5] * c[2]) / n + t[1];
    const cz = (R[6] * c[0] + R[7] * c[1] + R[8] * c[2]) / n + t[2];
    const turn = rotationFromAngles(deltaDeg, 0, 0);
    const rotation = new Float64Array(9);
    for (let i = 0; i < 3; i++)
      for (let k = 0; k < 3; k++)
        rotation[3 * i + k] = turn[3 * i] * R[k] + turn[3 * i + 1] * R[3 + k] + turn[3 * i + 2] * R[6 + k];
    // t' = Ry (t − C) + C keeps the centroid where it was.
    const dx = t[0] - cx,
      dy = t[1] - cy,
      dz = t[2] - cz;
    const translation = Float64Array.from([
      turn[0] * dx + turn[1] * dy + turn[2] * dz + cx,
      turn[3] * dx + turn[4] * dy + turn[5] * dz + cy,
      turn[6] * dx + turn[7] * dy + turn[8] * dz + cz,
    ]);
    return { ...camera, rotation, translation };
  }

  /** The photo's colour of model point (x, y, z): where seen, else its mirror point, else its projection. */
  private photoColour(source: ProfileSource, x: number, y: number, z: number, out: Float64Array): void {
    if (this.sampleVisible(source, x, y, z, true, out)) return;
    if (this.sampleVisible(source, -x, y, z, true, out)) return;
    this.sampleVisible(source, x, y, z, false, out);
  }

  /** Bilinear sample of the photo at the projection of (x, y, z); with `visible`, only if the z-buffer saw it. */
  private sampleVisible(
    source: ProfileSource,
    x: number,
    y: number,
    z: number,
    visible: boolean,
    out: Float64Array,
  ): boolean {
    const camera = source.fit.camera;
    const { width, height, data } = source.image;
    const R = camera.rotation,
      t = camera.translation;
    const xc = R[0] * x + R[1] * y + R[2] * z + t[0];
    const yc = R[3] * x + R[4] * y + R[5] * z + t[1];
    const d = -(R[6] * x + R[7] * y + R[8] * z + t[2]);
    const u = camera.cx + (camera.focal * xc) / d,
      v = camera.cy - (camera.focal * yc) / d;
    if (visible) {
      const W = SUPERSAMPLE * width;
      const px = Math.floor(SUPERSAMPLE * (u + 0.5)),
        py = Math.floor(SUPERSAMPLE * (v + 0.5));
      if (px < 0 || py < 0 || px >= W || py >= SUPERSAMPLE * height) return false;
      if (d > source.depth[py * W + px] + DEPTH_TOLERANCE) return false;
    }
    const fx = Math.min(width - 1, Math.max(0, u)),
      fy = Math.min(height - 1, Math.max(0, v));
    const x0 = Math.min(width - 2, Math.floor(fx)),
      y0 = Math.min(height - 2, Math.floor(fy));
    const ax = fx - x0,
      ay = fy - y0;
    const i00 = 3 * (y0 * width + x0),
      i01 = i00 + 3,
      i10 = i00 + 3 * width,
      i11 = i10 + 3;
    for (let c = 0; c < 3; c++)
      out[c] =
        (1 - ay) * ((1 - ax) * data[i00 + c] + ax * data[i01 + c])
        + ay * ((1 - ax) * data[i10 + c] + ax * data[i11 + c]);
    return true;
  }

  /**
   * The model-space surface point under image point (u, v) in the photo's rasterisation (0-based pixel
   * centres); false where no triangle covers it.
   */
  private liftPoint(raster: RasterBuffers, positions: Float32Array, u: number, v: number, out: Float64Array): boolean {
    const px = Math.floor(SUPERSAMPLE * (u + 0.5)),
      py = Math.floor(SUPERSAMPLE * (v + 0.5));
    if (!(px >= 0 && py >= 0 && px < raster.width && py < raster.height)) return false;
    const tri = raster.triangle[py * raster.width + px];
    if (tri < 0) return false;
    // Barycentrics of the exact point in the triangle's screen projection.
    const T = this.triangles,
      s = this.screen;
    const a = 3 * T[3 * tri],
      b = 3 * T[3 * tri + 1],
      c = 3 * T[3 * tri + 2];
    const sx = SUPERSAMPLE * (u + 0.5),
      sy = SUPERSAMPLE * (v + 0.5);
    const abx = s[b] - s[a],
      aby = s[b + 1] - s[a + 1],
      acx = s[c] - s[a],
      acy = s[c + 1] - s[a + 1];
    const area = abx * acy - aby * acx;
    const qx = sx - s[a],
      qy = sy - s[a + 1];
    const w1 = (qx * acy - qy * acx) / area,
      w2 = (abx * qy - aby * qx) / area,
      w0 = 1 - w1 - w2;
    for (let k = 0; k < 3; k++) out[k] = w0 * positions[a + k] + w1 * positions[b + k] + w2 * positions[c + k];
    return true;
  }

  /**
   * Where each outline landmark (0–16 but the chin) sits along its side's silhouette in the photo: the
   * silhouette vertices of the side's contour lines (fitted pose, fitted shape) make a polyline from the ear to
   * the chin, and the given point's nearest point on it is segment j (lines j, j + 1) at fraction t. Turned
   * views put the label at the same place between the same lines' new silhouette vertices, so it slides along
   * the outline no more than the face's turn makes it.
   */
  private outlinePlaces(fit: LandmarkFitResult, positions: Float32Array, landmarks: Float32Array) {
    const segment = new Int32Array(OUTLINE).fill(-1),
      fraction = new Float32Array(OUTLINE);
    const lines = this.lines;
    if (!lines) return { segment, fraction };
    const L = lines.linesPerSide;
    silhouetteVertices(lines, this.model.mean, fit.camera.rotation, this.silhouette);
    const points = new Float64Array(3 * 2 * L),
      projected = new Float64Array(2 * 2 * L);
    for (let j = 0; j < 2 * L; j++) {
      const v = this.silhouette[j];
      points.set(positions.subarray(3 * v, 3 * v + 3), 3 * j);
    }
    projectPoints(fit.camera, points, 2 * L, projected);
    for (let i = 0; i < OUTLINE; i++) {
      if (i === CHIN) continue;
      const side = i < CHIN ? 0 : 1;
      const gx = landmarks[2 * i],
        gy = landmarks[2 * i + 1];
      let best = Infinity;
      for (let j = side * L; j < (side + 1) * L - 1; j++) {
        const ax = projected[2 * j],
          ay = projected[2 * j + 1];
        const dx = projected[2 * j + 2] - ax,
          dy = projected[2 * j + 3] - ay;
        const length2 = dx * dx + dy * dy;
        const t = length2 > 0 ? Math.min(1, Math.max(0, ((gx - ax) * dx + (gy - ay) * dy) / length2)) : 0;
        const d = (ax + t * dx - gx) ** 2 + (ay + t * dy - gy) ** 2;
        if (d < best) {
          best = d;
          segment[i] = j;
          fraction[i] = t;
        }
      }
    }
    return { segment, fraction };
  }

  /**
   * The chin of the turned views. The fitter's chin is the chin vertex lowest in the photo, which on ICT's flat
   * underside of the chin lies up to 40 mm behind its front: turned, it would land under the jaw. The turned
   * views take the chin vertex that the photo shows nearest to the given chin point, the frontmost (largest z on
   * the mean face) of those within 1 % of the face's size of the nearest.
   */
  private frontChin(fit: LandmarkFitResult, positions: Float32Array, landmarks: Float32Array): number {
    const lines = this.lines;
    if (!lines || lines.chin.length === 0) return -1;
    const chin = lines.chin;
    const points = new Float64Array(3 * chin.length),
      projected = new Float64Array(2 * chin.length);
    for (let i = 0; i < chin.length; i++) points.set(positions.subarray(3 * chin[i], 3 * chin[i] + 3), 3 * i);
    projectPoints(fit.camera, points, chin.length, projected);
    const gu = landmarks[2 * CHIN],
      gv = landmarks[2 * CHIN + 1];
    const distance = (i: number) => Math.hypot(projected[2 * i] - gu, projected[2 * i + 1] - gv);
    let nearest = Infinity;
    for (let i = 0; i < chin.length; i++) nearest = Math.min(nearest, distance(i));
    const size = Math.hypot(landmarks[0] - landmarks[32], landmarks[1] - landmarks[33]);
    const mean = this.model.mean;
    let best = -1;
    for (let i = 0; i < chin.length; i++) {
      if (distance(i) > nearest + 0.01 * size) continue;
      if (best < 0 || mean[3 * chin[i] + 2] > mean[3 * best + 2]) best = chin[i];
    }
    return best;
  }

  /** The outline landmarks (0–16) of the turned face: on its silhouette (outlinePlaces), the chin at frontChin. */
  private outlineLandmarks(source: ProfileSource, camera: Camera, out: Float32Array): void {
    if (!this.lines) return;
    silhouetteVertices(this.lines, this.model.mean, camera.rotation, this.silhouette);
    const positions = source.positions;
    const points = new Float64Array(3 * OUTLINE);
    for (let i = 0; i < OUTLINE; i++) {
      const j = source.outlineSegment[i];
      if (i === CHIN || j < 0) {
        points.set(source.points3d.subarray(3 * i, 3 * i + 3), 3 * i);
        continue;
      }
      const a = 3 * this.silhouette[j],
        b = 3 * this.silhouette[j + 1],
        t = source.outlineFraction[i];
      for (let c = 0; c < 3; c++) points[3 * i + c] = (1 - t) * positions[a + c] + t * positions[b + c];
    }
    if (source.chinVertex >= 0)
      points.set(positions.subarray(3 * source.chinVertex, 3 * source.chinVertex + 3), 3 * CHIN);
    projectPoints(camera, points, OUTLINE, out);
  }

  private rasterFor(width: number, height: number): RasterBuffers<Float32Array> {
    const W = SUPERSAMPLE * width,
      H = SUPERSAMPLE * height;
    if (!this.raster || this.raster.width !== W || this.raster.height !== H) this.raster = createRasterBuffers(W, H);
    return this.raster;
  }
}

/**
 * Moves point i of `points` (model space, 3 per point) within its depth plane (camera space) onto the ray through
 * image point (u, v): it then projects exactly there and turns with the head at the model landmark's depth.
 */
function moveToRay(camera: Camera, points: Float64Array, i: number, u: number, v: number): void {
  const R = camera.rotation,
    t = camera.translation;
  const x = points[3 * i],
    y = points[3 * i + 1],
    z = points[3 * i + 2];
  const zc = R[6] * x + R[7] * y + R[8] * z + t[2];
  if (!(zc < 0)) return;
  const xc = ((u - camera.cx) * -zc) / camera.focal - t[0],
    yc = (-(v - camera.cy) * -zc) / camera.focal - t[1],
    zz = zc - t[2];
  // X = Rᵀ (Xc − t).
  points[3 * i] = R[0] * xc + R[3] * yc + R[6] * zz;
  points[3 * i + 1] = R[1] * xc + R[4] * yc + R[7] * zz;
  points[3 * i + 2] = R[2] * xc + R[5] * yc + R[8] * zz;
}

/** 1 per pixel where any of its SUPERSAMPLE² depth samples is covered. */
function coverageMask(depth: Float32Array, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  const W = SUPERSAMPLE * width;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let j = 0; j < SUPERSAMPLE; j++)
        for (let i = 0; i < SUPERSAMPLE; i++)
          if (depth[(SUPERSAMPLE * y + j) * W + SUPERSAMPLE * x + i] < Infinity) mask[y * width + x] = 1;
  return mask;
}

/** The mask grown by FACE_MASK_GROWTH pixels (a square neighbourhood). */
function growMask(mask: Uint8Array, width: number, height: number): Uint8Array {
  const rows = new Uint8Array(mask.length),
    out = new Uint8Array(mask.length);
  const r = FACE_MASK_GROWTH;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let i = Math.max(0, x - r); i <= Math.min(width - 1, x + r); i++) rows[y * width + i] = 1;
    }
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!rows[y * width + x]) continue;
      for (let j = Math.max(0, y - r); j <= Math.min(height - 1, y + r); j++) out[j * width + x] = 1;
    }
  return out;
}

/**
 * Where the old face is not covered by the turned one (faceMask, less the fully covered pixels), the photo
 * would show it a second time: those pixels are filled from their surroundings (onion peel: ring by ring, each
 * pixel the mean of its known 8-neighbours; then FILL_SMOOTHING sweeps of 4-neighbour averaging), and pixels
 * the turned face covers in part get its colour blended over the fill.
 */
function fillOldFace(
  out: Uint8Array,
  width: number,
  height: number,
  faceMask: Uint8Array,
  coverage: Uint8Array,
  rendered: Float32Array,
): void {
  const full = SUPERSAMPLE * SUPERSAMPLE;
  const n = width * height;
  const known = new Uint8Array(n);
  const hole = new Int32Array(n);
  let holes = 0;
  for (let p = 0; p < n; p++) {
    if (faceMask[p] && coverage[p] < full) hole[holes++] = p;
    else known[p] = 1;
  }
  if (holes === 0) return;
  const values = new Float32Array(3 * n);
  for (let i = 0; i < 3 * n; i++) values[i] = out[i];
  const ring = new Int32Array(holes);
  const ringValues = new Float32Array(3 * holes);
  for (let left = holes; left > 0; ) {
    let count = 0;
    for (let h = 0; h < holes; h++) {
      const p = hole[h];
      if (known[p]) continue;
      const x = p % width,
        y = (p - x) / width;
      let r = 0,
        g = 0,
        b = 0,
        k = 0;
      for (let j = Math.max(0, y - 1); j <= Math.min(height - 1, y + 1); j++)
        for (let i = Math.max(0, x - 1); i <= Math.min(width - 1, x + 1); i++) {
          const q = j * width + i;
          if (!known[q]) continue;
          r += values[3 * q];
          g += values[3 * q + 1];
          b += values[3 * q + 2];
          k++;
        }
      if (k === 0) continue;
      ring[count] = p;
      ringValues[3 * count] = r / k;
      ringValues[3 * count + 1] = g / k;
      ringValues[3 * count + 2] = b / k;
      count++;
    }
    if (count === 0) break;
    for (let i = 0; i < count; i++) {
      const p = ring[i];
      known[p] = 1;
      values[3 * p] = ringValues[3 * i];
      values[3 * p + 1] = ringValues[3 * i + 1];
      values[3 * p + 2] = ringValues[3 * i + 2];
    }
    left -= count;
  }
  for (let sweep = 0; sweep < FILL_SMOOTHING; sweep++) {
    for (let h = 0; h < holes; h++) {
      const p = hole[h];
      const x = p % width,
        y = (p - x) / width;
      const l = x > 0 ? p - 1 : p,
        r = x < width - 1 ? p + 1 : p,
        u = y > 0 ? p - width : p,
        d = y < height - 1 ? p + width : p;
      for (let c = 0; c < 3; c++)
        values[3 * p + c] = 0.25 * (values[3 * l + c] + values[3 * r + c] + values[3 * u + c] + values[3 * d + c]);
    }
  }
  for (let h = 0; h < holes; h++) {
    const p = hole[h];
    const keep = 1 - coverage[p] / full;
    for (let c = 0; c < 3; c++) out[3 * p + c] = Math.round(rendered[3 * p + c] + keep * values[3 * p + c]);
  }
}

const profilers = new WeakMap<MorphableModel, FaceProfiler>();

/**
 * One face turned by |yawDeltaDeg| away from frontal (see FaceProfiler.render), or null when the model
 * fits its landmarks poorly. Fits the face each call: for several yaws of one face, use
 * FaceProfiler.prepare once and render each yaw.
 */
export function profileFace(
  model: MorphableModel,
  image: RgbImage,
  landmarks: Float32Array,
  yawDeltaDeg: number,
  options: ProfileOptions = {},
): ProfiledFace | null {
  const reuse = Object.keys(options).length === 0;
  let profiler = reuse ? profilers.get(model) : undefined;
  if (!profiler) {
    profiler = new FaceProfiler(model, options);
    if (reuse) profilers.set(model, profiler);
  }
  const source = profiler.prepare(image, landmarks);
  return source && profiler.render(source, yawDeltaDeg);
}

/** The triangles of `model` whose three vertices are all in region `name` (all triangles without one). */
function regionTriangles(model: MorphableModel, name: string | null): Uint32Array {
  const region = name ? model.regions[name] : undefined;
  if (!region) return model.triangles;
  const inside = new Uint8Array(model.vertexCount);
  for (const v of region) inside[v] = 1;
  const kept: number[] = [];
  const T = model.triangles;
  for (let t = 0; t < T.length; t += 3)
    if (inside[T[t]] && inside[T[t + 1]] && inside[T[t + 2]]) kept.push(T[t], T[t + 1], T[t + 2]);
  return Uint32Array.from(kept);
}
