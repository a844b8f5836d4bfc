/**
 * The web app's build. Besides the page, it serves (and writes into the build) what the worker fetches at run
 * time: face-api's detector, landmark and face-recognition weights and tfjs's wasm binaries, all from
 * node_modules; the project's nets from models/ (landmarks, the one-pass regressor, identity from the
 * embedding); the default model (the one `npx morphable model fetch` puts in the cache, else the compact model
 * shipped in models/; MORPHABLE_MODEL picks another file); and the learned colour model
 * models/color-model-300w.bin where it is shipped (MORPHABLE_COLOR_MODEL picks another file, or 'none').
 * Nothing is downloaded from elsewhere.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import {
  defaultModelPath,
  shippedColorModelPath,
  shippedFaceRegressorPath,
  shippedIdentityNetPath,
  shippedLandmarkNetPath,
} from '../src/io/node/model-paths.js';

const require = createRequire(import.meta.url);
const faceApiModels = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

/** URL path (relative to the page) → file on disk. */
function runtimeAssets(): Map<string, string> {
  const assets = new Map<string, string>();
  for (const net of ['tiny_face_detector_model', 'face_landmark_68_model', 'face_recognition_model']) {
    for (const suffix of ['-weights_manifest.json', '.bin'])
      assets.set(`face-api/${net}${suffix}`, join(faceApiModels, net + suffix));
  }
  for (const name of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
    assets.set(`tfjs-wasm/${name}`, join(wasmDir, name));
  assets.set('landmark-net.bin', shippedLandmarkNetPath());
  assets.set('face-regressor.bin', shippedFaceRegressorPath());
  assets.set('identity-from-embedding.bin', shippedIdentityNetPath());
  // The learned colour model, where it is shipped (MORPHABLE_COLOR_MODEL picks another file, 'none' none):
  // without it the worker fits a per-vertex albedo.
  const colorModel = process.env.MORPHABLE_COLOR_MODEL || shippedColorModelPath();
  if (colorModel !== 'none' && existsSync(colorModel)) assets.set('color-model.bin', colorModel);
  const model = process.env.MORPHABLE_MODEL || defaultModelPath();
  if (existsSync(model)) assets.set('models/default.glb', model);
  return assets;
}

function runtimeAssetsPlugin(): Plugin {
  // The dev and preview servers serve the page at their root.
  const serve = (req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\/+/, '');
    const file = runtimeAssets().get(path);
    if (!file) return next();
    res.setHeader(
      'Content-Type',
      path.endsWith('.json')
        ? 'application/json'
        : path.endsWith('.wasm')
          ? 'application/wasm'
          : 'application/octet-stream',
    );
    createReadStream(file).pipe(res);
  };
  return {
    name: 'morphable-runtime-assets',
    configureServer(server) {
      server.middlewares.use(serve);
    },
    configurePreviewServer(server) {
      server.middlewares.use(serve);
    },
    generateBundle() {
      const assets = runtimeAssets();
      if (!assets.has('models/default.glb'))
        this.warn(
          `no default model at ${process.env.MORPHABLE_MODEL || defaultModelPath()}: the page will ask for a `
            + `model file`,
        );
      for (const [fileName, file] of assets) this.emitFile({ type: 'asset', fileName, source: readFileSync(file) });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [runtimeAssetsPlugin()],
  worker: { format: 'es' },
  // The development server pre-bundles exactly these packages (every one the page and its worker import) at
  // start, and never discovers more: discovery followed the page and then the worker as they loaded, re-bundled
  // and reloaded the page mid-start. A package added to the app and missing here is served unbundled (an ESM
  // one works; a CommonJS one fails loudly).
  optimizeDeps: {
    noDiscovery: true,
    include: [
      '@gltf-transform/core',
      '@gltf-transform/extensions',
      '@vladmandic/face-api',
      'meshoptimizer/decoder',
      'meshoptimizer/encoder',
      'three',
      'three/examples/jsm/controls/OrbitControls.js',
    ],
  },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      // @gltf-transform/core names node:fs and node:path for its NodeIO, which the page never uses (WebIO).
      onwarn(warning, warn) {
        if (!/"node:(fs|path)" has been externalized/.test(warning.message)) warn(warning);
      },
    },
  },
  server: { port: 5173 },
  preview: { port: 4173 },
});
