/**
 * The 3D view: the fitted face as a three.js mesh, orbit controls, and five looks (shaded, wireframe,
 * textured with the photo's UV texture, de-lit: the same UV layout with the photo's light divided out, and the
 * learned colour: the fitted colour model's albedo under the fitted light, per vertex, unlit). Both textures are
 * lit by the viewer's own white lights, so that switching between them changes nothing but the texture: what
 * differs is the photo's light. Vertices are split along UV seams once per model; new positions are scattered
 * into the same buffers, so moving a slider allocates nothing big.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { splitUvSeams } from '../../src/io/mesh.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';
import { vertexNormals } from '../../src/model/normals.js';
import type { RgbaFrame } from './protocol.js';

export type Look = 'shaded' | 'wireframe' | 'textured' | 'delit' | 'learned';

/** The fitted face's UV textures (RGBA, rows top-down): the photo unwrapped, and the same de-lit. */
export interface FaceTextures {
  photo?: RgbaFrame;
  albedo?: RgbaFrame;
}

const SKIN = 0xd9b49c;

export class FaceViewer {
  readonly canvas: HTMLCanvasElement;
  private readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private readonly camera = new THREE.PerspectiveCamera(30, 1, 10, 5000);
  private readonly controls: OrbitControls;
  private readonly material = new THREE.MeshStandardMaterial({ color: SKIN, roughness: 0.75, metalness: 0 });
  /** The learned colour: the light is in the vertex colours already. */
  private readonly colorMaterial = new THREE.MeshBasicMaterial({ vertexColors: true });
  private hasColors = false;
  private mesh: THREE.Mesh | undefined;
  private source: Uint32Array = new Uint32Array(0);
  /** The model's vertex normals, reused by every setPositions (a slider drag or a webcam frame). */
  private normals = new Float32Array(0);
  private textures: { textured?: THREE.Texture; delit?: THREE.Texture } = {};
  private look: Look = 'shaded';
  private framed = false;

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    // preserveDrawingBuffer: the page's test reads the canvas pixels back.
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio));
    this.scene.background = new THREE.Color(0x20242b);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x404050, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 1.8);
    key.position.set(300, 400, 600);
    this.scene.add(key);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.addEventListener('change', () => this.render());
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  /** A new model: new topology. */
  setModel(model: MorphableModel): void {
    if (this.mesh) {
      this.scene.remove(this.mesh);
      this.mesh.geometry.dispose();
    }
    const split = splitUvSeams(model.triangles, model.uvTriangles, model.uvs);
    this.source = split.source;
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(3 * split.source.length), 3));
    geometry.setAttribute('normal', new THREE.BufferAttribute(new Float32Array(3 * split.source.length), 3));
    geometry.setAttribute('uv', new THREE.BufferAttribute(split.uvs, 2));
    geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(3 * split.source.length), 3));
    geometry.setIndex(new THREE.BufferAttribute(split.triangles, 1));
    this.mesh = new THREE.Mesh(geometry, this.material);
    this.scene.add(this.mesh);
    this.framed = false;
    this.hasColors = false;
    this.setTextures({});
  }

  /** New vertex positions (model space, 3N) for the current model. */
  setPositions(positions: Float32Array, triangles: Uint32Array): void {
    if (!this.mesh) return;
    if (this.normals.length !== positions.length) this.normals = new Float32Array(positions.length);
    const normals = vertexNormals(positions, triangles, this.normals);
    const geometry = this.mesh.geometry;
    const p = geometry.getAttribute('position') as THREE.BufferAttribute;
    const n = geometry.getAttribute('normal') as THREE.BufferAttribute;
    const pa = p.array as Float32Array,
      na = n.array as Float32Array,
      source = this.source;
    for (let i = 0; i < source.length; i++) {
      const v = 3 * source[i];
      pa[3 * i] = positions[v];
      pa[3 * i + 1] = positions[v + 1];
      pa[3 * i + 2] = positions[v + 2];
      na[3 * i] = normals[v];
      na[3 * i + 1] = normals[v + 1];
      na[3 * i + 2] = normals[v + 2];
    }
    p.needsUpdate = true;
    n.needsUpdate = true;
    geometry.computeBoundingSphere();
    if (!this.framed) this.frame();
    this.render();
  }

  /** The fitted face's textures; a look whose texture is absent draws as shaded. */
  setTextures(textures: FaceTextures): void {
    this.textures.textured?.dispose();
    this.textures.delit?.dispose();
    this.textures = { textured: toTexture(textures.photo), delit: toTexture(textures.albedo) };
    this.setLook(this.look);
  }

  /** Per-vertex linear RGB (3N) of the learned-colour look, or undefined for none. */
  setVertexColors(colors: Float32Array | undefined): void {
    this.hasColors = colors !== undefined && this.mesh !== undefined;
    if (colors && this.mesh) {
      const attribute = this.mesh.geometry.getAttribute('color') as THREE.BufferAttribute;
      const out = attribute.array as Float32Array;
      const source = this.source;
      for (let i = 0; i < source.length; i++) {
        const v = 3 * source[i];
        out[3 * i] = colors[v];
        out[3 * i + 1] = colors[v + 1];
        out[3 * i + 2] = colors[v + 2];
      }
      attribute.needsUpdate = true;
    }
    this.setLook(this.look);
  }

  get hasVertexColors(): boolean {
    return this.hasColors;
  }

  setLook(look: Look): void {
    this.look = look;
    if (this.mesh) this.mesh.material = look === 'learned' && this.hasColors ? this.colorMaterial : this.material;
    const map = look === 'textured' || look === 'delit' ? this.textures[look] : undefined;
    this.material.map = map ?? null;
    this.material.color.set(map ? 0xffffff : SKIN);
    this.material.wireframe = look === 'wireframe';
    this.material.needsUpdate = true;
    this.render();
  }

  /** Looks at the face from the front, far enough to see all of it. */
  frame(): void {
    const sphere = this.mesh?.geometry.boundingSphere;
    if (!sphere) return;
    const distance = (sphere.radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2))) * 1.05;
    this.controls.target.copy(sphere.center);
    this.camera.position.set(sphere.center.x, sphere.center.y, sphere.center.z + distance);
    this.camera.near = distance / 20;
    this.camera.far = distance * 20;
    this.camera.updateProjectionMatrix();
    this.controls.update();
    this.framed = true;
  }

  render(): void {
    this.renderer.render(this.scene, this.camera);
  }

  private resize(): void {
    const { clientWidth: w, clientHeight: h } = this.canvas;
    if (w === 0 || h === 0) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }
}

/** A UV texture for three.js (sRGB bytes), or undefined for none. */
function toTexture(image: RgbaFrame | undefined): THREE.Texture | undefined {
  if (!image) return undefined;
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(new ImageData(image.data, image.width, image.height), 0, 0);
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  return texture;
}
