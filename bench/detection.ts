/**
 * Face detection + 68 landmarks on every face of ../shared/data/faces-68, for each face-api variant:
 * NME against the .pts (minus 1), faces missed, and the time of detect() per photo, at full size and
 * with the photo shrunk to 640 px on its long side (the size the fitting works at).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeLandmarker, type NodeLandmarkerOptions } from '../src/io/node/face-landmarker.js';
import { loadImage } from '../src/io/node/image.js';
import { annotatedFaces, matchDetection, mean, median, nme, type AnnotatedFace } from './faces68.js';

interface Variant {
  label: string;
  options: NodeLandmarkerOptions;
  isDefault?: boolean;
}

const variants: Variant[] = [
  { label: 'own net (300-W), 2 passes, TinyFaceDetector pyramid', options: {}, isDefault: true },
  { label: 'face-api full net, refine pass, TinyFaceDetector 416', options: { landmarker: 'face-api' } },
  {
    label: 'face-api full net, no refine pass, TinyFaceDetector 416',
    options: { landmarker: 'face-api', refine: false },
  },
  {
    label: 'face-api tiny net, refine pass, TinyFaceDetector 416',
    options: { landmarker: 'face-api', landmarkNet: 'tiny' },
  },
  { label: 'face-api full net, refine pass, SSD-MobileNetV1', options: { landmarker: 'face-api', detector: 'ssd' } },
];

const sizes = [
  { label: 'full size', maxSide: undefined },
  { label: '640 px', maxSide: 640 },
];

export async function detectionBench(shared: string): Promise<string> {
  const faces = annotatedFaces(join(shared, 'data/faces-68'));
  // AFW photos with two annotated faces are stored twice, once per face: group faces by image content.
  const photos = new Map<string, { image: string; faces: AnnotatedFace[] }>();
  for (const face of faces) {
    const key = createHash('sha256').update(readFileSync(face.image)).digest('hex');
    const photo = photos.get(key) ?? { image: face.image, faces: [] };
    photo.faces.push(face);
    photos.set(key, photo);
  }
  console.log(`detection: ${faces.length} faces in ${photos.size} photos`);

  const rows: string[] = [];
  for (const variant of variants) {
    const landmarker = await createNodeLandmarker(variant.options);
    try {
      for (const size of sizes) {
        const loaded = await Promise.all(
          [...photos.values()].map(async (p) => ({
            ...p,
            loaded: await loadImage(p.image, { maxSide: size.maxSide }),
          })),
        );
        for (let i = 0; i < 3; i++) await landmarker.detect(loaded[0].loaded.image); // warm-up
        const nme68: number[] = [],
          nme51: number[] = [],
          ms: number[] = [];
        let missed = 0;
        for (const {
          faces: truths,
          loaded: { image, scale },
        } of loaded) {
          const start = performance.now();
          const detections = await landmarker.detect(image);
          ms.push(performance.now() - start);
          for (const truth of truths) {
            const match = matchDetection(detections, truth.landmarks, scale);
            if (!match) {
              missed++;
              continue;
            }
            const points = match.landmarks.map((v) => (v + 0.5) / scale - 0.5); // back to the photo's pixels
            nme68.push(nme(points, truth.landmarks));
            nme51.push(nme(points, truth.landmarks, 17));
          }
        }
        const row =
          `| ${variant.label}${variant.isDefault ? ' **(default)**' : ''} | ${size.label} `
          + `| ${median(nme68).toFixed(2)} / ${mean(nme68).toFixed(2)} | ${median(nme51).toFixed(2)} | ${missed} `
          + `| ${median(ms).toFixed(0)} ms |`;
        console.log(`  ${row}`);
        rows.push(row);
      }
    } finally {
      landmarker.dispose();
    }
  }

  return [
    `${faces.length} annotated faces in ${photos.size} photos of faces-68 (full size: 300×450 to 2517×1836 px). `
      + 'Ground truth: the .pts values minus 1. NME: mean point distance / distance of ground-truth points 37 and 46 '
      + '(outer eye corners, 1-based), in %; NME 51 uses points 18-68. Each ground-truth face is matched to the '
      + 'detection whose box overlaps its landmark box most; none overlapping counts as missed. Time: `detect()` '
      + 'alone (detector, landmark passes, tensor conversion; the photo already decoded), median over the photos '
      + 'after warm-up, tfjs wasm backend, one thread.',
    '',
    '| landmarker | photo size | NME 68 median / mean | NME 51 median | faces missed | time per photo |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'The TinyFaceDetector runs twice, at 416 and 224 px, because at 416 alone it misses faces that fill more '
      + "than about half of the photo (401 of train-300w's 1,955 crops; 35 with both sizes). The refine pass runs "
      + 'the landmark net again on a box derived from the first landmarks. All rows include a bias correction '
      + "measured on train-300w (about 1 % of the box, up and left). For reference, face-api's own pipeline with "
      + 'the same nets '
      + '(`detectAllFaces(tensor, TinyFaceDetectorOptions({ inputSize: 416 })).withFaceLandmarks()`, no correction) '
      + 'measured 4.56 / 5.09 NME 68, 0 missed, on full-size photos here, as in peers.md.',
    'Fitting target: ≤ 150 ms per 640-px photo, detection included.',
    '',
    "@vladmandic/human's face mesh was not measured here: it would add a second large tfjs-based dependency whose "
      + 'package exports map is broken in Node, whose default wasm and model paths point at the network, whose '
      + 'attention model needs a float cast around BatchMatMul on wasm, and whose 478 points need a mapping to the '
      + '68 iBUG points. shared/notes/peers.md measured it on the same faces: NME 68 5.07 / 6.12 (median / mean), '
      + "NME 51 4.03, 0 missed, 71 ms per photo; face-api's TinyFaceDetector + full net, as face-api runs it, "
      + 'measured 4.56 / 5.09, 3.60, 0 missed, 85 ms there.',
  ].join('\n');
}
