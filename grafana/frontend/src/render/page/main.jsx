// Browser entry: draws one evaluated dashboard (window.__INPUT__ or /input.json) with Grafana 13.2's
// @grafana/ui components, dark theme, panels placed by gridPos like Grafana's react-grid-layout.
// When layout and paint are done it sets window.__rendered = true and window.__renderReport
// ({ errors, panels }); the Node side (../../render.mjs) then takes the screenshot.

import { createRoot } from 'react-dom/client';
import { useLayoutEffect } from 'react';
import { createTheme, ThemeContext, EventBusSrv, DashboardCursorSync, dateTimeFormat } from '@grafana/data';
import { GlobalStyles, PanelChrome, PanelContextProvider } from '@grafana/ui';

import { PanelBody, PanelErrorBoundary } from './panels.jsx';
import { gridLayout, GRID } from './layout.js';

const theme = createTheme({ colors: { mode: 'dark' } });
const report = { errors: [], panels: [], warnings: [] };
window.__renderReport = report;
window.__rendered = false;

window.addEventListener('error', (e) => report.errors.push({ panel: null, message: `page: ${e.message}` }));
window.addEventListener('unhandledrejection', (e) => report.errors.push({ panel: null, message: `page: ${e.reason && e.reason.message ? e.reason.message : String(e.reason)}` }));

const PAGE_PADDING = 16;
const HEADER_HEIGHT = 48;

function formatRange(input) {
  const tz = input.timeZone || 'utc';
  const fmt = (ms) => dateTimeFormat(ms, { timeZone: tz, format: 'YYYY-MM-DD HH:mm:ss' });
  const { from, to } = input.timeRange || {};
  if (from == null || to == null) return '';
  return `${fmt(from)} to ${fmt(to)}${tz === 'utc' ? ' UTC' : ''}`;
}

function Chevron({ color, collapsed }) {
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" style={{ flex: 'none', transform: collapsed ? 'rotate(-90deg)' : undefined }} aria-hidden="true">
      <path fill={color} d="M17,9.17a1,1,0,0,0-1.41,0L12,12.71,8.46,9.17a1,1,0,0,0-1.41,0,1,1,0,0,0,0,1.42l4.24,4.24a1,1,0,0,0,1.42,0L17,10.59A1,1,0,0,0,17,9.17Z" />
    </svg>
  );
}

function ClockIcon({ color }) {
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" style={{ flex: 'none' }} aria-hidden="true">
      <path fill={color} d="M15.09814,12.63379,13,11.42285V7a1,1,0,0,0-2,0v5a.99985.99985,0,0,0,.5.86621l2.59814,1.5a1.00016,1.00016,0,1,0,1-1.73242ZM12,2A10,10,0,1,0,22,12,10.01114,10.01114,0,0,0,12,2Zm0,18a8,8,0,1,1,8-8A8.00917,8.00917,0,0,1,12,20Z" />
    </svg>
  );
}

/** A dashboard row: Grafana draws it as a chevron and the row title on one grid line, no panel box;
 *  a collapsed row points right and counts the panels it hides. */
function RowHeader({ panel, box }) {
  const hidden = panel.collapsed && Array.isArray(panel.panels) ? panel.panels.length : 0;
  return (
    <div
      data-panel-id={panel.id}
      data-panel-type="row"
      style={{
        position: 'absolute', left: box.left, top: box.top, width: box.width, height: box.height,
        display: 'flex', alignItems: 'center', gap: theme.spacing(1),
        color: theme.colors.text.primary, fontSize: theme.typography.h5.fontSize,
        fontWeight: theme.typography.fontWeightMedium, borderBottom: `1px solid ${theme.colors.border.weak}`,
      }}
    >
      <Chevron color={theme.colors.text.primary} collapsed={!!panel.collapsed} />
      <span>{panel.title || ''}</span>
      {hidden > 0 && (
        <span style={{ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize, fontWeight: theme.typography.fontWeightRegular }}>
          ({hidden} {hidden === 1 ? 'panel' : 'panels'})
        </span>
      )}
    </div>
  );
}

function Panel({ panel, box, input }) {
  // Errors the evaluator met for this panel (a failed query, say): Grafana shows them as the red
  // status icon in the panel header, with the panel drawn from whatever data there is.
  const evalErrors = Array.isArray(panel.errors) ? panel.errors.map((e) => String(e).split('\n')[0]) : [];
  return (
    <div data-panel-id={panel.id} data-panel-type={panel.type} style={{ position: 'absolute', left: box.left, top: box.top, width: box.width, height: box.height }}>
      <PanelChrome width={box.width} height={box.height} title={panel.title || ''} description={panel.description || undefined} statusMessage={evalErrors.length ? evalErrors.join('\n') : undefined} displayMode={panel.transparent ? 'transparent' : 'default'} hoverHeader={false}>
        {(innerWidth, innerHeight) => (
          <PanelErrorBoundary panel={panel} report={report} theme={theme}>
            <PanelBody panel={panel} width={innerWidth} height={innerHeight} input={input} theme={theme} report={report} />
          </PanelErrorBoundary>
        )}
      </PanelChrome>
    </div>
  );
}

function Dashboard({ input, width, onDone }) {
  const gridWidth = width - PAGE_PADDING * 2;
  const { boxes, height: gridHeight } = gridLayout(input.panels, gridWidth);
  useLayoutEffect(() => {
    onDone();
  }, []);
  const title = (input.dashboard && input.dashboard.title) || '';
  return (
    <div style={{ width, minHeight: gridHeight + HEADER_HEIGHT + PAGE_PADDING * 2, background: theme.colors.background.canvas, padding: PAGE_PADDING, boxSizing: 'border-box' }}>
      <div style={{ height: HEADER_HEIGHT - 8, marginBottom: 8, display: 'flex', alignItems: 'center', justifyContent: 'space-between', gap: 16 }}>
        <div style={{ fontSize: theme.typography.h4.fontSize, fontWeight: theme.typography.fontWeightMedium, color: theme.colors.text.primary, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
          {title}
        </div>
        <div
          style={{
            display: 'flex', alignItems: 'center', gap: 8, height: theme.spacing(theme.components.height.md), padding: theme.spacing(0, 1.5),
            border: `1px solid ${theme.colors.border.weak}`, borderRadius: theme.shape.radius.default, background: theme.colors.secondary.main,
            color: theme.colors.text.primary, fontSize: theme.typography.bodySmall.fontSize, whiteSpace: 'nowrap',
          }}
        >
          <ClockIcon color={theme.colors.text.primary} />
          <span>{formatRange(input)}</span>
        </div>
      </div>
      <div style={{ position: 'relative', width: gridWidth, height: gridHeight }}>
        {input.panels.map((panel, i) => {
          const box = boxes[i];
          if (!box) return null;
          if (panel.type === 'row') return <RowHeader key={`row-${panel.id}-${i}`} panel={panel} box={box} />;
          return <Panel key={`p-${panel.id}-${i}`} panel={panel} box={box} input={input} />;
        })}
      </div>
    </div>
  );
}

function Mounted({ onDone }) {
  useLayoutEffect(() => {
    onDone();
  }, []);
  return null;
}

const panelContext = { eventsScope: 'render', eventBus: new EventBusSrv(), sync: () => DashboardCursorSync.Off };

/** First drawn without the dashboard (input null) so GlobalStyles' @font-face rules exist and the fonts
 *  can load before anything measures text; then again with it. */
function App({ input, width, onDone }) {
  return (
    <ThemeContext.Provider value={theme}>
      <PanelContextProvider value={panelContext}>
        <GlobalStyles />
        {input ? <Dashboard input={input} width={width} onDone={onDone} /> : <Mounted onDone={onDone} />}
      </PanelContextProvider>
    </ThemeContext.Provider>
  );
}

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function loadFonts() {
  if (!document.fonts) return;
  // A font with no local copy is a 404 and rejects; the page then uses the theme's fallbacks.
  await Promise.race([Promise.allSettled(['400 14px Inter', '500 14px Inter'].map((f) => document.fonts.load(f))), sleep(3000)]);
  const loaded = [...document.fonts].filter((f) => f.status === 'loaded').map((f) => `${f.family.replace(/["']/g, '')} ${f.weight}`);
  report.fonts = [...new Set(loaded)];
  report.font = loaded.some((f) => f.startsWith('Inter ')) ? 'Inter' : 'fallback (Inter not found: system sans-serif)';
}

async function main() {
  const input = window.__INPUT__ || (await (await fetch('input.json')).json());
  const width = Number(window.__WIDTH__ || input.width || 1600);
  report.panels = input.panels.map((p) => ({ id: p.id, type: p.type, title: p.title }));
  const root = createRoot(document.getElementById('root'));
  await new Promise((resolve) => root.render(<App input={null} width={width} onDone={resolve} />));
  await loadFonts();
  await new Promise((resolve) => root.render(<App input={input} width={width} onDone={resolve} />));
  // Effects (uPlot creates its canvas in a layout effect and draws on it), then two frames of paint;
  // components that measure themselves (VizLayout legends, AutoSizer) settle within a few frames.
  for (let i = 0; i < 3; i++) await nextFrame();
  await sleep(50);
  for (let i = 0; i < 2; i++) await nextFrame();
  report.height = Math.ceil(document.documentElement.scrollHeight);
  report.grid = GRID;
  window.__rendered = true;
}

main().catch((e) => {
  report.errors.push({ panel: null, message: `page: ${e && e.stack ? e.stack : e}` });
  window.__rendered = true;
});
