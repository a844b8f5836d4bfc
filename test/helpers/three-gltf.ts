import { Box3, Vector3, type Mesh } from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/examples/jsm/libs/meshopt_decoder.module.js';

/**
 * Loads a .glb with three.js's GLTFLoader (a real glTF client, as a web page would) in Node and
 * reports the scene's size in glTF units (metres; the mesh with every morph weight 0) and the morph
 * targets' names. Node has no image decoder for three.js, so an embedded texture is left out
 * (GLTFLoader reports it and goes on).
 */
export async function loadWithThree(bytes: Uint8Array): Promise<{ size: Vector3; morphTargets: string[] }> {
  const loader = new GLTFLoader().setMeshoptDecoder(MeshoptDecoder);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const warn = console.warn;
  const error = console.error;
  console.warn = console.error = () => {}; // the texture it cannot decode in Node
  const global = globalThis as { self?: unknown };
  const hadSelf = 'self' in global;
  if (!hadSelf) global.self = globalThis; // GLTFLoader takes URL from `self` for embedded images
  try {
    const gltf = await loader.parseAsync(buffer, '');
    const size = new Box3().setFromObject(gltf.scene, true).getSize(new Vector3());
    let morphTargets: string[] = [];
    gltf.scene.traverse((object) => {
      const dictionary = (object as Mesh).morphTargetDictionary;
      if (dictionary) morphTargets = Object.keys(dictionary);
    });
    return { size, morphTargets };
  } finally {
    console.warn = warn;
    console.error = error;
    if (!hadSelf) delete global.self;
  }
}
