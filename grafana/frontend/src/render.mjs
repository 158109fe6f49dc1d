#!/usr/bin/env node
// Draw one evaluated dashboard to a PNG in headless Chromium with Grafana 13.2.1's own @grafana/ui
// components (dark theme), each panel placed by its gridPos on Grafana's 24-column grid.
//
//   node grafana/frontend/src/render.mjs --input evaluated.json --output out.png [--width 1600]
//        [--chromium /usr/bin/chromium] [--timeout 60000] [--rebuild]
//
// Prints one JSON object on stdout:
//   { "png", "width", "height", "texts": [lines of document.body.innerText], "errors": [...],
//     "warnings": [...], "font", "timing": {...}, "bundle": {...} }
// Exit status: 0 drawn; 1 drawn, but some panel threw (an error box is drawn in its place and the
// panel is listed in "errors"); 2 bad arguments or input; 3 Chromium missing or failed to start;
// 4 the page failed or timed out.
//
// Input (the panel evaluator's output): { grafana, dashboard: {uid, title}, timeRange: {from, to} (ms),
// timeZone, panels: [{ id, type, title, gridPos, options, frames: [DataFrameJSON], shown }] }, with
// frames taken after the panel's transformations and field configs already the effective ones; `shown`
// (what the evaluator says the user sees) supplies stat and bar gauge values and pie slices. A panel's
// `noData` / `noValue` (or `shown.noValue`) draws its empty state, its `errors` the header's error icon
// (and a warning here); a panel's own `timeRange`, where given, is its x range.
// The browser code is ./render/page/*.jsx, bundled by ./render/build.mjs (esbuild, cached in the temp
// folder); it is served with the input from a server on 127.0.0.1 (./render/server.mjs), and every
// request for anything else is aborted, so nothing is fetched from outside. Grafana's font, Inter, is
// served from node_modules/@fontsource/inter or Debian's fonts-inter where either is installed; without
// them the theme's fallbacks (Helvetica, Arial: Liberation Sans here) draw the text ("font" says which).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { buildBundle, GRAFANA_DIR } from './render/build.mjs';
import { startServer } from './render/server.mjs';
import { gridLayout } from './render/page/layout.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--font-render-hinting=none', '--hide-scrollbars',
];
// Must match page/main.jsx.
const PAGE_PADDING = 16;
const HEADER_HEIGHT = 48;
const PANEL_TYPES = new Set(['row', 'stat', 'bargauge', 'piechart', 'table', 'timeseries']);

export class RenderError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new RenderError(`${what} timed out after ${ms} ms`, 4)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Check the evaluated dashboard's shape; throws RenderError(code 2) with every problem found. */
export function validateInput(input) {
  const problems = [];
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new RenderError('input: not a JSON object', 2);
  if (!Array.isArray(input.panels)) problems.push('input.panels: missing or not an array');
  const tr = input.timeRange;
  if (tr !== undefined && (typeof tr !== 'object' || !Number.isFinite(tr.from) || !Number.isFinite(tr.to))) {
    problems.push('input.timeRange: want { from: epoch ms, to: epoch ms }');
  }
  for (const [i, p] of (Array.isArray(input.panels) ? input.panels : []).entries()) {
    const where = `input.panels[${i}]${p && p.id !== undefined ? ` (id ${p.id})` : ''}`;
    if (!p || typeof p !== 'object') {
      problems.push(`${where}: not an object`);
      continue;
    }
    if (typeof p.type !== 'string') problems.push(`${where}.type: missing`);
    const g = p.gridPos;
    if (!g || !['x', 'y', 'w', 'h'].every((k) => Number.isFinite(g[k]))) problems.push(`${where}.gridPos: want numbers x, y, w, h`);
    if (p.frames !== undefined && !Array.isArray(p.frames)) problems.push(`${where}.frames: not an array`);
    for (const [j, f] of (Array.isArray(p.frames) ? p.frames : []).entries()) {
      if (!f || typeof f !== 'object' || !f.schema || !Array.isArray(f.schema.fields)) problems.push(`${where}.frames[${j}]: not data-frame JSON ({schema: {fields}, data: {values}})`);
    }
    if (p.shown !== undefined && (typeof p.shown !== 'object' || p.shown === null)) problems.push(`${where}.shown: not an object`);
  }
  if (problems.length) throw new RenderError(`bad input:\n  ${problems.join('\n  ')}`, 2);
}

/** The page's height for a width, as page/main.jsx lays it out. */
export function pageHeight(input, width) {
  return gridLayout(input.panels, width - PAGE_PADDING * 2).height + HEADER_HEIGHT + PAGE_PADDING * 2;
}

function loadPuppeteer() {
  const req = createRequire(path.join(GRAFANA_DIR, 'package.json'));
  try {
    return req('puppeteer-core');
  } catch (e) {
    throw new RenderError(`puppeteer-core is not installed in ${GRAFANA_DIR}/node_modules: npm ci --prefix ${GRAFANA_DIR} (${e.message})`, 3);
  }
}

/**
 * Render an evaluated dashboard (object) to a PNG file. Returns the report object the CLI prints.
 * opts: { output, width=1600, chromium=/usr/bin/chromium, timeout=60000, rebuild=false }
 */
export async function renderDashboard(input, opts = {}) {
  const t0 = performance.now();
  const width = opts.width ?? 1600;
  const chromium = opts.chromium || process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
  const timeout = opts.timeout ?? 60000;
  const output = path.resolve(opts.output || 'out.png');
  if (!Number.isInteger(width) || width < 320 || width > 8192) throw new RenderError(`--width: want an integer from 320 to 8192, got ${opts.width}`, 2);
  validateInput(input);
  if (!fs.existsSync(chromium)) {
    throw new RenderError(`Chromium not found at ${chromium}: install it (apt-get install -y chromium) or pass --chromium PATH`, 3);
  }
  const unknown = [...new Set(input.panels.map((p) => p.type).filter((t) => !PANEL_TYPES.has(t)))];

  const bundle = await buildBundle({ force: !!opts.rebuild });
  const tBundle = performance.now();
  const height = pageHeight(input, width);
  const puppeteer = loadPuppeteer();
  const pageHtml = fs.readFileSync(path.join(HERE, 'render', 'page.html'));
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'genai-lens-chromium-'));
  const server = await startServer({ 'index.html': pageHtml, 'bundle.js': bundle.code, 'bundle.css': bundle.css, 'input.json': JSON.stringify(input) });
  let browser = null;
  const consoleErrors = [];
  const blocked = [];
  const timing = { bundleMs: Math.round(tBundle - t0), bundleCached: bundle.cached };
  try {
    const tLaunch = performance.now();
    try {
      browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        args: [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`, `--window-size=${width},${height}`],
        timeout: Math.min(30000, timeout),
        protocolTimeout: timeout,
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        defaultViewport: null,
      });
    } catch (e) {
      throw new RenderError(`Chromium (${chromium}) failed to start: ${e.message}`, 3);
    }
    timing.launchMs = Math.round(performance.now() - tLaunch);
    const tPage = performance.now();
    const page = await browser.newPage();
    await page.setViewport({ width, height, deviceScaleFactor: 1 });
    await page.emulateTimezone('UTC');
    await page.setRequestInterception(true);
    page.on('request', (req) => {
      const u = req.url();
      if (u.startsWith(server.url) || u.startsWith('data:') || u.startsWith('blob:')) req.continue();
      else {
        blocked.push(u);
        req.abort('blockedbyclient');
      }
    });
    page.on('console', (msg) => {
      const text = msg.text();
      // 404s are listed from the server's side.
      if (msg.type() === 'error' && !text.startsWith('Failed to load resource') && consoleErrors.length < 20) consoleErrors.push(text.slice(0, 500));
    });
    page.on('pageerror', (err) => {
      if (consoleErrors.length < 20) consoleErrors.push(`pageerror: ${String(err && err.message ? err.message : err).slice(0, 500)}`);
    });
    await page.evaluateOnNewDocument((w) => {
      window.__WIDTH__ = w;
    }, width);
    const left = () => Math.max(1000, timeout - (performance.now() - t0));
    try {
      await page.goto(server.url, { waitUntil: 'load', timeout: left() });
    } catch (e) {
      throw new RenderError(`the page did not load within the ${timeout} ms timeout (${e.message})`, 4);
    }
    const remaining = left();
    try {
      await page.waitForFunction('window.__rendered === true', { timeout: remaining, polling: 50 });
    } catch (e) {
      throw new RenderError(`the page did not finish drawing within ${Math.round(remaining)} ms (${e.message}); console: ${consoleErrors.join(' | ') || 'nothing'}`, 4);
    }
    // Icons (react-inlinesvg) arrive by fetch after the first paint.
    await page.waitForNetworkIdle({ idleTime: 100, timeout: 3000 }).catch(() => {});
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const report = await page.evaluate(() => window.__renderReport);
    timing.renderMs = Math.round(performance.now() - tPage);
    const fullHeight = Math.max(height, report.height || 0);
    if (fullHeight !== height) await page.setViewport({ width, height: fullHeight, deviceScaleFactor: 1 });
    const tShot = performance.now();
    fs.mkdirSync(path.dirname(output), { recursive: true });
    await withTimeout(page.screenshot({ path: output, type: 'png', fullPage: true, captureBeyondViewport: false }), timeout, 'the screenshot');
    timing.screenshotMs = Math.round(performance.now() - tShot);
    const innerText = await page.evaluate(() => document.body.innerText);
    const texts = innerText.split('\n').map((s) => s.trim()).filter(Boolean);
    const errors = [...report.errors];
    const warnings = [...new Set(report.warnings || [])];
    for (const p of input.panels) {
      for (const e of Array.isArray(p.errors) ? p.errors : []) warnings.push(`panel ${p.id} (${p.title ?? ''}): the evaluator reported: ${String(e).split('\n')[0]}`);
    }
    for (const t of unknown) warnings.push(`panel type ${t}: not supported, drawn as "Panel plugin not found"`);
    // React logs the errors its boundaries caught; those are in `errors` already.
    for (const c of new Set(consoleErrors)) if (!errors.some((e) => c.includes(e.message))) warnings.push(`console: ${c}`);
    for (const b of blocked) warnings.push(`blocked request: ${b}`);
    for (const r of server.requests) if (r.status === 404) warnings.push(`404: ${r.path}`);
    timing.totalMs = Math.round(performance.now() - t0);
    return {
      png: output,
      width,
      height: fullHeight,
      texts,
      errors,
      warnings,
      font: report.font,
      fonts: report.fonts,
      panels: report.panels.length,
      timing,
      bundle: { file: bundle.file, bytes: bundle.bytes, cached: bundle.cached, buildMs: bundle.ms },
    };
  } finally {
    if (browser) {
      const proc = browser.process();
      try {
        await withTimeout(browser.close(), 5000, 'closing Chromium');
      } catch {
        if (proc && proc.exitCode === null) proc.kill('SIGKILL');
      }
    }
    await server.close();
    for (let i = 0; i < 5; i++) {
      try {
        fs.rmSync(userDataDir, { recursive: true, force: true });
        break;
      } catch {
        await sleep(100);
      }
    }
  }
}

function parseArgs(argv) {
  const opts = {};
  const usage = 'usage: node render.mjs --input evaluated.json --output out.png [--width 1600] [--chromium /usr/bin/chromium] [--timeout 60000] [--rebuild]';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new RenderError(`${a}: missing value\n${usage}`, 2);
      return argv[++i];
    };
    if (a === '--input') opts.input = value();
    else if (a === '--output') opts.output = value();
    else if (a === '--width') opts.width = Number(value());
    else if (a === '--chromium') opts.chromium = value();
    else if (a === '--timeout') opts.timeout = Number(value());
    else if (a === '--rebuild') opts.rebuild = true;
    else if (a === '-h' || a === '--help') {
      console.log(usage);
      process.exit(0);
    } else throw new RenderError(`unknown argument ${a}\n${usage}`, 2);
  }
  if (!opts.input || !opts.output) throw new RenderError(`--input and --output are required\n${usage}`, 2);
  if (opts.timeout !== undefined && !(opts.timeout >= 1000)) throw new RenderError('--timeout: want milliseconds, at least 1000', 2);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let input;
  try {
    input = JSON.parse(fs.readFileSync(opts.input, 'utf8'));
  } catch (e) {
    throw new RenderError(`cannot read ${opts.input}: ${e.message}`, 2);
  }
  const result = await renderDashboard(input, opts);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (result.errors.length) {
    process.stderr.write(`render: ${result.errors.length} panel(s) failed: ${result.errors.map((e) => `${e.panel ?? 'page'}: ${e.message}`).join('; ')}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`render: ${e instanceof RenderError ? e.message : e && e.stack ? e.stack : e}\n`);
      process.exitCode = e instanceof RenderError ? e.code : 4;
    },
  );
}
