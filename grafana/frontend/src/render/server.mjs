// A static server on 127.0.0.1 (free port) for one render: the page, its bundle, the input, and the
// Inter / Roboto Mono fonts that @grafana/ui's GlobalStyles asks for under public/fonts/ where a copy
// is on this machine. Everything else is 404: the page never reaches beyond this server.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { NODE_MODULES } from './build.mjs';

// GlobalStyles' @font-face URLs (relative to the page) and where a local copy may be.
const FONT_CANDIDATES = {
  'public/fonts/inter/Inter-Regular.woff2': [
    path.join(NODE_MODULES, '@fontsource/inter/files/inter-latin-400-normal.woff2'),
    '/usr/share/fonts/opentype/inter/Inter-Regular.otf',
    '/usr/share/fonts/truetype/inter/Inter-Regular.ttf',
  ],
  'public/fonts/inter/Inter-Medium.woff2': [
    path.join(NODE_MODULES, '@fontsource/inter/files/inter-latin-500-normal.woff2'),
    '/usr/share/fonts/opentype/inter/Inter-Medium.otf',
    '/usr/share/fonts/truetype/inter/Inter-Medium.ttf',
  ],
  'public/fonts/inter/Inter-Italic.woff2': [
    path.join(NODE_MODULES, '@fontsource/inter/files/inter-latin-400-italic.woff2'),
    '/usr/share/fonts/opentype/inter/Inter-Italic.otf',
  ],
  'public/fonts/inter/Inter-MediumItalic.woff2': [
    path.join(NODE_MODULES, '@fontsource/inter/files/inter-latin-500-italic.woff2'),
    '/usr/share/fonts/opentype/inter/Inter-MediumItalic.otf',
  ],
  'public/fonts/roboto/L0xTDF4xlVMF-BfR8bXMIhJHg45mwgGEFl0_3vrtSM1J-gEPT5Ese6hmHSh0mQ.woff2': [
    path.join(NODE_MODULES, '@fontsource/roboto-mono/files/roboto-mono-latin-400-normal.woff2'),
    '/usr/share/fonts/truetype/roboto/mono/RobotoMono-Regular.ttf',
  ],
};

// @grafana/ui's Icon fetches SVGs from public/build/img/icons/unicons/ (not in the npm package). The few
// that dashboard panels show are drawn here (24x24 outline shapes); other icons stay blank (404).
const ICON = (d) => `<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24"><path d="${d}"/></svg>`;
export const ICONS = {
  'public/build/img/icons/unicons/arrow-down.svg': ICON('M17.7 11.3a1 1 0 0 0-1.4 0L13 14.6V7a1 1 0 0 0-2 0v7.6l-3.3-3.3a1 1 0 0 0-1.4 1.4l5 5a1 1 0 0 0 1.4 0l5-5a1 1 0 0 0 0-1.4Z'),
  'public/build/img/icons/unicons/arrow-up.svg': ICON('M17.7 11.3l-5-5a1 1 0 0 0-1.4 0l-5 5a1 1 0 0 0 1.4 1.4L11 9.4V17a1 1 0 0 0 2 0V9.4l3.3 3.3a1 1 0 0 0 1.4-1.4Z'),
  'public/build/img/icons/unicons/angle-down.svg': ICON('M17 9.2a1 1 0 0 0-1.4 0L12 12.7 8.5 9.2a1 1 0 0 0-1.4 1.4l4.2 4.2a1 1 0 0 0 1.4 0L17 10.6a1 1 0 0 0 0-1.4Z'),
  'public/build/img/icons/unicons/angle-right.svg': ICON('M14.8 11.3 10.6 7a1 1 0 1 0-1.4 1.4l3.5 3.6-3.5 3.5a1 1 0 0 0 0 1.4 1 1 0 0 0 .7.3 1 1 0 0 0 .7-.3l4.2-4.2a1 1 0 0 0 0-1.4Z'),
  'public/build/img/icons/unicons/exclamation-triangle.svg': ICON('M12 16a1 1 0 1 0 1 1 1 1 0 0 0-1-1Zm10.7 1.5-8-14a3 3 0 0 0-5.4 0l-8 14A3 3 0 0 0 3.9 22h16.2a3 3 0 0 0 2.6-4.5Zm-1.7 2a1 1 0 0 1-.9.5H3.9a1 1 0 0 1-.9-.5 1 1 0 0 1 0-1l8-14a1 1 0 0 1 1.8 0l8 14a1 1 0 0 1 .2 1ZM12 8a1 1 0 0 0-1 1v4a1 1 0 0 0 2 0V9a1 1 0 0 0-1-1Z'),
  'public/build/img/icons/unicons/info-circle.svg': ICON('M12 2a10 10 0 1 0 10 10A10 10 0 0 0 12 2Zm0 18a8 8 0 1 1 8-8 8 8 0 0 1-8 8Zm0-8.5a1 1 0 0 0-1 1v3a1 1 0 0 0 2 0v-3a1 1 0 0 0-1-1Zm0-4a1.3 1.3 0 1 0 1.3 1.3A1.3 1.3 0 0 0 12 7.5Z'),
};

const FONT_TYPES = { '.woff2': 'font/woff2', '.woff': 'font/woff', '.otf': 'font/otf', '.ttf': 'font/ttf' };

/** Which of GlobalStyles' fonts have a local file: { url: file }. */
export function localFonts() {
  const out = {};
  for (const [url, files] of Object.entries(FONT_CANDIDATES)) {
    const found = files.find((f) => fs.existsSync(f));
    if (found) out[url] = found;
  }
  return out;
}

/**
 * Start the server. files: { 'index.html': string|Buffer, 'bundle.js': ..., 'input.json': ... }.
 * Resolves to { url, port, close(), requests: [] } (requests lists every path asked for, with status).
 */
export function startServer(files) {
  const fonts = localFonts();
  const requests = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname).replace(/^\/+/, '');
    const key = p === '' ? 'index.html' : p;
    let body = null;
    let type = 'application/octet-stream';
    if (Object.prototype.hasOwnProperty.call(files, key)) {
      body = files[key];
      type = key.endsWith('.html') ? 'text/html; charset=utf-8' : key.endsWith('.js') ? 'text/javascript; charset=utf-8' : key.endsWith('.json') ? 'application/json' : key.endsWith('.css') ? 'text/css; charset=utf-8' : type;
    } else if (ICONS[key]) {
      body = ICONS[key];
      type = 'image/svg+xml';
    } else if (key === 'favicon.ico') {
      res.writeHead(204);
      res.end();
      requests.push({ path: '/favicon.ico', status: 204 });
      return;
    } else if (fonts[key]) {
      body = fs.readFileSync(fonts[key]);
      type = FONT_TYPES[path.extname(fonts[key])] || type;
    }
    requests.push({ path: `/${key}`, status: body === null ? 404 : 200 });
    if (body === null) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        port,
        url: `http://127.0.0.1:${port}/`,
        requests,
        fonts,
        close: () =>
          new Promise((done) => {
            const timer = setTimeout(done, 2000);
            server.closeAllConnections?.();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
          }),
      });
    });
  });
}
