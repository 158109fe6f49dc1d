// The dashboard renderer (src/render.mjs) end to end: a small evaluated dashboard built here (frames
// by @grafana/data's toDataFrame + dataFrameToJSON), drawn by headless Chromium with @grafana/ui, the
// PNG decoded and checked, and the page's text checked against what the evaluator says is shown.
//
//   node --test grafana/frontend/test/render.test.mjs
//
// Skipped when /usr/bin/chromium is missing (apt-get install -y chromium).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { loadGrafana } from '../src/grafana.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '..', 'src', 'render.mjs');
const CHROMIUM = '/usr/bin/chromium';
const NO_CHROMIUM = !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing (apt-get install -y chromium)`;

const FROM = 1764547200000; // 2025-12-01T00:00:00Z
const DAY = 86400000;
const TO = FROM + 7 * DAY;

function sample() {
  const { data } = loadGrafana('13.2');
  const frame = (o) => data.dataFrameToJSON(data.toDataFrame(o));
  const days = Array.from({ length: 7 }, (_, i) => FROM + i * DAY);
  const bars = { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, stacking: { mode: 'normal', group: 'A' } };
  const series = (name, values) =>
    frame({
      refId: 'A',
      name,
      fields: [
        { name: 'Time', type: 'time', values: days },
        { name: 'Value', type: 'number', values, labels: { gen_ai_request_model: name }, config: { displayNameFromDS: name, unit: 'currencyUSD', color: { mode: 'palette-classic' }, custom: bars } },
      ],
    });
  const statOptions = { colorMode: 'none', graphMode: 'none', justifyMode: 'auto', orientation: 'auto', textMode: 'value', wideLayout: true, reduceOptions: { calcs: ['lastNotNull'], values: false } };
  return {
    grafana: '13.2.1',
    dashboard: { uid: 'render-test', title: 'render test' },
    timeRange: { from: FROM, to: TO },
    timeZone: 'utc',
    panels: [
      { id: 1, type: 'row', title: 'Overview', gridPos: { x: 0, y: 0, w: 24, h: 1 } },
      {
        id: 2, type: 'stat', title: 'Total cost', gridPos: { x: 0, y: 1, w: 6, h: 4 }, options: statOptions,
        frames: [frame({ refId: 'A', fields: [{ name: 'Time', type: 'time', values: [TO] }, { name: 'Value', type: 'number', values: [0.5213], config: { unit: 'currencyUSD', decimals: 2 } }] })],
        shown: { values: [{ title: 'Total cost', text: '0.52', prefix: '$', suffix: '', numeric: 0.5213, color: '#73BF69' }] },
      },
      {
        id: 3, type: 'bargauge', title: 'Share of spend', gridPos: { x: 6, y: 1, w: 18, h: 4 },
        options: { displayMode: 'basic', orientation: 'horizontal', showUnfilled: true, valueMode: 'color', namePlacement: 'auto', minVizHeight: 16, minVizWidth: 8, maxVizHeight: 300, reduceOptions: { calcs: ['lastNotNull'], values: false } },
        frames: [
          frame({ refId: 'A', fields: [{ name: 'Time', type: 'time', values: [TO] }, { name: 'gpt-4o', type: 'number', values: [0.8], config: { unit: 'percentunit', min: 0, max: 1 } }] }),
          frame({ refId: 'A', fields: [{ name: 'Time', type: 'time', values: [TO] }, { name: 'claude-3-5-sonnet', type: 'number', values: [0.2], config: { unit: 'percentunit', min: 0, max: 1 } }] }),
        ],
        shown: {
          values: [
            { title: 'gpt-4o', text: '80.0', prefix: '', suffix: '%', numeric: 0.8, color: '#73BF69' },
            { title: 'claude-3-5-sonnet', text: '20.0', prefix: '', suffix: '%', numeric: 0.2, color: '#73BF69' },
          ],
        },
      },
      {
        id: 4, type: 'timeseries', title: 'Model costs', gridPos: { x: 0, y: 5, w: 16, h: 9 },
        options: { legend: { calcs: ['sum'], displayMode: 'table', placement: 'right', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
        frames: [series('gpt-4o', [0.05, 0.08, 0.06, 0.09, 0.07, 0.1, 0.07]), series('claude-3-5-sonnet', [0.03, 0.02, 0.04, 0.03, 0.05, 0.02, 0.04])],
        shown: { series: [{ name: 'gpt-4o', legend: { sum: '$0.520' } }, { name: 'claude-3-5-sonnet', legend: { sum: '$0.230' } }] },
      },
      {
        id: 5, type: 'piechart', title: 'Spend by provider', gridPos: { x: 16, y: 5, w: 8, h: 9 },
        options: { pieType: 'donut', legend: { calcs: [], displayMode: 'table', placement: 'right', showLegend: true, values: ['value', 'percent'] }, reduceOptions: { calcs: ['lastNotNull'], values: false } },
        frames: [],
        shown: {
          slices: [
            { title: 'openai', text: '0.42', prefix: '$', suffix: '', numeric: 0.42, percent: 80.8, color: '#73BF69' },
            { title: 'anthropic', text: '0.10', prefix: '$', suffix: '', numeric: 0.1, percent: 19.2, color: '#F2CC0C' },
          ],
        },
      },
      {
        id: 6, type: 'table', title: 'Model distribution', gridPos: { x: 0, y: 14, w: 24, h: 6 },
        options: { cellHeight: 'sm', footer: { show: false, reducer: ['sum'] }, frameIndex: 0, showHeader: true, showTypeIcons: false, sortBy: [{ desc: true, displayName: 'Spend' }] },
        frames: [
          frame({
            refId: 'A',
            fields: [
              { name: 'Model', type: 'string', values: ['claude-3-5-sonnet', 'gpt-4o'], config: {} },
              { name: 'Spend', type: 'number', values: [0.07, 0.4513], config: { unit: 'currencyUSD' } },
            ],
          }),
        ],
        shown: { columns: ['Model', 'Spend'], rows: [['gpt-4o', '$0.451'], ['claude-3-5-sonnet', '$0.0700']] },
      },
    ],
  };
}

/** Decode an 8-bit, non-interlaced RGB or RGBA PNG: { width, height, colours (distinct count) }. */
function decodePng(buf) {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'PNG signature');
  let off = 8;
  let ihdr = null;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') ihdr = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], colorType: body[9], interlace: body[12] };
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  assert.ok(ihdr, 'IHDR');
  assert.equal(ihdr.depth, 8, 'bit depth');
  assert.equal(ihdr.interlace, 0, 'not interlaced');
  const bpp = { 2: 3, 6: 4 }[ihdr.colorType];
  assert.ok(bpp, `colour type ${ihdr.colorType}`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = ihdr.width * bpp;
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  const colours = new Set();
  for (let y = 0; y < ihdr.height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base];
    for (let i = 0; i < stride; i++) {
      const x = raw[base + 1 + i];
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let v;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      cur[i] = v & 0xff;
    }
    for (let i = 0; i < stride; i += bpp) colours.add((cur[i] << 16) | (cur[i + 1] << 8) | cur[i + 2]);
    cur.copy(prev);
  }
  return { width: ihdr.width, height: ihdr.height, colours: colours.size };
}

function runCli(args, timeout = 55000) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'render-test-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('renders the sample dashboard to a PNG with the evaluator\'s strings on the page', { skip: NO_CHROMIUM, timeout: 60000 }, async () => {
  const input = path.join(tmp, 'sample.json');
  const output = path.join(tmp, 'sample.png');
  fs.writeFileSync(input, JSON.stringify(sample()));
  const width = 1280;
  const r = await runCli(['--input', input, '--output', output, '--width', String(width)]);
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.errors, []);
  assert.equal(out.png, output);
  assert.equal(out.width, width);

  const png = decodePng(fs.readFileSync(output));
  assert.equal(png.width, width, 'PNG width is the requested width');
  assert.equal(png.height, out.height);
  // Rows y 0..20 of 38 px less the last margin, a 48 px header and 16 px padding top and bottom.
  assert.equal(png.height, 20 * 38 - 8 + 48 + 32);
  // A blank or single-colour page has a handful of colours; text, bars and a donut have hundreds.
  assert.ok(png.colours > 100, `distinct colours: ${png.colours}`);

  const texts = new Set(out.texts);
  for (const s of ['render test', 'Overview', 'Total cost', '$0.52', 'Share of spend', '80.0%', '20.0%', 'gpt-4o', 'claude-3-5-sonnet',
    'Model costs', '$0.520', '$0.230', 'Spend by provider', 'openai', 'anthropic', '$0.42', '81%', 'Model distribution', 'Model', 'Spend', '$0.451', '$0.0700']) {
    assert.ok(texts.has(s), `page text has ${JSON.stringify(s)}; got ${JSON.stringify(out.texts)}`);
  }
  // The table is sorted by Spend, descending, as the panel's sortBy says.
  const model = out.texts.indexOf('Model distribution');
  assert.ok(out.texts.indexOf('$0.451', model) < out.texts.indexOf('$0.0700', model), 'table sorted by Spend desc');
});

test('a panel that throws is drawn as an error box and reported; exit 1', { skip: NO_CHROMIUM, timeout: 60000 }, async () => {
  const input = path.join(tmp, 'broken.json');
  const output = path.join(tmp, 'broken.png');
  const dash = sample();
  dash.panels = dash.panels.slice(0, 2);
  dash.panels.push({ id: 9, type: 'table', title: 'Broken', gridPos: { x: 6, y: 1, w: 6, h: 4 }, frames: [{ schema: { fields: [{ name: 'a', type: 'number' }] }, data: { values: null } }] });
  fs.writeFileSync(input, JSON.stringify(dash));
  const r = await runCli(['--input', input, '--output', output, '--width', '800']);
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0].panel, 9);
  assert.match(r.stderr, /1 panel\(s\) failed/);
  assert.ok(out.texts.includes('Panel error (table)'));
  assert.ok(out.texts.includes('$0.52'), 'the other panels are still drawn');
  assert.equal(decodePng(fs.readFileSync(output)).width, 800);
});

test('bad input and a missing Chromium exit with a clear message', async () => {
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ panels: [{ id: 1, type: 'stat' }] }));
  let r = await runCli(['--input', bad, '--output', path.join(tmp, 'bad.png')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /input\.panels\[0\] \(id 1\)\.gridPos/);

  fs.writeFileSync(bad, '{ not json');
  r = await runCli(['--input', bad, '--output', path.join(tmp, 'bad.png')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read/);

  r = await runCli(['--output', path.join(tmp, 'bad.png')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--input and --output are required/);

  const good = path.join(tmp, 'good.json');
  fs.writeFileSync(good, JSON.stringify({ panels: [] }));
  r = await runCli(['--input', good, '--output', path.join(tmp, 'x.png'), '--chromium', path.join(tmp, 'no-such-chromium')]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /Chromium not found/);
});
