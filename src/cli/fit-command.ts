import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { InputError } from '../errors.js';
import type { FaceLandmarker, DetectedFace } from '../detect/face.js';
import { createNodeLandmarker } from '../detect/node-landmarker.js';
import { faceFitReport, type FaceFitReport } from '../fit/fit-result.js';
import { LandmarkFitter } from '../fit/landmark-fit.js';
import { meshToGlb } from '../io/mesh-glb.js';
import { meshToObj } from '../io/mesh-obj.js';
import { OutputBatch } from '../io/node/atomic-write.js';
import { encodePng, loadImage } from '../io/node/image.js';
import { parsePts } from '../io/pts.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import { drawOverlay } from '../render/overlay.js';
import { loadModel } from './model-commands.js';
import { defaultModelPath } from './paths.js';
import { Progress } from './progress.js';

/** Photos are detected on a copy at most this large; fitting uses full-resolution coordinates. */
const DETECTION_MAX_SIDE = 1600;
/** Overlays are drawn on a copy at most this large. */
const OVERLAY_MAX_SIDE = 1600;

interface FitOptions {
  model: string;
  landmarks?: string[];
  out: string;
  json?: boolean;
  maxFaces: number;
  focal?: number;
}

export function addFitCommand(program: Command): void {
  program
    .command('fit')
    .description('fit the 3D face model to each face in photos: writes a mesh (OBJ, GLB), an overlay PNG and a JSON result per face')
    .argument('<images...>', 'photos (JPEG, PNG, WebP, TIFF, …)')
    .option('--model <file>', 'native model file (.glb)', defaultModelPath())
    .option('--landmarks <pts...>', 'iBUG-68 .pts files, one per image, used instead of face detection')
    .option('--out <dir>', 'output folder', 'fits')
    .option('--json', 'also print the results as JSON on stdout')
    .option('--max-faces <n>', 'fit at most this many faces per photo (most confident first)', positiveInt, 10)
    .option('--focal <px>', 'known focal length in pixels of the full image (default: estimated)', positiveNumber)
    .addHelpText('after', `
Outputs per face, in --out: NAME.obj and NAME.glb (the fitted face in model space, millimetres;
the pose is in the JSON), NAME.png (the mesh over the photo: green = input landmarks,
red = fitted model landmarks) and NAME.json (image size, face box, landmarks, pose as yaw/pitch/roll
in degrees, translation in mm and a 4×4 model-view matrix, identity and named expression
coefficients, fit quality, timings). NAME is the image's name, with _face2, _face3… for more faces.
A photo without a face is reported and skipped (exit code 2 at the end), nothing is written for it.`)
    .action(async (images: string[], options: FitOptions) => {
      if (options.landmarks && options.landmarks.length !== images.length) {
        throw new InputError('--landmarks', `${options.landmarks.length} .pts file(s) for ${images.length} image(s): give one per image, in the same order`);
      }
      const model = await loadModel(options.model);
      const fitter = new LandmarkFitter(model);
      let landmarker: FaceLandmarker | undefined;
      const reports: FaceFitReport[] = [];
      const failures: string[] = [];
      const progress = new Progress('fitting', images.length, images.length < 2);
      try {
        for (const [i, image] of images.entries()) {
          try {
            if (!options.landmarks) landmarker ??= await createNodeLandmarker();
            reports.push(...(await fitImage(image, options.landmarks?.[i], model, fitter, landmarker, options)));
          } catch (error) {
            if (!(error instanceof InputError) || images.length === 1) throw error;
            failures.push(error.message);
            process.stderr.write(`morphable: ${error.message}\n`);
          }
          progress.update(i + 1);
        }
      } finally {
        progress.stop();
        landmarker?.dispose();
      }
      if (options.json) console.log(JSON.stringify(reports, null, 1));
      else for (const r of reports) console.log(describe(r));
      if (failures.length) process.exitCode = 2;
    });
}

async function fitImage(path: string, ptsFile: string | undefined, model: MorphableModel, fitter: LandmarkFitter, landmarker: FaceLandmarker | undefined, options: FitOptions): Promise<FaceFitReport[]> {
  const start = performance.now();
  const loaded = await loadImage(path, { maxSide: DETECTION_MAX_SIDE });
  const width = loaded.originalWidth, height = loaded.originalHeight;
  const timings: Record<string, number> = { load: performance.now() - start };

  let faces: { landmarks: Float32Array; detection?: DetectedFace }[];
  if (ptsFile) {
    faces = [{ landmarks: parsePts(await readFile(ptsFile, 'utf8').catch(() => { throw new InputError(ptsFile, 'no such file'); }), ptsFile) }];
  } else {
    const t = performance.now();
    const detected = await landmarker!.detect(loaded.image);
    timings.detect = performance.now() - t;
    if (detected.length === 0) throw new InputError(path, 'no face found');
    // Detection ran on a downscaled copy: back to full-image coordinates (pixel centres at integers).
    const toFull = (v: number) => (v + 0.5) / loaded.scale - 0.5;
    faces = detected.slice(0, options.maxFaces).map((d) => ({
      detection: { ...d, box: { x: d.box.x / loaded.scale, y: d.box.y / loaded.scale, width: d.box.width / loaded.scale, height: d.box.height / loaded.scale } },
      landmarks: d.landmarks.map(toFull),
    }));
  }

  const stem = basename(path, extname(path));
  const batch = new OutputBatch();
  const reports: FaceFitReport[] = [];
  try {
    for (const [index, face] of faces.entries()) {
      const t = performance.now();
      const fit = fitter.fit(face.landmarks, width, height, { focal: options.focal });
      const faceTimings = { ...timings, fit: performance.now() - t };
      const positions = evaluateShape(model, fit.identity, fit.expression);
      const name = join(options.out, faces.length > 1 ? `${stem}_face${index + 1}` : stem);
      const mesh = { positions, triangles: model.triangles, normals: vertexNormals(positions, model.triangles), uvs: model.uvs, uvTriangles: model.uvTriangles };
      await batch.add(`${name}.obj`, meshToObj(mesh));
      await batch.add(`${name}.glb`, await meshToGlb(mesh));
      const overlayScale = Math.min(1, OVERLAY_MAX_SIDE / Math.max(width, height));
      const photo = overlayScale === loaded.scale ? loaded : await loadImage(path, { maxSide: OVERLAY_MAX_SIDE });
      const overlay = drawOverlay(photo.image, positions, model.triangles, fit.camera, {
        scale: photo.scale,
        points: [
          { landmarks: face.landmarks, color: [40, 220, 60] },
          { landmarks: fit.fittedLandmarks, color: [235, 40, 40] },
        ],
      });
      await batch.add(`${name}.png`, await encodePng(overlay));
      const report = faceFitReport(model, { file: path, width, height }, { index, detection: face.detection }, ptsFile ? 'file' : 'detector', face.landmarks, fit, faceTimings);
      await batch.add(`${name}.json`, JSON.stringify(report, null, 1) + '\n');
      reports.push(report);
    }
    await batch.commit();
  } catch (error) {
    await batch.abort();
    throw error;
  }
  return reports;
}

function describe(r: FaceFitReport): string {
  const top = Object.entries(r.expression).filter(([, v]) => v >= 0.2).sort((a, b) => b[1] - a[1]).slice(0, 4);
  const face = r.face.box ? ` face ${r.face.index + 1}` : '';
  const expression = top.length ? top.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') : 'neutral';
  return `${r.image.file}${face}: yaw ${r.pose.yaw.toFixed(1)}°, pitch ${r.pose.pitch.toFixed(1)}°, roll ${r.pose.roll.toFixed(1)}°, ` +
    `distance ${(-r.pose.translation[2] / 10).toFixed(0)} cm, landmark error ${r.quality.nmePercent.toFixed(1)}% | ${expression}`;
}

function positiveInt(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InputError(value, 'not a positive integer');
  return v;
}
function positiveNumber(value: string): number {
  const v = Number(value);
  if (!(v > 0)) throw new InputError(value, 'not a positive number');
  return v;
}
