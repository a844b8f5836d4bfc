import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layering of issue 14, read from the import lines of the source files:
 * - geometry/ is the ground floor: it imports nothing outside geometry/;
 * - nothing in model/, geometry/ or render/ imports fit/;
 * - the core (geometry/, model/, detect/, fit/, render/) imports nothing from io/, cli/ or web/,
 *   and no Node module (`node:…`);
 * - the web app (web/, its Vite config included) imports nothing from src/cli.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CORE = ['geometry', 'model', 'detect', 'fit', 'render'];

interface Rule {
  /** Folders (repository-relative, '/' separated) whose files the rule applies to. */
  from: string[];
  /**
   * The rule is broken by an import that resolves into one of these folders (or names a `node:` module, for
   * 'node:').
   */
  forbidden: string[];
  /** Or by one that resolves anywhere outside these folders (relative imports only), if given. */
  only?: string[];
}

const RULES: Rule[] = [
  { from: ['src/geometry'], forbidden: [], only: ['src/geometry'] },
  { from: ['src/model', 'src/geometry', 'src/render'], forbidden: ['src/fit'] },
  { from: CORE.map((d) => `src/${d}`), forbidden: ['src/io', 'src/cli', 'web', 'node:'] },
  { from: ['web'], forbidden: ['src/cli'] },
];

/** Module specifiers of a file's static imports, re-exports and dynamic imports. */
function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) out.push(match[1]);
  return out;
}

const inside = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);

/** Every broken rule as 'file: specifier (rule)'. `files` maps repository-relative paths to their text. */
function violations(files: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [file, text] of files) {
    for (const specifier of importSpecifiers(text)) {
      const relativeImport = specifier.startsWith('.');
      const target = relativeImport ? posix.normalize(posix.join(posix.dirname(file), specifier)) : specifier;
      for (const rule of RULES) {
        if (!rule.from.some((folder) => inside(file, folder))) continue;
        const bad =
          rule.forbidden.some((folder) =>
            folder === 'node:' ? target.startsWith('node:') : relativeImport && inside(target, folder),
          )
          || (rule.only !== undefined && relativeImport && !rule.only.some((folder) => inside(target, folder)));
        if (bad)
          found.push(
            `${file}: ${specifier} (${rule.from.join(', ')} must not import `
              + `${rule.only ? `outside ${rule.only.join(', ')}` : rule.forbidden.join(', ')})`,
          );
      }
    }
  }
  return found;
}

function sourceFiles(folder: string, files = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory()) sourceFiles(path, files);
    else if (entry.isFile() && /\.(ts|tsx|js|mjs)$/.test(entry.name))
      files.set(path, readFileSync(join(ROOT, path), 'utf8'));
  }
  return files;
}

describe('dependency rule', () => {
  it('holds for the source files', () => {
    const files = new Map([...CORE.map((d) => `src/${d}`), 'web'].flatMap((folder) => [...sourceFiles(folder)]));
    expect(files.size).toBeGreaterThan(30);
    expect([...files.keys()]).toContain('src/geometry/camera.ts');
    expect(violations(files)).toEqual([]);
  });

  it('catches each kind of violating import', () => {
    const files = new Map([
      ['src/render/a.ts', "import { LandmarkFitter } from '../fit/landmark-fit.js';"],
      ['src/model/b.ts', "import type {\n  Camera,\n} from '../fit/camera.js';"],
      ['src/geometry/c.ts', "export { evaluateShape } from '../model/evaluate.js';"],
      ['src/fit/d.ts', "const m = await import('../cli/paths.js');"],
      ['src/detect/e.ts', "import '../io/node/image.js';"],
      ['src/fit/f.ts', "import { readFile } from 'node:fs/promises';"],
      ['src/fit/sub/g.ts', "import { x } from '../../../web/src/protocol.js';"],
      ['web/src/h.ts', "import { defaultModelPath } from '../../src/cli/paths.js';"],
      // Allowed: fit on geometry and render, render on geometry and model, web on fit, cli on anything.
      [
        'src/fit/ok.ts',
        "import { projectPoints } from '../geometry/projection.js';\n"
          + "import { drawOverlay } from '../render/overlay.js';",
      ],
      [
        'src/render/ok.ts',
        "import type { Camera } from '../geometry/camera.js';\nimport { vertexNormals } from '../model/normals.js';",
      ],
      ['web/src/ok.ts', "import { PhotoFitter } from '../../src/fit/fit-photo.js';"],
      [
        'src/cli/ok.ts',
        "import { loadImage } from '../io/node/image.js';\nimport { readFile } from 'node:fs/promises';",
      ],
    ]);
    const found = violations(files).map((line) => line.slice(0, line.indexOf(':')));
    expect(found).toEqual([
      'src/render/a.ts',
      'src/model/b.ts',
      'src/geometry/c.ts',
      'src/fit/d.ts',
      'src/detect/e.ts',
      'src/fit/f.ts',
      'src/fit/sub/g.ts',
      'web/src/h.ts',
    ]);
  });
});
