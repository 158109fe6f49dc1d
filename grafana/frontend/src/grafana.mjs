// Load one Grafana line's published front-end packages in plain Node.
//
//   import { loadGrafana } from './grafana.mjs';
//   const g = loadGrafana('13.2');          // or '12.4'; reads ../grafana-<line>/node_modules
//   g.data.rangeUtil.calculateInterval(...); g.prometheus.transformV2(...); g.version === '13.2.1'
//
// @grafana/data and @grafana/prometheus expect a browser: this installs jsdom's window,
// document and events as globals (once per process), and makes require() of the style sheets and
// images that @grafana/ui imports return empty modules. The Prometheus package's index pulls in the
// Monaco query editor, which cannot load in Node, so its modules are required one by one from its
// CommonJS build (datasource, result_transformer, escaping), the same code Grafana's own bundle runs;
// the editors' Monaco modules are replaced by an inert stub.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LINES = ['12.4', '13.2'];

let browserReady = false;

function installBrowserGlobals(requireFrom) {
  if (browserReady) return;
  for (const ext of ['.css', '.scss', '.svg', '.png', '.woff', '.woff2']) {
    requireFrom.extensions[ext] = (module) => { module.exports = {}; };
  }
  const { JSDOM } = requireFrom('jsdom');
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/', pretendToBeVisual: true });
  const w = dom.window;
  for (const key of Object.getOwnPropertyNames(w)) {
    if (key in globalThis) continue;
    try { globalThis[key] = w[key]; } catch { /* read-only in Node */ }
  }
  // Node has its own Event classes; libraries dispatch on jsdom's window, which wants jsdom's.
  for (const key of ['Event', 'EventTarget', 'CustomEvent', 'MessageEvent', 'KeyboardEvent', 'MouseEvent']) {
    globalThis[key] = w[key];
  }
  globalThis.window = w;
  globalThis.document = w.document;
  Object.defineProperty(globalThis, 'navigator', { value: w.navigator, configurable: true });
  const noMedia = () => ({ matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {} });
  w.matchMedia = w.matchMedia || noMedia;
  globalThis.matchMedia = w.matchMedia;
  globalThis.devicePixelRatio = 1;
  w.grafanaBootData = w.grafanaBootData || { settings: { featureToggles: {} }, user: { timezone: 'utc' }, navTree: [] };
  browserReady = true;
}

// The query editors (Monaco and its PromQL mode) are browser-only and not needed to evaluate panels.
function stubEditors(requireFrom) {
  const Module = requireFrom('module');
  if (Module.__genaiLensStubbed) return;
  const load = Module._load;
  // Any property of the stub is another stub, and a stub can be called or constructed.
  const stub = new Proxy(function () {}, {
    get: (target, key) => (key === '__esModule' ? true : key === Symbol.toPrimitive ? () => '' : stub),
    apply: () => stub,
    construct: () => stub,
  });
  Module._load = function (request, ...rest) {
    if (request === 'monaco-promql' || request.startsWith('monaco-editor')) return stub;
    return load.call(this, request, ...rest);
  };
  Module.__genaiLensStubbed = true;
}

const cache = new Map();

/** The packages of one Grafana line ('12.4' or '13.2'), loaded once per process. */
export function loadGrafana(line) {
  if (!LINES.includes(line)) throw new Error(`unknown Grafana line ${line}; one of ${LINES.join(', ')}`);
  if (cache.has(line)) return cache.get(line);
  const dir = path.join(ROOT, `grafana-${line}`);
  if (!fs.existsSync(path.join(dir, 'node_modules', '@grafana', 'data'))) {
    throw new Error(`${dir}/node_modules is missing: run npm ci --prefix ${dir}`);
  }
  if (cache.size > 0) {
    throw new Error('one Grafana line per process: their packages share module-level registries');
  }
  const req = createRequire(path.join(dir, 'package.json'));
  installBrowserGlobals(req);
  stubEditors(req);
  const quiet = console.log;
  console.log = (...args) => { if (!String(args[0]).includes('i18next')) quiet(...args); };
  try {
    const data = req('@grafana/data');
    const promDir = path.join(dir, 'node_modules', '@grafana', 'prometheus', 'dist', 'cjs');
    const prom = (name) => req(path.join(promDir, `${name}.cjs`));
    const version = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '@grafana', 'data', 'package.json'))).version;
    const grafana = {
      line, version, dir, require: req, data,
      schema: req('@grafana/schema'),
      prometheus: { ...prom('result_transformer'), ...prom('escaping'), ...prom('datasource') },
    };
    cache.set(line, grafana);
    return grafana;
  } finally {
    console.log = quiet;
  }
}
