/**
 * The page: picks up a model, a photo or the webcam, hands the pixels to the worker (which runs the
 * same pipeline as the CLI) and shows what comes back: landmarks over the photo, the 3D face, pose,
 * expression and identity sliders, downloads.
 */
import { InputError } from '../../src/errors.js';
import { PHOTO_MAX_SIDE } from '../../src/fit/fit-photo.js';
import { exifFocalPixels, readExif } from '../../src/io/exif.js';
import { meshToGlb } from '../../src/io/mesh-glb.js';
import { meshFromModel, type Mesh } from '../../src/io/mesh.js';
import { meshToObj } from '../../src/io/mesh-obj.js';
import { decodeModel } from '../../src/io/model-file.js';
import { evaluateShape } from '../../src/model/evaluate.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';
import type { FittedFaceMessage, FromWorker, RgbaFrame, ToWorker, VideoFitMessage } from './protocol.js';
import { FaceViewer, type Look } from './viewer.js';

const IDENTITY_SLIDERS = 10;
/** Webcam frames are fitted at this size (the longer side). */
const VIDEO_SIDE = 640;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  photoFile: $<HTMLInputElement>('photo-file'),
  modelFile: $<HTMLInputElement>('model-file'),
  webcam: $<HTMLButtonElement>('webcam'),
  downloadObj: $<HTMLButtonElement>('download-obj'),
  downloadGlb: $<HTMLButtonElement>('download-glb'),
  glbTexture: $<HTMLSelectElement>('glb-texture'),
  statusBar: $<HTMLDivElement>('status-bar'),
  status: $<HTMLSpanElement>('status'),
  progress: $<HTMLProgressElement>('progress'),
  error: $<HTMLDivElement>('error'),
  photoCanvas: $<HTMLCanvasElement>('photo-canvas'),
  video: $<HTMLVideoElement>('video'),
  faceSelect: $<HTMLSelectElement>('face-select'),
  expressions: $<HTMLDivElement>('expressions'),
  identity: $<HTMLDivElement>('identity'),
  videoStats: $<HTMLParagraphElement>('video-stats'),
  fps: $<HTMLSpanElement>('fps'),
  frames: $<HTMLSpanElement>('frames'),
  fitMs: $<HTMLSpanElement>('fit-ms'),
  identityState: $<HTMLSpanElement>('identity-state'),
};

const viewer = new FaceViewer($<HTMLCanvasElement>('viewer'));
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });

/** What is on screen: the model and the face being shown (sliders edit identity and expression). */
let model: MorphableModel | undefined;
let current:
  | { name: string; identity: Float32Array; expression: Float32Array; texture?: RgbaFrame; albedoTexture?: RgbaFrame }
  | undefined;
let photoFaces: FittedFaceMessage[] = [];
/** The picture on the left: a decoded photo, or the webcam frame that was fitted last. */
let shownPhoto: { source: ImageBitmap | ImageData; width: number; height: number } | undefined;
let workerBusy = false;

// ---- status and errors -------------------------------------------------------------------------

function setStatus(text: string, busy: boolean, fraction?: number): void {
  ui.status.textContent = text;
  ui.statusBar.classList.toggle('idle', !busy);
  if (fraction === undefined) ui.progress.removeAttribute('value');
  else ui.progress.value = fraction;
}

function showError(message: string): void {
  ui.error.textContent = message;
  ui.error.hidden = false;
  clearResult();
  setStatus(model ? 'ready: choose a photo or start the webcam' : 'choose a model file (.glb)', false);
}

function clearError(): void {
  ui.error.hidden = true;
}

/**
 * After an error nothing on screen may belong to an earlier photo: the mean face (no textures, the shaded
 * look, the de-lit and learned-colour looks off), zero sliders, no pose, no face selector, no downloads. A
 * photo drawn for the failed fit stays (it is the new one); one that could not be read leaves an empty canvas.
 */
function clearResult(): void {
  photoFaces = [];
  ui.faceSelect.replaceChildren();
  ui.faceSelect.hidden = true;
  ui.downloadObj.disabled = ui.downloadGlb.disabled = true;
  offerAlbedo(false);
  for (const id of ['pose-yaw', 'pose-pitch', 'pose-roll', 'pose-distance']) {
    const el = $(id);
    el.textContent = '–';
    delete el.dataset.value;
  }
  delete document.body.dataset.state;
  delete document.body.dataset.identityFrom;
  delete document.body.dataset.rejected;
  delete document.body.dataset.colorModel;
  if (model) {
    viewer.setTextures({});
    viewer.setVertexColors(undefined);
    lookInput('learned').disabled = true;
    selectLook('shaded');
    showFace({
      name: 'mean face',
      identity: new Float32Array(model.identity.count),
      expression: new Float32Array(model.expression.count),
    });
  } else {
    current = undefined;
  }
}

/** No photo on the left (before a new one is decoded, and when it cannot be). */
function clearPhoto(): void {
  shownPhoto = undefined;
  const context = ui.photoCanvas.getContext('2d');
  context?.clearRect(0, 0, ui.photoCanvas.width, ui.photoCanvas.height);
}

const describe = (error: unknown) =>
  error instanceof InputError ? error.message : error instanceof Error ? error.message : String(error);
window.addEventListener('error', (event) => showError(`unexpected error: ${event.message}`));
window.addEventListener('unhandledrejection', (event) => showError(`unexpected error: ${describe(event.reason)}`));
worker.addEventListener('error', (event) =>
  showError(`the fitting worker failed: ${event.message || 'it could not start'}`),
);

// ---- the model ---------------------------------------------------------------------------------

async function fetchModel(url: string): Promise<void> {
  setStatus(`downloading the model (${url})…`, true, 0);
  const response = await fetch(url).catch(() => undefined);
  if (!response?.ok) {
    setStatus('no model yet: choose a model file (.glb)', false);
    showError(
      `no model at ${url} (${response ? `HTTP ${response.status}` : 'unreachable'}): choose a model file `
        + `(.glb) made by \`npx morphable model fetch\` or \`morphable model import\``,
    );
    return;
  }
  const total = Number(response.headers.get('Content-Length')) || 0;
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    setStatus(
      `downloading the model: ${(received / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`,
      true,
      total ? received / total : undefined,
    );
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  loadModel(bytes, url.split('/').pop() || url);
}

function loadModel(bytes: Uint8Array, name: string): void {
  clearError();
  let decoded: MorphableModel;
  try {
    decoded = decodeModel(bytes, name);
  } catch (error) {
    showError(describe(error));
    return;
  }
  if (decoded.uvs.length === 0) {
    showError(`${name}: this model has no UV coordinates; the viewer needs a model with UVs (e.g. ICT-FaceKit)`);
    return;
  }
  model = decoded;
  stopWebcam();
  current = undefined;
  photoFaces = [];
  viewer.setModel(model);
  buildSliders(model);
  const neutral = {
    name: 'mean face',
    identity: new Float32Array(model.identity.count),
    expression: new Float32Array(model.expression.count),
  };
  showFace(neutral);
  setEnabled(false);
  setStatus('starting the fitting worker…', true);
  post({
    type: 'load',
    model: bytes.slice().buffer,
    modelName: name,
    assetBase: new URL('./', location.href).href,
    landmarker: new URLSearchParams(location.search).get('landmarker') === 'face-api' ? 'face-api' : 'net',
  });
}

// ---- photos ------------------------------------------------------------------------------------

async function fitPhoto(file: File): Promise<void> {
  if (!model) {
    showError('choose a model file (.glb) first');
    return;
  }
  if (workerBusy) return;
  clearError();
  clearResult();
  clearPhoto();
  stopWebcam();
  setStatus(`decoding ${file.name}…`, true);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    showError(`${file.name}: not an image this browser can read (a JPEG, PNG or WebP photo is expected)`);
    return;
  }
  const { width, height } = bitmap;
  if (Math.min(width, height) < 32) {
    showError(`${file.name}: the image is only ${width}×${height} pixels, too small to hold a face`);
    return;
  }
  // The focal length from the photo's EXIF (35 mm equivalent or sensor size), as the CLI does; else estimated.
  const focal = exifFocalPixels(readExif(new Uint8Array(await file.arrayBuffer())), width, height) ?? undefined;
  const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(width, height));
  const frame = drawToRgba(bitmap, Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)));
  shownPhoto = { source: bitmap, width, height };
  drawPhoto();
  post({ type: 'fit-photo', name: file.name, frame, width, height, scale, focal }, [frame.data.buffer]);
}

/** Pixels of `source` at the given size, alpha flattened on white as the CLI does. */
function drawToRgba(source: CanvasImageSource, width: number, height: number): RgbaFrame {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, width, height);
  const { data } = context.getImageData(0, 0, width, height);
  return { width, height, data };
}

/** The photo (or video frame) with the detected (green) and fitted (red) landmarks. */
function drawPhoto(points: Array<{ landmarks: Float32Array; color: string }> = []): void {
  if (!shownPhoto) return;
  const canvas = ui.photoCanvas;
  const k = Math.min(1, 960 / Math.max(shownPhoto.width, shownPhoto.height));
  canvas.width = Math.round(shownPhoto.width * k);
  canvas.height = Math.round(shownPhoto.height * k);
  const context = canvas.getContext('2d')!;
  const { source } = shownPhoto;
  if (source instanceof ImageData)
    context.putImageData(source, 0, 0); // webcam frames are shown at k = 1
  else context.drawImage(source, 0, 0, canvas.width, canvas.height);
  const radius = Math.max(1.5, canvas.width / 300);
  for (const { landmarks, color } of points) {
    context.fillStyle = color;
    for (let i = 0; i < landmarks.length; i += 2) {
      if (!Number.isFinite(landmarks[i])) continue;
      context.beginPath();
      context.arc((landmarks[i] + 0.5) * k - 0.5, (landmarks[i + 1] + 0.5) * k - 0.5, radius, 0, 2 * Math.PI);
      context.fill();
    }
  }
}

function showPhotoFace(index: number): void {
  const face = photoFaces[index];
  if (!face || !model) return;
  const names = model.expression.names;
  current = {
    name:
      face.report.image.file.replace(/\.[^.]*$/, '')
      + (photoFaces.length > 1 || face.report.face.index > 0 ? `_face${face.report.face.index + 1}` : ''),
    identity: Float32Array.from(face.report.identity),
    expression: Float32Array.from(names, (n) => face.report.expression[n] ?? 0),
    texture: face.texture,
    albedoTexture: face.albedoTexture,
  };
  viewer.setTextures({ photo: face.texture, albedo: face.albedoTexture });
  viewer.setVertexColors(face.learnedColor);
  lookInput('learned').disabled = !face.learnedColor;
  offerAlbedo(face.albedoTexture !== undefined);
  // Which colour model the fit used ('none': a per-vertex albedo), for people and tests reading the page.
  document.body.dataset.colorModel = face.report.photometric?.colorModel ?? 'none';
  if (face.texture) selectLook('textured');
  viewer.setPositions(face.positions, model.triangles);
  updateSliders();
  const { yaw, pitch, roll, translation } = face.report.pose;
  showPose(yaw, pitch, roll, translation);
  drawPhoto([
    { landmarks: face.landmarks, color: '#28dc3c' },
    { landmarks: face.fittedLandmarks, color: '#eb2828' },
  ]);
  ui.downloadObj.disabled = ui.downloadGlb.disabled = false;
}

// ---- webcam ------------------------------------------------------------------------------------

let stream: MediaStream | undefined;
const video = {
  frames: 0,
  /** Times of the frames fitted in the last second, for the frame rate. */
  fitted: [] as number[],
  /** The frame at the worker, and the newest fit not yet drawn. */
  sent: undefined as ImageData | undefined,
  toDraw: undefined as { frame: ImageData; fit: VideoFitMessage | null; ms: number } | undefined,
  grabber: undefined as OffscreenCanvasRenderingContext2D | undefined,
};

async function startWebcam(): Promise<void> {
  if (!model) return;
  clearError();
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (error) {
    const name = error instanceof DOMException ? error.name : '';
    showError(
      name === 'NotAllowedError'
        ? 'webcam: permission denied; allow the camera for this page and try again'
        : name === 'NotFoundError'
          ? 'webcam: no camera found on this device'
          : `webcam: ${describe(error)}`,
    );
    return;
  }
  ui.video.srcObject = stream;
  await ui.video.play();
  ui.webcam.textContent = 'Stop webcam';
  ui.videoStats.hidden = false;
  video.frames = 0;
  video.fitted = [];
  current = {
    name: 'webcam',
    identity: new Float32Array(model.identity.count),
    expression: new Float32Array(model.expression.count),
  };
  viewer.setTextures({});
  viewer.setVertexColors(undefined);
  lookInput('learned').disabled = true;
  offerAlbedo(false);
  selectLook('shaded');
  post({ type: 'video-reset' });
  setStatus('webcam: looking for a face…', true);
  sendVideoFrame();
}

function stopWebcam(): void {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
  stream = undefined;
  ui.video.srcObject = null;
  ui.webcam.textContent = 'Start webcam';
  setStatus('ready: choose a photo or start the webcam', false);
}

/**
 * Hands the newest camera frame to the worker whenever it is free, the moment it answers, so that
 * fitting (worker) and drawing (here) run side by side: the frame rate is what the worker manages.
 */
function sendVideoFrame(): void {
  if (!stream) return;
  const v = ui.video;
  if (workerBusy) return;
  if (v.videoWidth === 0) {
    requestAnimationFrame(sendVideoFrame);
    return;
  }
  const k = Math.min(1, VIDEO_SIDE / Math.max(v.videoWidth, v.videoHeight));
  const width = Math.round(v.videoWidth * k),
    height = Math.round(v.videoHeight * k);
  if (!video.grabber || video.grabber.canvas.width !== width || video.grabber.canvas.height !== height) {
    video.grabber = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true })!;
  }
  video.grabber.drawImage(v, 0, 0, width, height);
  const frame = video.grabber.getImageData(0, 0, width, height);
  video.sent = new ImageData(frame.data.slice(), width, height);
  post({ type: 'video-frame', frame: { width, height, data: frame.data }, timeMs: performance.now() }, [
    frame.data.buffer,
  ]);
}

function videoFitted(fit: VideoFitMessage | null, ms: number): void {
  if (!stream || !video.sent) return;
  if (fit) {
    const now = performance.now();
    video.frames++;
    video.fitted.push(now);
    while (video.fitted[0] < now - 1000) video.fitted.shift();
  }
  const first = !video.toDraw;
  video.toDraw = { frame: video.sent, fit, ms };
  sendVideoFrame();
  if (first) requestAnimationFrame(drawVideoFit);
}

/** Draws the newest fit once per animation frame (a slow display never holds up the fitting). */
function drawVideoFit(): void {
  const pending = video.toDraw;
  video.toDraw = undefined;
  if (!pending || !stream || !model || !current) return;
  const { frame, fit, ms } = pending;
  shownPhoto = { source: frame, width: frame.width, height: frame.height };
  ui.fitMs.textContent = ms.toFixed(0);
  const fitted = video.fitted;
  const fps = fitted.length > 1 ? (1000 * (fitted.length - 1)) / (fitted[fitted.length - 1] - fitted[0]) : 0;
  ui.fps.textContent = fps.toFixed(1);
  ui.fps.dataset.value = String(fps);
  ui.frames.textContent = ui.frames.dataset.value = String(video.frames);
  if (!fit) {
    drawPhoto();
    setStatus('webcam: no face in view', true);
    return;
  }
  ui.identityState.textContent = fit.identityFixed ? 'identity fixed' : 'learning identity…';
  setStatus('webcam: fitting every frame', false);
  current.expression = fit.expression;
  viewer.setPositions(fit.positions, model.triangles);
  updateSliders();
  showPose(fit.pose.yaw, fit.pose.pitch, fit.pose.roll, fit.translation);
  drawPhoto([{ landmarks: fit.landmarks, color: '#28dc3c' }]);
  ui.downloadObj.disabled = ui.downloadGlb.disabled = false;
}

// ---- sliders, pose, downloads -----------------------------------------------------------------

function buildSliders(m: MorphableModel): void {
  const make = (
    container: HTMLElement,
    names: string[],
    min: number,
    max: number,
    onInput: (k: number, v: number) => void,
  ) => {
    container.replaceChildren(
      ...names.map((name, k) => {
        const label = document.createElement('label');
        const input = Object.assign(document.createElement('input'), {
          type: 'range',
          min: String(min),
          max: String(max),
          step: '0.01',
          value: '0',
        });
        input.dataset.name = name;
        const output = document.createElement('output');
        output.textContent = '0.00';
        input.addEventListener('input', () => {
          output.textContent = Number(input.value).toFixed(2);
          onInput(k, Number(input.value));
        });
        label.append(Object.assign(document.createElement('span'), { textContent: name }), input, output);
        return label;
      }),
    );
  };
  make(ui.expressions, m.expression.names, 0, 1, (k, v) => {
    if (current) {
      current.expression[k] = v;
      reshape();
    }
  });
  const identityNames = Array.from(
    { length: Math.min(IDENTITY_SLIDERS, m.identity.count) },
    (_, k) => m.identity.names[k] ?? `identity ${k + 1}`,
  );
  make(ui.identity, identityNames, -3, 3, (k, v) => {
    if (current) {
      current.identity[k] = v;
      reshape();
    }
  });
}

function updateSliders(): void {
  if (!current) return;
  const set = (container: HTMLElement, values: Float32Array) => {
    container.querySelectorAll('label').forEach((label, k) => {
      const input = label.querySelector('input')!,
        output = label.querySelector('output')!;
      input.value = String(values[k]);
      output.textContent = values[k].toFixed(2);
    });
  };
  set(ui.expressions, current.expression);
  set(ui.identity, current.identity);
}

function reshape(): void {
  if (!model || !current) return;
  viewer.setPositions(evaluateShape(model, current.identity, current.expression), model.triangles);
}

function showFace(face: NonNullable<typeof current>): void {
  current = face;
  reshape();
  updateSliders();
}

function showPose(yaw: number, pitch: number, roll: number, translation: ArrayLike<number>): void {
  const cell = (id: string, value: number, text: string) => {
    const el = $(id);
    el.textContent = text;
    el.dataset.value = String(value);
  };
  cell('pose-yaw', yaw, `${yaw.toFixed(1)}°`);
  cell('pose-pitch', pitch, `${pitch.toFixed(1)}°`);
  cell('pose-roll', roll, `${roll.toFixed(1)}°`);
  const distance = Math.hypot(translation[0], translation[1], translation[2]);
  cell('pose-distance', distance, `${(distance / 10).toFixed(0)} cm`);
}

function currentMesh(): Mesh | undefined {
  if (!model || !current) return undefined;
  const positions = evaluateShape(model, current.identity, current.expression);
  return meshFromModel(model, positions);
}

async function download(kind: 'obj' | 'glb'): Promise<void> {
  const mesh = currentMesh();
  if (!mesh || !current) return;
  let bytes: BlobPart;
  // The GLB carries the texture chosen beside its button; the de-lit one is named as the CLI's NAME_albedo.png.
  const albedo = kind === 'glb' && ui.glbTexture.value === 'albedo' && current.albedoTexture !== undefined;
  if (kind === 'obj') {
    bytes = meshToObj(mesh);
  } else {
    const texture = albedo ? current.albedoTexture : current.texture;
    if (texture) mesh.texture = { png: await encodePng(texture) };
    bytes = (await meshToGlb(mesh)).slice();
  }
  const link = Object.assign(document.createElement('a'), {
    href: URL.createObjectURL(new Blob([bytes], { type: kind === 'obj' ? 'text/plain' : 'model/gltf-binary' })),
    download: `${current.name}${albedo ? '_albedo' : ''}.${kind}`,
  });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function encodePng(image: RgbaFrame): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(image.width, image.height);
  canvas.getContext('2d')!.putImageData(new ImageData(image.data, image.width, image.height), 0, 0);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
}

/**
 * A look's radio button. "de-lit" is offered for a photo's fit (it comes with its albedo texture), "learned colour"
 * only for a photo fitted with a colour model.
 */
function lookInput(look: Look): HTMLInputElement {
  return document.querySelector(`input[name=look][value=${look}]`) as HTMLInputElement;
}

/**
 * The de-lit texture offered (a photo's fit) or not (the mean face, the webcam): the "de-lit" look and the GLB's
 * texture choice; without it the choice goes back to the photo texture and a de-lit look to shaded.
 */
function offerAlbedo(offered: boolean): void {
  lookInput('delit').disabled = ui.glbTexture.disabled = !offered;
  if (offered) return;
  ui.glbTexture.value = 'photo';
  if (lookInput('delit').checked) selectLook('shaded');
}

function selectLook(look: Look): void {
  lookInput(look).checked = true;
  viewer.setLook(look);
}

function setEnabled(ready: boolean): void {
  ui.photoFile.disabled = !ready;
  ui.webcam.disabled = !ready;
}

// ---- the worker --------------------------------------------------------------------------------

/** Messages held until the worker listens (see 'listening' in protocol.ts): posted earlier, they are lost. */
let workerListening = false;
const heldMessages: { message: ToWorker; transfer: Transferable[] }[] = [];

function post(message: ToWorker, transfer: Transferable[] = []): void {
  if (message.type !== 'video-reset') workerBusy = true;
  if (workerListening) worker.postMessage(message, transfer);
  else heldMessages.push({ message, transfer });
}

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'listening':
      workerListening = true;
      for (const held of heldMessages.splice(0)) worker.postMessage(held.message, held.transfer);
      return;
    case 'status':
      setStatus(message.text, true);
      return;
    case 'ready':
      workerBusy = false;
      setEnabled(true);
      setStatus('ready: choose a photo or start the webcam', false);
      return;
    case 'photo-fitted': {
      workerBusy = false;
      photoFaces = message.faces;
      // Faces keep their numbers (left to right) when others between them were rejected.
      ui.faceSelect.replaceChildren(
        ...photoFaces.map((f, i) => new Option(`face ${f.report.face.index + 1}`, String(i))),
      );
      ui.faceSelect.hidden = photoFaces.length < 2;
      showPhotoFace(0);
      const secs = (message.ms / 1000).toFixed(1);
      const rejected = message.rejected.length ? `; ${message.rejected.join('; ')}` : '';
      setStatus(
        `${message.name}: ${photoFaces.length} face${photoFaces.length > 1 ? 's' : ''} fitted in ${secs} s${rejected}`,
        false,
      );
      document.body.dataset.state = 'fitted';
      document.body.dataset.identityFrom = photoFaces[0].report.identityFrom;
      document.body.dataset.rejected = String(message.rejected.length);
      document.body.dataset.fitMs = String(message.ms);
      return;
    }
    case 'video-fitted':
      workerBusy = false;
      videoFitted(message.fit, message.ms);
      return;
    case 'error':
      workerBusy = false;
      if (message.during === 'load') setEnabled(false);
      showError(message.message);
      if (message.during === 'video') stopWebcam();
      return;
  }
};

// ---- wiring ------------------------------------------------------------------------------------

ui.photoFile.addEventListener('change', () => {
  const f = ui.photoFile.files?.[0];
  ui.photoFile.value = '';
  if (f) void fitPhoto(f);
});
ui.modelFile.addEventListener('change', async () => {
  const f = ui.modelFile.files?.[0];
  ui.modelFile.value = '';
  if (!f) return;
  clearError();
  setEnabled(false);
  setStatus(`reading ${f.name}…`, true);
  loadModel(new Uint8Array(await f.arrayBuffer()), f.name);
});
ui.webcam.addEventListener('click', () => (stream ? stopWebcam() : void startWebcam()));
ui.downloadObj.addEventListener('click', () => void download('obj'));
ui.downloadGlb.addEventListener('click', () => void download('glb'));
ui.faceSelect.addEventListener('change', () => showPhotoFace(Number(ui.faceSelect.value)));
document
  .querySelectorAll<HTMLInputElement>('input[name=look]')
  .forEach((input) => input.addEventListener('change', () => viewer.setLook(input.value as Look)));
document.addEventListener('dragover', (event) => {
  event.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (event) => {
  event.preventDefault();
  document.body.classList.remove('dragging');
  const file = event.dataTransfer?.files[0];
  if (!file) return;
  if (file.name.toLowerCase().endsWith('.glb'))
    void file.arrayBuffer().then((b) => loadModel(new Uint8Array(b), file.name));
  else void fitPhoto(file);
});

// The model: ?model=URL, else the build's default (models/default.glb, see vite.config.ts).
const modelUrl =
  new URLSearchParams(location.search).get('model')
  ?? (import.meta.env.VITE_MODEL_URL as string | undefined)
  ?? 'models/default.glb';
if (modelUrl === 'none') setStatus('choose a model file (.glb)', false);
else void fetchModel(modelUrl);
