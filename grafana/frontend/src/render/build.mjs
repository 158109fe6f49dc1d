// Bundle the renderer's browser code (./page/*.jsx) with esbuild into one script for the page.
//
//   import { buildBundle } from './render/build.mjs';
//   const { code, css, ms, bytes, cached, file } = await buildBundle();
//
// Modules resolve from ../../grafana-13.2/node_modules (React, @grafana/ui, @grafana/data, ...), so the
// page runs Grafana 13.2.1's own components. Nothing is fetched at render time: the bundle holds all of
// it. The result is cached in the OS temp folder under a key made of this folder's sources, the
// lockfile and esbuild's version, so a second render skips the ~10 s build.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GRAFANA_DIR = path.resolve(HERE, '..', '..', 'grafana-13.2');
export const NODE_MODULES = path.join(GRAFANA_DIR, 'node_modules');
const ENTRY = path.join(HERE, 'page', 'main.jsx');

function sourceFiles() {
  const out = [];
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (/\.(jsx?|mjs|html|css)$/.test(name)) out.push(p);
    }
  };
  walk(HERE);
  return out;
}

// Code editors (Monaco) are reachable from @grafana/ui's index but never drawn in a dashboard panel;
// they are replaced by an inert module so the bundle stays small and nothing tries to load workers.
const STUBBED = /^(monaco-editor|@monaco-editor\/react|monaco-promql)(\/.*)?$/;
const stubPlugin = {
  name: 'genai-lens-stubs',
  setup(build) {
    build.onResolve({ filter: STUBBED }, (args) => ({ path: args.path, namespace: 'genai-lens-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'genai-lens-stub' }, () => ({
      contents: `const stub = new Proxy(function () {}, {
  get: (t, k) => (k === '__esModule' ? false : k === 'default' ? stub : k === Symbol.toPrimitive ? () => '' : stub),
  apply: () => stub,
  construct: () => stub,
});
module.exports = stub;`,
      loader: 'js',
    }));
  },
};

function cacheKey(esbuildVersion, minify) {
  const h = crypto.createHash('sha256');
  h.update(`esbuild ${esbuildVersion} minify=${minify}\n`);
  for (const f of sourceFiles()) h.update(path.relative(HERE, f) + '\0' + fs.readFileSync(f) + '\0');
  const lock = path.join(GRAFANA_DIR, 'package-lock.json');
  if (fs.existsSync(lock)) h.update(fs.readFileSync(lock));
  return h.digest('hex').slice(0, 20);
}

/** The cache folder: $GENAI_LENS_RENDER_CACHE, else <tmp>/genai-lens-render. */
export function cacheDir() {
  return process.env.GENAI_LENS_RENDER_CACHE || path.join(os.tmpdir(), 'genai-lens-render');
}

/**
 * Build (or reuse) the page bundle. Returns { code, css, file, ms, bytes, cssBytes, cached, warnings }.
 * options.force rebuilds; options.minify (default true).
 */
export async function buildBundle({ force = false, minify = true } = {}) {
  if (!fs.existsSync(path.join(NODE_MODULES, '@grafana', 'ui'))) {
    throw new Error(`${NODE_MODULES} has no @grafana/ui: run npm ci --prefix ${GRAFANA_DIR}`);
  }
  const req = createRequire(path.join(GRAFANA_DIR, 'package.json'));
  const esbuild = req('esbuild');
  const key = cacheKey(esbuild.version, minify);
  const dir = cacheDir();
  const file = path.join(dir, `page-${key}.js`);
  const cssFile = path.join(dir, `page-${key}.css`);
  if (!force && fs.existsSync(file) && fs.existsSync(cssFile)) {
    const code = fs.readFileSync(file, 'utf8');
    const css = fs.readFileSync(cssFile, 'utf8');
    return { code, css, file, ms: 0, bytes: Buffer.byteLength(code), cssBytes: Buffer.byteLength(css), cached: true, warnings: [] };
  }
  const t0 = performance.now();
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    outdir: path.join(dir, 'out'),
    entryNames: 'bundle',
    format: 'iife',
    platform: 'browser',
    target: ['chrome120'],
    absWorkingDir: GRAFANA_DIR,
    nodePaths: [NODE_MODULES],
    mainFields: ['browser', 'module', 'main'],
    conditions: ['browser', 'import', 'module', 'default'],
    jsx: 'automatic',
    loader: { '.js': 'jsx', '.jsx': 'jsx', '.svg': 'text', '.css': 'css', '.scss': 'empty', '.woff': 'empty', '.woff2': 'empty', '.png': 'empty', '.ttf': 'empty', '.eot': 'empty', '.gif': 'empty' },
    plugins: [stubPlugin],
    define: {
      'process.env.NODE_ENV': '"production"',
      'process.env': '{}',
      global: 'globalThis',
    },
    minify,
    legalComments: 'none',
    logLevel: 'silent',
    metafile: false,
  });
  const code = result.outputFiles.find((f) => f.path.endsWith('.js')).text;
  const cssOut = result.outputFiles.find((f) => f.path.endsWith('.css'));
  const css = cssOut ? cssOut.text : '';
  fs.mkdirSync(dir, { recursive: true });
  for (const [target, text] of [[cssFile, css], [file, code]]) {
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, target);
  }
  // Older builds (other sources or lockfile) are no longer wanted.
  for (const name of fs.readdirSync(dir)) {
    if (/^page-[0-9a-f]+\.(js|css)$/.test(name) && !name.startsWith(`page-${key}.`)) fs.rmSync(path.join(dir, name), { force: true });
  }
  const ms = Math.round(performance.now() - t0);
  const warnings = result.warnings.map((w) => `${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
  return { code, css, file, ms, bytes: Buffer.byteLength(code), cssBytes: Buffer.byteLength(css), cached: false, warnings };
}

// `node build.mjs [--force]`: build and print the figures.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildBundle({ force: process.argv.includes('--force') });
  console.log(JSON.stringify({ file: r.file, ms: r.ms, bytes: r.bytes, cssBytes: r.cssBytes, cached: r.cached, warnings: r.warnings }));
}
