// A small evaluated dashboard for developing and testing the renderer: one of each panel type our
// dashboards use, frames built with @grafana/data's toDataFrame + dataFrameToJSON (as the evaluator
// writes them: after transformations, with effective field configs), and `shown` as the evaluator
// reports it.
//
//   node grafana/frontend/src/render/sample.mjs > sample.json

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadGrafana } from '../grafana.mjs';

export const FROM = 1764547200000; // 2025-12-01T00:00:00Z
export const TO = 1765152000000; // 2025-12-08T00:00:00Z
const DAY = 86400000;

const palette = { gpt: '#73BF69', claude: '#F2CC0C', gemini: '#8AB8FF' };

export function makeSample() {
  const { data } = loadGrafana('13.2');
  const frame = (o) => data.dataFrameToJSON(data.toDataFrame(o));
  const days = Array.from({ length: 7 }, (_, i) => FROM + i * DAY);
  const costGpt = [0.05, 0.08, 0.06, 0.09, 0.07, 0.1, 0.0713];
  const costClaude = [0.03, 0.02, 0.04, 0.03, 0.05, 0.02, 0.04];
  const cumulative = days.map((_, i) => costGpt.slice(0, i + 1).reduce((a, b) => a + b, 0) + costClaude.slice(0, i + 1).reduce((a, b) => a + b, 0));
  const bars = { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, stacking: { mode: 'normal', group: 'A' } };
  const usd = { unit: 'currencyUSD', noValue: 'No data in range', color: { mode: 'palette-classic' } };
  const series = (refId, name, values, config) =>
    frame({
      refId,
      name,
      fields: [
        { name: 'Time', type: 'time', values: days, config: { interval: DAY } },
        { name: 'Value', type: 'number', values, labels: { gen_ai_request_model: name }, config: { displayNameFromDS: name, ...config } },
      ],
    });

  return {
    grafana: '13.2.1',
    dashboard: { uid: 'genai-lens-sample', title: 'genai-lens / renderer sample' },
    timeRange: { from: FROM, to: TO },
    timeZone: 'utc',
    panels: [
      { id: 1, type: 'row', title: 'Overview', gridPos: { x: 0, y: 0, w: 24, h: 1 } },
      {
        id: 2, type: 'stat', title: 'Total cost', gridPos: { x: 0, y: 1, w: 6, h: 4 },
        options: { colorMode: 'none', graphMode: 'none', justifyMode: 'auto', orientation: 'auto', textMode: 'value', wideLayout: true, showPercentChange: false, percentChangeColorMode: 'standard', reduceOptions: { calcs: ['lastNotNull'], values: false } },
        frames: [frame({ refId: 'A', fields: [{ name: 'Time', type: 'time', values: [TO] }, { name: 'Value', type: 'number', values: [0.5213], config: { unit: 'currencyUSD', decimals: 2 } }] })],
        shown: { values: [{ title: 'Total cost', text: '0.52', prefix: '$', suffix: '', numeric: 0.5213, color: '#73BF69' }] },
      },
      {
        id: 3, type: 'stat', title: 'Top model', gridPos: { x: 6, y: 1, w: 6, h: 4 },
        options: { colorMode: 'none', graphMode: 'none', justifyMode: 'auto', orientation: 'auto', textMode: 'value_and_name', wideLayout: true, reduceOptions: { calcs: ['lastNotNull'], values: false } },
        frames: [],
        shown: { values: [{ title: 'gpt-4o', text: '0.45', prefix: '$', suffix: '', numeric: 0.4513, color: '#73BF69' }] },
      },
      {
        id: 4, type: 'stat', title: 'Total tokens', gridPos: { x: 12, y: 1, w: 6, h: 4 },
        options: { colorMode: 'none', graphMode: 'none', justifyMode: 'auto', orientation: 'auto', textMode: 'value', wideLayout: true, reduceOptions: { calcs: ['lastNotNull'], values: false } },
        frames: [],
        shown: { values: [{ title: 'Total tokens', text: '1.25', prefix: '', suffix: ' Mil', numeric: 1250000, color: '#73BF69' }] },
      },
      {
        id: 5, type: 'bargauge', title: 'Share of spend per model', gridPos: { x: 18, y: 1, w: 6, h: 8 },
        options: { displayMode: 'basic', orientation: 'horizontal', showUnfilled: true, valueMode: 'color', namePlacement: 'auto', sizing: 'auto', minVizHeight: 16, minVizWidth: 8, maxVizHeight: 300, reduceOptions: { calcs: ['lastNotNull'], values: false }, legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] } },
        frames: [
          series('A', 'gpt-4o', [0.8656, 0.8656, 0.8656, 0.8656, 0.8656, 0.8656, 0.8656], { unit: 'percentunit', min: 0, max: 1, color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }] } }),
          series('A', 'claude-3-5-sonnet', [0.1344, 0.1344, 0.1344, 0.1344, 0.1344, 0.1344, 0.1344], { unit: 'percentunit', min: 0, max: 1, color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }] } }),
        ],
        shown: {
          values: [
            { title: 'gpt-4o', text: '86.6', prefix: '', suffix: '%', numeric: 0.8656, color: '#73BF69' },
            { title: 'claude-3-5-sonnet', text: '13.4', prefix: '', suffix: '%', numeric: 0.1344, color: '#73BF69' },
          ],
        },
      },
      {
        id: 6, type: 'timeseries', title: 'Model costs', gridPos: { x: 0, y: 5, w: 18, h: 9 },
        options: { legend: { calcs: ['sum'], displayMode: 'table', placement: 'right', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
        frames: [
          series('A', 'gpt-4o', costGpt, { ...usd, custom: bars }),
          series('A', 'claude-3-5-sonnet', costClaude, { ...usd, custom: bars }),
          series('B', 'Cumulative', cumulative, { ...usd, color: { mode: 'fixed', fixedColor: 'gray' }, custom: { drawStyle: 'line', fillOpacity: 0, lineWidth: 2, stacking: { mode: 'none', group: 'B' }, axisPlacement: 'right' } }),
        ],
        shown: {
          series: [
            { name: 'gpt-4o', legend: { sum: '$0.521' }, points: days.map((t, i) => [t, costGpt[i]]) },
            { name: 'claude-3-5-sonnet', legend: { sum: '$0.230' }, points: days.map((t, i) => [t, costClaude[i]]) },
            { name: 'Cumulative', legend: { sum: '$2.85' }, points: days.map((t, i) => [t, cumulative[i]]) },
          ],
        },
      },
      {
        id: 7, type: 'row', title: 'Cost details', gridPos: { x: 0, y: 14, w: 24, h: 1 },
      },
      {
        id: 8, type: 'table', title: 'Model distribution', gridPos: { x: 0, y: 15, w: 12, h: 8 },
        options: { cellHeight: 'sm', footer: { reducer: ['sum'], show: false }, frameIndex: 0, showHeader: true, showTypeIcons: false, sortBy: [{ desc: true, displayName: 'Spend' }] },
        frames: [
          frame({
            refId: 'A',
            fields: [
              { name: 'Model', type: 'string', values: ['claude-3-5-sonnet', 'gpt-4o', 'gemini-1.5-pro'], config: { unit: 'short', noValue: 'No data in range' } },
              { name: 'Share of spend', type: 'number', values: [0.1344, 0.8656, 0], config: { unit: 'percentunit', noValue: 'No data in range' } },
              { name: 'Spend', type: 'number', values: [0.07, 0.4513, 0], config: { unit: 'currencyUSD', noValue: 'No data in range' } },
            ],
          }),
        ],
        shown: { columns: ['Model', 'Share of spend', 'Spend'], rows: [['gpt-4o', '86.6%', '$0.451'], ['claude-3-5-sonnet', '13.4%', '$0.0700'], ['gemini-1.5-pro', '0%', '$0']] },
      },
      {
        id: 9, type: 'piechart', title: 'Model distribution chart', gridPos: { x: 12, y: 15, w: 12, h: 8 },
        options: { pieType: 'donut', legend: { calcs: [], displayMode: 'table', placement: 'right', showLegend: true, values: ['value', 'percent'] }, reduceOptions: { calcs: ['lastNotNull'], values: false }, tooltip: { mode: 'single', sort: 'asc' }, orientation: 'auto' },
        frames: [],
        shown: {
          slices: [
            { title: 'gpt-4o', text: '0.451', prefix: '$', suffix: '', numeric: 0.4513, percent: 86.6, color: palette.gpt },
            { title: 'claude-3-5-sonnet', text: '0.0700', prefix: '$', suffix: '', numeric: 0.07, percent: 13.4, color: palette.claude },
          ],
        },
      },
      {
        id: 10, type: 'timeseries', title: 'Spend rate vs yesterday', gridPos: { x: 0, y: 23, w: 12, h: 8 },
        options: { legend: { calcs: ['mean', 'max'], displayMode: 'table', placement: 'bottom', showLegend: true }, tooltip: { mode: 'single', sort: 'asc' } },
        frames: [
          series('A', 'Now', [0.01, 0.02, 0.015, 0.03, 0.025, 0.02, 0.018], { ...usd, custom: { drawStyle: 'line', fillOpacity: 10, lineWidth: 2 } }),
          series('B', 'Yesterday', [0.012, 0.018, 0.02, 0.022, 0.03, 0.015, 0.02], { ...usd, custom: { drawStyle: 'line', fillOpacity: 10, lineWidth: 2 } }),
        ],
        shown: { series: [{ name: 'Now', legend: { mean: '$0.0197', max: '$0.0300' } }, { name: 'Yesterday', legend: { mean: '$0.0196', max: '$0.0300' } }] },
      },
      {
        id: 11, type: 'piechart', title: 'Cost by provider share', gridPos: { x: 12, y: 23, w: 12, h: 8 },
        options: { pieType: 'donut', legend: { calcs: [], displayMode: 'table', placement: 'right', showLegend: true, values: ['value', 'percent'] }, reduceOptions: { calcs: ['lastNotNull'], values: false } },
        frames: [],
        shown: { slices: [], noValue: 'No data in range' },
      },
    ],
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(makeSample(), null, 1)}\n`);
}
