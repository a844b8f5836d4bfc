import { InputError } from '../errors.js';

/**
 * iBUG / 300-W .pts landmark files:
 *   version: 1
 *   n_points: 68
 *   { x y (one pair per line) }
 * Their coordinates are 1-based (Matlab convention, as the iBUG site states and eos and menpo
 * honour): 1 is subtracted, giving the project's image coordinates (top-left pixel centre at 0, 0).
 */
export function parsePts(text: string, fileName: string, expectedPoints = 68): Float32Array {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  let declared = -1;
  let inside = false;
  let closed = false;
  const values: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (problem: string): never => {
      throw new InputError(fileName, `line ${i + 1}: ${problem}`);
    };
    if (!inside) {
      if (closed) fail('text after the closing "}"');
      const header = /^(version|n_points)\s*:\s*(\S+)$/.exec(line);
      if (header) {
        if (header[1] === 'n_points') {
          declared = Number(header[2]);
          if (!Number.isInteger(declared) || declared < 1) fail(`n_points "${header[2]}" is not a positive integer`);
        }
        continue;
      }
      if (line === '{') {
        inside = true;
        continue;
      }
      fail(`expected "version:", "n_points:" or "{", found "${line.slice(0, 30)}"`);
    } else {
      if (line === '}') {
        inside = false;
        closed = true;
        continue;
      }
      const parts = line.split(/\s+/);
      const x = Number(parts[0]),
        y = Number(parts[1]);
      if (parts.length !== 2 || !Number.isFinite(x) || !Number.isFinite(y))
        fail(`expected "x y", found "${line.slice(0, 30)}"`);
      values.push(x - 1, y - 1);
    }
  }
  if (!closed)
    throw new InputError(fileName, inside ? 'missing the closing "}"' : 'not a .pts landmark file (no "{ … }" block)');
  const count = values.length / 2;
  if (declared >= 0 && declared !== count)
    throw new InputError(fileName, `n_points says ${declared} but the file has ${count} points`);
  if (count !== expectedPoints)
    throw new InputError(fileName, `has ${count} points; iBUG-68 landmarks have ${expectedPoints}`);
  return Float32Array.from(values);
}

/** Writes landmarks (project coordinates) as a 1-based .pts file. */
export function formatPts(points: ArrayLike<number>): string {
  const lines = ['version: 1', `n_points: ${points.length / 2}`, '{'];
  for (let i = 0; i < points.length; i += 2)
    lines.push(`${(points[i] + 1).toFixed(3)} ${(points[i + 1] + 1).toFixed(3)}`);
  lines.push('}', '');
  return lines.join('\n');
}
