// The library's public surface: pure TypeScript that runs in Node and the browser.
export { InputError } from './errors.js';
export * from './model/morphable-model.js';
export { evaluateShape, evaluateVertices } from './model/evaluate.js';
export { vertexNormals } from './model/normals.js';
export { SeededRandom } from './model/random.js';
export { sampleCoefficients, componentCoefficients, type FaceCoefficients } from './model/sample.js';
export { submodel } from './model/submesh.js';
export { decodeModel, encodeModel } from './io/model-file.js';
export { parseObj } from './io/obj-reader.js';
export { meshToObj, materialForTexture } from './io/mesh-obj.js';
export { meshToPly } from './io/mesh-ply.js';
export { meshToGlb } from './io/mesh-glb.js';
export type { Mesh } from './io/mesh.js';
export { IctFaceKitAssembler } from './io/importers/ict-facekit.js';
export { importSurreyModel } from './io/importers/surrey.js';
export { rasterize, createRasterBuffers } from './render/rasterize.js';
