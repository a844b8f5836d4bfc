// The library's public surface: pure TypeScript that runs in Node and the browser.
export { InputError } from './errors.js';
export * from './model/morphable-model.js';
export { evaluateShape, evaluateVertices } from './model/evaluate.js';
export { vertexNormals } from './model/normals.js';
export { SeededRandom } from './model/random.js';
export { sampleCoefficients, componentCoefficients, type FaceCoefficients } from './model/sample.js';
export { submodel } from './model/submesh.js';
export { decodeModel, encodeModel, isCompactModel, type EncodeModelOptions } from './io/model-file.js';
export {
  type ColorModelFile,
  colorModelFileFrom,
  decodeColorModelFile,
  encodeColorModelFile,
  withColorModel,
} from './io/color-model-file.js';
export { parseObj } from './io/obj-reader.js';
export { meshToObj, materialForTexture } from './io/mesh-obj.js';
export { meshToPly } from './io/mesh-ply.js';
export { meshToGlb } from './io/mesh-glb.js';
export type { Mesh } from './io/mesh.js';
export { IctFaceKitAssembler } from './io/importers/ict-facekit.js';
export { importSurreyModel } from './io/importers/surrey.js';
export { rasterize, createRasterBuffers } from './render/rasterize.js';
export type { DetectedFace, FaceLandmarker, FaceBox } from './detect/face.js';
export type { RgbImage } from './render/rgb-image.js';
export { createFaceApiLandmarker, type FaceApiLandmarkerOptions } from './detect/face-api-landmarker.js';
export { createNetLandmarker, type NetLandmarkerOptions } from './detect/net-landmarker.js';
export { decodeLandmarkNetFile, type LandmarkNetFile } from './detect/landmark-net-file.js';
export { decodeFaceRegressorFile, type FaceRegressorFile } from './detect/face-regressor-file.js';
export type { FaceRegression } from './detect/face-regressor.js';
export {
  decodeIdentityNetFile,
  identityNetMatches,
  identityNetParams,
  type IdentityPredictor,
  predictIdentityFromEmbedding,
} from './detect/identity-from-embedding.js';
export {
  createFaceApiDetector,
  type FaceApiDetectorOptions,
  type FaceDetector,
  type FoundFace,
} from './detect/face-api-detector.js';
export { createCamera, modelViewMatrix, estimatePoseLinear, type Camera } from './geometry/camera.js';
export { projectPoints } from './geometry/projection.js';
export { scaleCamera, cropCamera, uncropCamera, type Crop } from './geometry/crop.js';
export { anglesFromRotation, rotationFromAngles, type PoseAngles } from './geometry/rotation.js';
export { LandmarkFitter, type LandmarkFitOptions, type LandmarkFitResult } from './fit/landmark-fit.js';
export { PhotometricFitter, type PhotometricFitOptions, type PhotometricFitResult } from './fit/photometric-fit.js';
export {
  PHOTO_MAX_SIDE,
  PhotoFitter,
  type PhotoFitterOptions,
  embeddingIdentityOptions,
  projectLandmarks,
  type FaceLandmarks,
  type FittedFace,
  type Photo,
} from './fit/fit-photo.js';
export { VideoFaceFitter, type VideoFitOptions, type VideoFrameFit } from './fit/video-fit.js';
export { OneEuroFilter, type OneEuroOptions } from './fit/smoothing.js';
export { faceFitReport, landmarkNme, type FaceFitReport } from './fit/fit-result.js';
export {
  PhotometricRenderer,
  createPhotometricImage,
  createPhotometricGradient,
  chainToBasis,
} from './render/photometric.js';
export {
  shBasis,
  shIrradiance,
  shDirectionalLight,
  shLightDirection,
  shPeakDirection,
} from './render/spherical-harmonics.js';
export { drawOverlay } from './render/overlay.js';
export { albedoTexture, type AlbedoTexture, type TextureLight, unwrapTexture } from './render/uv-texture.js';
export { pca } from './model/pca.js';
export { linearToSrgb, linearToSrgbByte, srgbToLinear } from './model/color.js';
export { parsePts, formatPts } from './io/pts.js';
