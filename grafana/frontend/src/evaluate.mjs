// Evaluate every panel of a dashboard as Grafana would show it, against a real Prometheus.
//
//   node grafana/frontend/src/evaluate.mjs --line 13.2 --input request.json [--output shown.json]
//
// request.json (or an array of such requests, answered by an array):
//   { "dashboard": {...dashboard JSON...}, "prometheusUrl": "http://127.0.0.1:9090",
//     "now": 1764547200000,                       // epoch ms that "now" means (Date.now is fixed to it)
//     "time": {"from": "now-7d", "to": "now"},    // default: the dashboard's time
//     "variables": {"model": ["gpt-4o"], "provider": "$__all", "granularity": "1d"},
//     "scrapeInterval": "15s",                    // the data source's jsonData.timeInterval
//     "width": 1600 }                             // dashboard width in px (maxDataPoints = panel width)
//
// What runs is Grafana's own code where its packages publish it, a port where they do not:
//   time range, panel time override  @grafana/data dateMath + rangeUtil.describeTextRange (own)
//   interval / maxDataPoints         @grafana/data rangeUtil.calculateInterval (own)
//   variable interpolation           templating.mjs (port of @grafana/scenes' sceneInterpolator) with
//                                    PrometheusDatasource.applyTemplateVariables + interpolateQueryExpr (own)
//   the query request                PrometheusDatasource.query -> DataSourceWithBackend.query (own), whose
//                                    /api/ds/query call is answered by backend.mjs (port of pkg/promlib)
//   response -> frames               toDataQueryResponse (own, @grafana/runtime) + transformV2 (own)
//   transformations                  @grafana/data transformDataFrame + standardTransformers (own)
//   field config and overrides       @grafana/data applyFieldOverrides (own) + fieldconfig.mjs (port)
//   stat / bar gauge / pie values    @grafana/data getFieldDisplayValues (own)
//   table cells, legends             getFieldDisplayName, reduceField, field.display (own); table sort: port
// The output is what the user sees, per panel (see `shown` below), plus the frames for the renderer.

import fs from 'node:fs';
import { parseArgs } from 'node:util';

import { parseQuery, framesFromResponse } from './backend.mjs';
import { fieldConfigRegistry, withPluginDefaults } from './fieldconfig.mjs';
import { loadGrafana } from './grafana.mjs';
import { dashboardVariables, interpolate } from './templating.mjs';

const GRID_COLUMNS = 24;

function iterPanels(dashboard) {
  const out = [];
  for (const panel of dashboard.panels ?? []) {
    out.push(panel);
    if (panel.type === 'row') out.push(...(panel.panels ?? []));
  }
  return out;
}

class TemplateSrv {
  // The part of Grafana's TemplateSrv (public/app/features/templating/template_srv.ts) the
  // Prometheus data source calls; replace() delegates to the Scenes interpolation port.
  constructor(variables) { this.variables = variables; }
  replace(target, scopedVars = {}, format) { return interpolate(target, this.variables, scopedVars, format); }
  getVariables() { return Object.values(this.variables); }
  containsTemplate(target) { return /\$\w+|\[\[\w+|\$\{\w+/.test(target ?? ''); }
  updateTimeRange() {}
  getAdhocFilters() { return []; }
}

async function prometheusGet(url, params) {
  const response = await fetch(`${url}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(30000) });
  const body = await response.json();
  return body;
}

/** A BackendSrv whose POST /api/ds/query is Grafana's promlib, ported (backend.mjs), over real HTTP. */
function backendSrv(g, { prometheusUrl, scrapeInterval, log }) {
  const { from } = g.require('rxjs');
  return {
    fetch(options) {
      return from((async () => {
        const body = options.data;
        const results = {};
        for (const query of body.queries) {
          const parsed = parseQuery({
            expr: query.expr, interval: query.interval ?? '', intervalFactor: query.intervalFactor,
            intervalMs: query.intervalMs, maxDataPoints: query.maxDataPoints, utcOffsetSec: query.utcOffsetSec ?? 0,
            instant: Boolean(query.instant), range: Boolean(query.range) || !query.instant,
            fromMs: Number(body.from), toMs: Number(body.to), scrapeInterval, line: g.line,
          });
          const api = parsed.rangeQuery ? '/api/v1/query_range' : '/api/v1/query';
          const params = parsed.rangeQuery
            ? { query: parsed.expr, start: parsed.start / 1000, end: parsed.end / 1000, step: parsed.stepMs / 1000 }
            : { query: parsed.expr, time: parsed.end / 1000 };
          const promBody = await prometheusGet(`${prometheusUrl}${api}`, params);
          log.push({ refId: query.refId, api, ...params });
          if (promBody.status !== 'success') {
            results[query.refId] = { status: 400, error: `${promBody.errorType}: ${promBody.error}`, frames: [] };
            continue;
          }
          const frames = framesFromResponse(promBody, {
            refId: query.refId, legendFormat: query.legendFormat, format: query.format, stepMs: parsed.stepMs,
            rangeQuery: parsed.rangeQuery, instantQuery: parsed.instantQuery, expr: parsed.expr, line: g.line,
          });
          results[query.refId] = { status: 200, frames };
        }
        return { data: { results }, status: 200, ok: true, statusText: 'OK', headers: {}, redirected: false, type: 'basic', url: options.url, config: options };
      })());
    },
  };
}

function datasource(g, settings, templateSrv) {
  const { PrometheusDatasource } = g.prometheus;
  const instanceSettings = {
    id: 1, uid: settings.uid, type: 'prometheus', name: 'Prometheus', access: 'proxy', url: '/api/datasources/proxy/uid/prometheus',
    jsonData: { timeInterval: settings.scrapeInterval, httpMethod: 'POST' },
    meta: { id: 'prometheus', name: 'Prometheus', type: 'datasource', info: {}, module: '', baseUrl: '' },
    readOnly: true,
  };
  const ds = new PrometheusDatasource(instanceSettings, templateSrv);
  return { ds, instanceSettings };
}

/** A frame as data-frame JSON with each field's effective config; NaN and infinities as JSON
 * entities (null in `values`, their indexes in `entities`), as Grafana's backend sends them. */
function framesJSON(d, frame) {
  const json = d.dataFrameToJSON(frame);
  json.schema.fields.forEach((field, i) => { field.config = frame.fields[i].config; });
  json.data.entities = json.data.values.map((values) => {
    const entities = {};
    values.forEach((v, i) => {
      if (typeof v !== 'number' || Number.isFinite(v)) return;
      const key = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : 'NegInf';
      (entities[key] ??= []).push(i);
      values[i] = null;
    });
    return Object.keys(entities).length ? entities : null;
  });
  return json;
}

function display(value) {
  return { text: value.text, prefix: value.prefix ?? '', suffix: value.suffix ?? '', numeric: value.numeric,
    title: value.title ?? '', color: value.color ?? '' };
}

function shownString(value) {
  return `${value.prefix ?? ''}${value.text}${value.suffix ?? ''}`;
}

/** What a stat, bar gauge or pie chart shows: Grafana's getFieldDisplayValues. */
function displayValues(g, panel, frames, context) {
  return g.data.getFieldDisplayValues({
    fieldConfig: panel.fieldConfig, reduceOptions: panel.options.reduceOptions, replaceVariables: context.replaceVariables,
    theme: context.theme, data: frames, timeZone: 'utc', fieldConfigRegistry: context.registry,
  }).map((v) => display(v.display));
}

function tableShown(g, frames, panel) {
  const d = g.data;
  if (!frames.length || !frames[0].length) return { columns: [], rows: [] };
  const frame = frames[0];
  const fields = frame.fields.filter((f) => !f.config?.custom?.hidden);
  const columns = fields.map((f) => d.getFieldDisplayName(f, frame, frames));
  let order = [...Array(frame.length).keys()];
  // Table sort by a column (public/app/plugins/panel/table: the react-table sort on the raw values).
  const sortBy = panel.options.sortBy?.[0];
  if (sortBy) {
    const i = columns.indexOf(sortBy.displayName);
    if (i >= 0) {
      const values = fields[i].values;
      order.sort((a, b) => {
        const x = values[a], y = values[b];
        const cmp = x === y ? 0 : x === null || x === undefined ? -1 : y === null || y === undefined ? 1 : x < y ? -1 : 1;
        return sortBy.desc ? -cmp : cmp;
      });
    }
  }
  const rows = order.map((r) => fields.map((f) => d.formattedValueToString(f.display(f.values[r]))));
  return { columns, rows };
}

function timeseriesShown(g, frames, panel) {
  const d = g.data;
  const calcs = panel.options.legend?.calcs ?? [];
  const series = [];
  for (const frame of frames) {
    const time = frame.fields.find((f) => f.type === d.FieldType.time);
    for (const field of frame.fields) {
      if (field.type !== d.FieldType.number || field.config?.custom?.hideFrom?.viz) continue;
      const reduced = d.reduceField({ field, reducers: calcs });
      const legend = Object.fromEntries(calcs.map((c) => [c, d.formattedValueToString(field.display(reduced[c]))]));
      series.push({
        name: d.getFieldDisplayName(field, frame, frames), refId: frame.refId,
        legend: field.config?.custom?.hideFrom?.legend ? null : legend,
        drawStyle: field.config.custom?.drawStyle, axisPlacement: field.config.custom?.axisPlacement,
        points: field.values.map((v, i) => [time ? time.values[i] : i, v, d.formattedValueToString(field.display(v))]),
      });
    }
  }
  return { series };
}

function pieShown(values) {
  // public/app/plugins/panel/piechart/PieChart.tsx: each slice's share of the sum of the slices.
  const total = values.reduce((s, v) => s + (Number.isFinite(v.numeric) ? v.numeric : 0), 0);
  return values.map((v) => ({ ...v, percent: total > 0 ? v.numeric / total : 0,
    percentText: `${(total > 0 ? (v.numeric / total) * 100 : 0).toFixed(0)}%` }));
}

function panelRange(g, panel, dashboardRange, replace) {
  const d = g.data;
  if (!panel.timeFrom) return dashboardRange;
  // public/app/features/dashboard-scene/scene/PanelTimeRange.tsx (and panel.ts applyPanelTimeOverrides)
  const info = d.rangeUtil.describeTextRange(replace(panel.timeFrom));
  return { from: d.dateMath.parse(info.from, false, 'utc'), to: d.dateMath.parse(info.to, true, 'utc'),
    raw: { from: info.from, to: info.to } };
}

async function evaluatePanel(g, panel, context) {
  const d = g.data;
  const { lastValueFrom } = g.require('rxjs');
  const { options, fieldConfig } = withPluginDefaults(panel);
  const full = { ...panel, options, fieldConfig };
  const range = panelRange(g, panel, context.range, (s) => context.templateSrv.replace(s));
  const width = Math.round((panel.gridPos?.w ?? GRID_COLUMNS) / GRID_COLUMNS * context.width);
  const maxDataPoints = panel.maxDataPoints ?? width;
  const minInterval = panel.interval ? context.templateSrv.replace(panel.interval) : context.ds.interval;
  const { interval, intervalMs } = d.rangeUtil.calculateInterval(range, maxDataPoints, minInterval);
  const scopedVars = {
    __interval: { text: interval, value: interval }, __interval_ms: { text: String(intervalMs), value: intervalMs },
    ...context.ds.getRangeScopedVars(range),
    __from: { text: String(range.from.valueOf()), value: range.from.valueOf() },
    __to: { text: String(range.to.valueOf()), value: range.to.valueOf() },
  };
  const targets = (panel.targets ?? []).filter((t) => !t.hide).map((t) => ({ ...t, datasource: { type: 'prometheus', uid: context.instanceSettings.uid } }));
  const request = {
    requestId: `panel-${panel.id}`, app: 'dashboard', range, interval, intervalMs, maxDataPoints, scopedVars, targets,
    timezone: 'utc', panelId: panel.id, dashboardUID: context.dashboard.uid, startTime: Date.now(), rangeRaw: range.raw,
  };
  const log = context.log;
  const start = log.length;
  const response = await lastValueFrom(context.ds.query(request));
  const errors = (response.errors ?? (response.error ? [response.error] : [])).map((e) => e.message ?? String(e));
  let frames = response.data ?? [];
  if (panel.transformations?.length) {
    frames = await lastValueFrom(d.transformDataFrame(panel.transformations, frames, { interpolate: (s) => context.templateSrv.replace(s) }));
  }
  const replaceVariables = (s) => context.templateSrv.replace(s, scopedVars);
  frames = d.applyFieldOverrides({
    data: frames, fieldConfig: full.fieldConfig, replaceVariables,
    theme: context.theme, timeZone: 'utc', fieldConfigRegistry: context.registry,
  });
  const ctx = { ...context, replaceVariables };
  let shown;
  if (panel.type === 'stat' || panel.type === 'bargauge' || panel.type === 'gauge') {
    const values = displayValues(g, full, frames, ctx);
    shown = { values, strings: values.map(shownString) };
  } else if (panel.type === 'piechart') {
    const slices = pieShown(displayValues(g, full, frames, ctx));
    shown = { slices, strings: slices.map(shownString) };
  } else if (panel.type === 'table') {
    shown = tableShown(g, frames, full);
  } else if (panel.type === 'timeseries') {
    shown = timeseriesShown(g, frames, full);
  } else {
    shown = {};
  }
  const noData = !frames.some((f) => f.length > 0);
  return {
    id: panel.id, type: panel.type, title: panel.title, gridPos: panel.gridPos, options, fieldConfig: full.fieldConfig,
    interval, intervalMs, maxDataPoints, timeRange: { from: range.from.valueOf(), to: range.to.valueOf() },
    queries: log.slice(start), errors, noData, noValue: noData ? (full.fieldConfig.defaults.noValue ?? 'No data') : undefined,
    frames: frames.map((f) => framesJSON(d, f)),
    shown,
  };
}

/** Evaluate every panel of `request.dashboard` with Grafana line `line` ('12.4' | '13.2'). */
export async function evaluateDashboard(line, request) {
  const now = request.now ?? Date.now();
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const g = loadGrafana(line);
    const d = g.data;
    const runtime = g.require('@grafana/runtime');
    const dashboard = request.dashboard;
    const variables = dashboardVariables(dashboard, request.variables ?? {});
    const templateSrv = new TemplateSrv(variables);
    const settings = { uid: 'prometheus', scrapeInterval: request.scrapeInterval ?? '15s' };
    const { ds, instanceSettings } = datasource(g, settings, templateSrv);
    const log = [];
    runtime.setBackendSrv(backendSrv(g, { prometheusUrl: request.prometheusUrl, scrapeInterval: settings.scrapeInterval, log }));
    runtime.setDataSourceSrv({
      getInstanceSettings: () => instanceSettings, get: async () => ds, getList: () => [instanceSettings],
      reload() {}, registerRuntimeDataSource() {},
    });
    runtime.setTemplateSrv(templateSrv);
    if (!d.standardTransformersRegistry.initialized) {
      // public/app/features/transformers/standardTransformers.ts registers @grafana/data's transformers.
      const byId = new Map(Object.values(d.standardTransformers).map((t) => [t.id, t]));  // one per id (aliases repeat)
      d.standardTransformersRegistry.setInit(() => [...byId.values()].map((t) => ({
        // 13.x loads transformers lazily (transformation: () => Promise<info>); 12.4 takes the info itself.
        id: t.id, aliasIds: t.aliasIds, name: t.name, description: t.description,
        transformation: g.line === '12.4' ? t : async () => t, editor: () => null })));
    }
    const time = request.time ?? dashboard.time ?? { from: 'now-6h', to: 'now' };
    const parse = (text, roundUp) => (typeof text === 'number' ? d.dateTime(text) : d.dateMath.parse(text, roundUp, 'utc'));
    const range = { from: parse(time.from, false), to: parse(time.to, true), raw: { from: time.from, to: time.to } };
    const context = {
      dashboard, templateSrv, ds, instanceSettings, range, log, width: request.width ?? 1600,
      theme: d.createTheme({ colors: { mode: 'dark' } }), registry: fieldConfigRegistry(g),
    };
    const panels = [];
    for (const panel of iterPanels(dashboard)) {
      if (panel.type === 'row') {
        panels.push({ id: panel.id, type: 'row', title: panel.title, gridPos: panel.gridPos });
        continue;
      }
      try {
        panels.push(await evaluatePanel(g, panel, context));
      } catch (error) {
        panels.push({ id: panel.id, type: panel.type, title: panel.title, gridPos: panel.gridPos, errors: [String(error?.stack ?? error)] });
      }
    }
    return {
      grafana: g.version, dashboard: { uid: dashboard.uid, title: dashboard.title }, timeZone: 'utc', now,
      timeRange: { from: range.from.valueOf(), to: range.to.valueOf() }, panels,
    };
  } finally {
    Date.now = realNow;
  }
}

async function main() {
  // stdout carries the JSON only: Grafana's libraries log (i18next's banner among them) to stderr.
  console.log = console.info = console.warn = (...args) => process.stderr.write(`${args.join(' ')}\n`);
  const { values } = parseArgs({ options: {
    line: { type: 'string', default: '13.2' }, input: { type: 'string' }, output: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help || !values.input) {
    process.stdout.write('usage: node evaluate.mjs --line 12.4|13.2 --input request.json [--output shown.json]\n'
      + 'Evaluates every panel of the request\'s dashboard against its Prometheus as Grafana would; see the header of this file.\n');
    process.exit(values.help ? 0 : 2);
  }
  const request = JSON.parse(fs.readFileSync(values.input === '-' ? 0 : values.input, 'utf8'));
  // An array of requests is evaluated in one process (Grafana's packages load once), answered by an array.
  const result = [];
  for (const one of Array.isArray(request) ? request : [request]) result.push(await evaluateDashboard(values.line, one));
  const text = JSON.stringify(Array.isArray(request) ? result : result[0], (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  if (values.output) fs.writeFileSync(values.output, text);
  else await new Promise((resolve) => process.stdout.write(text, resolve));
  process.exit(0);  // @grafana/runtime leaves timers behind
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => { process.stderr.write(`evaluate: ${error?.stack ?? error}\n`); process.exit(1); });
}
