/**
 * A coarse-to-fine hierarchy of a triangle mesh's vertex graph, for the mesh-convolution decoder
 * (model/mesh-conv-decoder.ts; Ranjan et al.'s COMA and Zhou et al. 2019's joint texture & shape decoder).
 * Every sparse operator is a fixed-degree gather (`SparseGather`: per output row, `degree` input rows and their
 * weights, padded with weight 0), so that tfjs (learn/mesh-conv-network.ts) and the pure-TS forward run the same
 * arithmetic.
 *
 * Coarsening, level by level (deterministic): geodesic farthest-point sampling on the finer level's graph
 * (edge length = Euclidean distance of the mean shape's vertices; the first sample is vertex 0, then always the
 * vertex farthest along the graph from all samples so far, the lowest index on ties; a vertex no sample reaches
 * counts as infinitely far, so every connected component gets one), each finer vertex assigned to its nearest
 * sample along the graph (a geodesic Voronoi cell, which is connected). Two coarse vertices are joined when a
 * finer edge joins their cells. Going back up, each finer vertex is interpolated from at most 3 coarse ones:
 * its cell's vertex and that vertex's coarse neighbours, the 3 nearest (Euclidean) with inverse-distance weights
 * (a finer vertex on a coarse one takes it alone).
 *
 * The graph convolution is Chebyshev's (Defferrard et al. 2016, as COMA): it needs only the graph Laplacian,
 * and the coarse levels are graphs without triangles, where a spiral convolution's vertex ordering is not
 * defined. Each level keeps the scaled Laplacian L̃ = 2L/λ_max − I with the normalised L = I − D^-½ A D^-½ and
 * λ_max taken as 2 (its bound, COMA's choice): L̃ = −D^-½ A D^-½, a gather over each vertex's neighbours.
 */

/** A sparse linear map, output row r = Σ_j weights[r·degree + j] · input row indices[r·degree + j]. */
export interface SparseGather {
  rows: number;
  degree: number;
  indices: Uint32Array;
  weights: Float32Array;
}

export interface MeshLevel {
  /** The level's vertices as indices into the finest level (level 0: 0 … V − 1). */
  vertices: Uint32Array;
  /** The scaled Laplacian L̃ = −D^-½ A D^-½ over the level's graph (degree: its largest vertex degree). */
  laplacian: SparseGather;
}

export interface MeshHierarchy {
  /** Finest (the mesh) first. */
  levels: MeshLevel[];
  /** upsample[l]: level l + 1's values → level l's (degree 3). */
  upsample: SparseGather[];
}

/** Adjacency lists with edge lengths, as CSR. */
interface Graph {
  start: Uint32Array;
  neighbours: Uint32Array;
  lengths: Float64Array;
}

function graphFromEdges(V: number, edges: Map<number, number>, positions: ArrayLike<number>, ids: Uint32Array) {
  const count = new Uint32Array(V + 1);
  for (const key of edges.keys()) {
    count[Math.floor(key / V)]++;
    count[key % V]++;
  }
  const start = new Uint32Array(V + 1);
  for (let v = 0; v < V; v++) start[v + 1] = start[v] + count[v];
  const fill = start.slice(0, V);
  const neighbours = new Uint32Array(start[V]);
  // Sorted keys: each vertex's neighbours in a fixed order.
  for (const key of [...edges.keys()].sort((a, b) => a - b)) {
    const a = Math.floor(key / V),
      b = key % V;
    neighbours[fill[a]++] = b;
    neighbours[fill[b]++] = a;
  }
  const lengths = new Float64Array(neighbours.length);
  for (let v = 0; v < V; v++) {
    for (let e = start[v]; e < start[v + 1]; e++) lengths[e] = distance(positions, ids[v], ids[neighbours[e]]);
  }
  return { start, neighbours, lengths };
}

function distance(positions: ArrayLike<number>, a: number, b: number): number {
  const dx = positions[3 * a] - positions[3 * b],
    dy = positions[3 * a + 1] - positions[3 * b + 1],
    dz = positions[3 * a + 2] - positions[3 * b + 2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

function addEdge(edges: Map<number, number>, V: number, a: number, b: number) {
  if (a === b) return;
  edges.set(a < b ? a * V + b : b * V + a, 1);
}

/** L̃ = −D^-½ A D^-½ as a gather padded to the largest degree (an isolated vertex: itself, weight 0). */
function scaledLaplacian(graph: Graph): SparseGather {
  const V = graph.start.length - 1;
  let degree = 1;
  for (let v = 0; v < V; v++) degree = Math.max(degree, graph.start[v + 1] - graph.start[v]);
  const indices = new Uint32Array(V * degree),
    weights = new Float32Array(V * degree);
  for (let v = 0; v < V; v++) {
    const dv = graph.start[v + 1] - graph.start[v];
    indices.fill(v, v * degree, (v + 1) * degree);
    for (let e = graph.start[v], j = 0; e < graph.start[v + 1]; e++, j++) {
      const u = graph.neighbours[e];
      indices[v * degree + j] = u;
      weights[v * degree + j] = -1 / Math.sqrt(dv * (graph.start[u + 1] - graph.start[u]));
    }
  }
  return { rows: V, degree, indices, weights };
}

/** A binary min-heap of (key, vertex) with lazy deletion, on preallocated typed arrays. */
class Heap {
  keys: Float64Array;
  items: Uint32Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.items = new Uint32Array(capacity);
  }
  push(key: number, item: number) {
    if (this.size === this.keys.length) {
      const keys = new Float64Array(2 * this.size),
        items = new Uint32Array(2 * this.size);
      keys.set(this.keys);
      items.set(this.items);
      this.keys = keys;
      this.items = items;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.keys[p] <= key) break;
      this.keys[i] = this.keys[p];
      this.items[i] = this.items[p];
      i = p;
    }
    this.keys[i] = key;
    this.items[i] = item;
  }
  /** Removes the smallest; its key and item are left in `topKey` / `topItem`. */
  topKey = 0;
  topItem = 0;
  pop() {
    this.topKey = this.keys[0];
    this.topItem = this.items[0];
    const key = this.keys[--this.size],
      item = this.items[this.size];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && this.keys[c + 1] < this.keys[c]) c++;
      if (this.keys[c] >= key) break;
      this.keys[i] = this.keys[c];
      this.items[i] = this.items[c];
      i = c;
    }
    this.keys[i] = key;
    this.items[i] = item;
  }
}

/**
 * Geodesic farthest-point sampling of `count` vertices of the graph; returns the samples (in the order picked)
 * and each vertex's nearest sample (an index into the samples).
 */
function farthestPoints(graph: Graph, count: number): { samples: Uint32Array; owner: Uint32Array } {
  const V = graph.start.length - 1;
  const dist = new Float64Array(V).fill(Infinity);
  const owner = new Uint32Array(V);
  const samples = new Uint32Array(count);
  const heap = new Heap(graph.neighbours.length + V);
  let next = 0;
  for (let s = 0; s < count; s++) {
    samples[s] = next;
    // Dijkstra from the new sample, only where it comes nearer than the samples so far.
    dist[next] = 0;
    owner[next] = s;
    heap.size = 0;
    heap.push(0, next);
    while (heap.size > 0) {
      heap.pop();
      const v = heap.topItem;
      if (heap.topKey > dist[v]) continue;
      for (let e = graph.start[v]; e < graph.start[v + 1]; e++) {
        const u = graph.neighbours[e],
          d = heap.topKey + graph.lengths[e];
        if (d < dist[u]) {
          dist[u] = d;
          owner[u] = s;
          heap.push(d, u);
        }
      }
    }
    let far = -1;
    for (let v = 0; v < V; v++) if (far < 0 || dist[v] > dist[far]) far = v;
    next = far;
  }
  return { samples, owner };
}

/**
 * The hierarchy of a mesh (`positions`: 3 per vertex, e.g. the mean shape; `triangles`: vertex indices) with
 * `sizes` vertices at each coarser level (decreasing, each below the previous level's count).
 */
export function meshHierarchy(
  positions: ArrayLike<number>,
  triangles: ArrayLike<number>,
  sizes: number[],
): MeshHierarchy {
  const V0 = positions.length / 3;
  if (!Number.isInteger(V0) || V0 < 1) throw new RangeError(`positions: ${positions.length} values, not 3 per vertex`);
  const edges = new Map<number, number>();
  for (let t = 0; t + 2 < triangles.length; t += 3) {
    const a = triangles[t],
      b = triangles[t + 1],
      c = triangles[t + 2];
    if (a >= V0 || b >= V0 || c >= V0) throw new RangeError(`triangle ${t / 3} has a vertex beyond ${V0}`);
    addEdge(edges, V0, a, b);
    addEdge(edges, V0, b, c);
    addEdge(edges, V0, c, a);
  }
  let ids = Uint32Array.from({ length: V0 }, (_, i) => i);
  let graph = graphFromEdges(V0, edges, positions, ids);
  const levels: MeshLevel[] = [{ vertices: ids, laplacian: scaledLaplacian(graph) }];
  const upsample: SparseGather[] = [];
  for (const size of sizes) {
    const V = ids.length;
    if (!Number.isInteger(size) || size < 1 || size >= V) {
      throw new RangeError(`level sizes must decrease: ${size} after ${V} vertices`);
    }
    const { samples, owner } = farthestPoints(graph, size);
    const coarseEdges = new Map<number, number>();
    for (let v = 0; v < V; v++) {
      for (let e = graph.start[v]; e < graph.start[v + 1]; e++)
        addEdge(coarseEdges, size, owner[v], owner[graph.neighbours[e]]);
    }
    const coarseIds = Uint32Array.from(samples, (s) => ids[s]);
    const coarse = graphFromEdges(size, coarseEdges, positions, coarseIds);
    upsample.push(interpolation(positions, ids, coarseIds, owner, coarse));
    levels.push({ vertices: coarseIds, laplacian: scaledLaplacian(coarse) });
    ids = coarseIds;
    graph = coarse;
  }
  return { levels, upsample };
}

/** Each finer vertex from ≤ 3 coarse ones: its cell's and that one's neighbours, the nearest, by 1/distance. */
function interpolation(
  positions: ArrayLike<number>,
  fineIds: Uint32Array,
  coarseIds: Uint32Array,
  owner: Uint32Array,
  coarse: Graph,
): SparseGather {
  const V = fineIds.length,
    degree = 3;
  const indices = new Uint32Array(V * degree),
    weights = new Float32Array(V * degree);
  const best = new Float64Array(degree),
    bestIndex = new Uint32Array(degree);
  for (let v = 0; v < V; v++) {
    best.fill(Infinity);
    const a = owner[v];
    bestIndex.fill(a);
    keepNearest(best, bestIndex, distance(positions, fineIds[v], coarseIds[a]), a);
    for (let e = coarse.start[a]; e < coarse.start[a + 1]; e++) {
      const c = coarse.neighbours[e];
      keepNearest(best, bestIndex, distance(positions, fineIds[v], coarseIds[c]), c);
    }
    indices.set(bestIndex, v * degree);
    if (best[0] < 1e-9) {
      weights[v * degree] = 1;
      continue;
    }
    let sum = 0;
    for (let j = 0; j < degree; j++) sum += Number.isFinite(best[j]) ? 1 / best[j] : 0;
    for (let j = 0; j < degree; j++) weights[v * degree + j] = Number.isFinite(best[j]) ? 1 / best[j] / sum : 0;
  }
  return { rows: V, degree, indices, weights };
}

/** Inserts candidate c at distance d into the sorted nearest list (best, bestIndex) if it is nearer. */
function keepNearest(best: Float64Array, bestIndex: Uint32Array, d: number, c: number): void {
  for (let j = 0; j < best.length; j++) {
    if (d < best[j]) {
      best.copyWithin(j + 1, j, best.length - 1);
      bestIndex.copyWithin(j + 1, j, bestIndex.length - 1);
      best[j] = d;
      bestIndex[j] = c;
      return;
    }
  }
}

/**
 * out (op.rows × channels, row stride `outStride`, from column `outAt`) = op applied to `input` (rows of
 * `channels` values at stride `inStride` from column `inAt`), for one face.
 */
export function applyGather(
  op: SparseGather,
  input: Float32Array,
  inStride: number,
  inAt: number,
  channels: number,
  out: Float32Array,
  outStride: number,
  outAt: number,
): void {
  const { rows, degree, indices, weights } = op;
  for (let r = 0; r < rows; r++) {
    const o = r * outStride + outAt;
    for (let c = 0; c < channels; c++) out[o + c] = 0;
    for (let j = r * degree; j < (r + 1) * degree; j++) {
      const w = weights[j];
      if (w === 0) continue;
      const i = indices[j] * inStride + inAt;
      for (let c = 0; c < channels; c++) out[o + c] += w * input[i + c];
    }
  }
}
