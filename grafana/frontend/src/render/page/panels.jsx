// One panel's body, by type, with @grafana/ui's components, the way Grafana 13.2's panel plugins call them:
//   stat       VizRepeater + BigValue       (the values are the evaluator's `shown.values`)
//   bargauge   VizRepeater + BarGauge       (shown.values for text and colour; field config and
//                                            min/max from the frames via getFieldDisplayValues)
//   table      TableNG (@grafana/ui/unstable, what Grafana 13's table panel draws), Table as fallback
//   timeseries TimeSeries (uPlot via UPlotChart + UPlotConfigBuilder, legend via PlotLegend/VizLegend)
//   piechart   VizLayout + VizLegend; the donut itself is SVG drawn here (./pie.jsx), because the pie
//              chart lives in Grafana's piechart plugin (on @visx), not in @grafana/ui.
// Frames come as data-frame JSON whose field configs are already the effective ones; each field's
// display processor, series index and range are rebuilt with applyFieldOverrides and no further
// defaults or overrides.

import { Component, useMemo } from 'react';
import {
  applyFieldOverrides,
  dataFrameFromJSON,
  dateTime,
  FALLBACK_COLOR,
  FieldConfigOptionsRegistry,
  FieldType,
  getDisplayValueAlignmentFactors,
  getFieldDisplayName,
  getFieldDisplayValues,
  VizOrientation,
} from '@grafana/data';
import { BarGauge, BigValue, Table, TimeSeries, VizRepeater } from '@grafana/ui';
import { TableNG } from '@grafana/ui/unstable';

import { isEmpty, NoData, noValueOf } from './common.jsx';
import { PieChartPanel } from './pie.jsx';

const NO_FIELD_CONFIG = { defaults: {}, overrides: [] };
const identity = (s) => s;

const DEFAULT_THRESHOLDS = { mode: 'absolute', steps: [{ value: -Infinity, color: 'green' }, { value: 80, color: 'red' }] };

// Grafana's timeseries plugin field defaults (defaultGraphConfig and the custom options' defaults),
// filled in only where the evaluated config leaves a key out.
const GRAPH_DEFAULTS = {
  drawStyle: 'line', lineInterpolation: 'linear', lineWidth: 1, fillOpacity: 0, gradientMode: 'none',
  barAlignment: 0, barWidthFactor: 0.6, showPoints: 'auto', pointSize: 5, spanNulls: false, insertNulls: false,
  showValues: false, axisPlacement: 'auto', axisLabel: '', axisColorMode: 'text', axisBorderShow: false,
  axisCenteredZero: false, axisGridShow: true, scaleDistribution: { type: 'linear' }, lineStyle: { fill: 'solid' },
  thresholdsStyle: { mode: 'off' }, hideFrom: { legend: false, tooltip: false, viz: false },
};

/** Default colour mode per panel type where the config has none (Grafana's standard option defaults). */
const COLOR_DEFAULTS = { timeseries: 'palette-classic', piechart: 'palette-classic' };

export function prepareFrames(panel, theme, timeZone) {
  const frames = (panel.frames || []).map((f) => dataFrameFromJSON(f));
  for (const frame of frames) {
    for (const field of frame.fields) {
      const config = (field.config = field.config || {});
      if (!config.color) config.color = { mode: COLOR_DEFAULTS[panel.type] || 'thresholds' };
      if (!config.thresholds) config.thresholds = DEFAULT_THRESHOLDS;
      if (panel.type === 'timeseries' && field.type !== FieldType.time) {
        const custom = (config.custom = { ...(config.custom || {}) });
        for (const [k, v] of Object.entries(GRAPH_DEFAULTS)) if (custom[k] === undefined) custom[k] = v;
        custom.stacking = { mode: 'none', group: 'A', ...(custom.stacking || {}) };
      }
    }
  }
  const prepared = applyFieldOverrides({
    data: frames,
    fieldConfig: NO_FIELD_CONFIG,
    fieldConfigRegistry: new FieldConfigOptionsRegistry(),
    replaceVariables: identity,
    theme,
    timeZone,
  });
  // Names as Grafana's panels show them (organize's renames, legends): getFieldDisplayName fills
  // field.state.displayName, which the table header and the legend read.
  for (const frame of prepared) for (const field of frame.fields) getFieldDisplayName(field, frame, prepared);
  return prepared;
}

/** The panel's own time range where the evaluator gives one (relative time, time shift), else the dashboard's. */
function timeRangeOf(input, panel) {
  const { from, to } = (panel && panel.timeRange) || input.timeRange || {};
  const f = dateTime(from ?? Date.now() - 6 * 3600e3);
  const t = dateTime(to ?? Date.now());
  return { from: f, to: t, raw: { from: f, to: t } };
}

function toDisplay(v, fallbackTitle) {
  const numeric = v.numeric === null || v.numeric === undefined || v.numeric === '' ? NaN : Number(v.numeric);
  return {
    text: v.text === null || v.text === undefined ? '' : String(v.text),
    numeric,
    prefix: v.prefix || undefined,
    suffix: v.suffix || undefined,
    color: v.color || FALLBACK_COLOR,
    title: v.title ?? fallbackTitle,
    percent: v.percent,
  };
}

// ---------------------------------------------------------------------------------------------- stat

function StatBody({ panel, width, height, theme, frames, timeZone }) {
  const o = panel.options || {};
  const shown = (panel.shown && panel.shown.values) || null;
  let values;
  if (shown && shown.length) {
    values = shown.map((v) => ({ display: toDisplay(v, panel.title) }));
  } else if (isEmpty(panel)) {
    values = [{ display: { text: noValueOf(panel), numeric: NaN, color: theme.colors.text.primary, title: panel.title } }];
  } else {
    values = getFieldDisplayValues({ fieldConfig: NO_FIELD_CONFIG, reduceOptions: o.reduceOptions || { calcs: ['lastNotNull'] }, replaceVariables: identity, theme, data: frames, timeZone });
  }
  let textMode = o.textMode || 'auto';
  if (textMode === 'auto' && !panel.title) textMode = 'value_and_name';
  return (
    <VizRepeater
      source={panel}
      getValues={() => values}
      getAlignmentFactors={getDisplayValueAlignmentFactors}
      renderValue={({ value, alignmentFactors, width: w, height: h, count }) => (
        <BigValue
          value={value.display}
          count={count}
          colorMode={o.colorMode || 'value'}
          graphMode={'none'}
          justifyMode={o.justifyMode || 'auto'}
          textMode={textMode}
          alignmentFactors={alignmentFactors}
          text={o.text}
          width={w}
          height={h}
          theme={theme}
          percentChangeColorMode={o.percentChangeColorMode}
          disableWideLayout={o.wideLayout === false}
        />
      )}
      width={width}
      height={height}
      itemSpacing={3}
      renderCounter={0}
      autoGrid={true}
      orientation={o.orientation || VizOrientation.Auto}
    />
  );
}

// ------------------------------------------------------------------------------------------ bargauge

function BarGaugeBody({ panel, width, height, theme, frames, timeZone }) {
  const o = panel.options || {};
  const computed = frames.length
    ? getFieldDisplayValues({ fieldConfig: NO_FIELD_CONFIG, reduceOptions: o.reduceOptions || { calcs: ['lastNotNull'] }, replaceVariables: identity, theme, data: frames, timeZone })
    : [];
  const shown = (panel.shown && panel.shown.values) || null;
  let values;
  if (shown && shown.length) {
    const byTitle = new Map(computed.map((c) => [c.display.title, c]));
    const numerics = shown.map((v) => Number(v.numeric)).filter((n) => Number.isFinite(n));
    const fallbackField = { min: Math.min(0, ...numerics), max: Math.max(1, ...numerics), thresholds: DEFAULT_THRESHOLDS };
    values = shown.map((v, i) => {
      const match = byTitle.get(v.title) || (computed.length === shown.length ? computed[i] : undefined);
      return { ...(match || {}), field: match ? match.field : fallbackField, display: toDisplay(v) };
    });
  } else if (computed.length && !isEmpty(panel)) {
    values = computed;
  } else {
    values = [{ field: { min: 0, max: 1 }, display: { text: noValueOf(panel), numeric: NaN, color: theme.colors.text.primary } }];
  }
  const spacing = o.displayMode === 'lcd' ? 2 : 10;
  return (
    <VizRepeater
      source={panel}
      getValues={() => values}
      getAlignmentFactors={getDisplayValueAlignmentFactors}
      renderValue={({ value, alignmentFactors, orientation, width: w, height: h, count }) => {
        const display = count === 1 && !(value.field && value.field.displayName) ? { ...value.display, title: undefined } : value.display;
        const processor = value.view && typeof value.colIndex === 'number' ? value.view.getFieldDisplayProcessor(value.colIndex) : undefined;
        return (
          <BarGauge
            value={display}
            width={w}
            height={h}
            orientation={orientation}
            field={value.field || {}}
            text={o.text}
            display={processor}
            theme={theme}
            itemSpacing={spacing}
            displayMode={o.displayMode || 'gradient'}
            alignmentFactors={count > 1 ? alignmentFactors : undefined}
            showUnfilled={o.showUnfilled !== false}
            valueDisplayMode={o.valueMode || 'color'}
            namePlacement={o.namePlacement || 'auto'}
            isOverflow={false}
          />
        );
      }}
      width={width}
      height={height}
      minVizWidth={o.minVizWidth ?? 8}
      minVizHeight={o.minVizHeight ?? 16}
      maxVizHeight={o.maxVizHeight ?? 300}
      itemSpacing={spacing}
      renderCounter={0}
      orientation={o.orientation || VizOrientation.Auto}
    />
  );
}

// --------------------------------------------------------------------------------------------- table

class TableNGOrLegacy extends Component {
  constructor(props) {
    super(props);
    this.state = { legacy: false };
  }
  static getDerivedStateFromError() {
    return { legacy: true };
  }
  componentDidCatch(error) {
    this.props.report.warnings.push(`panel ${this.props.panelId}: TableNG failed (${error && error.message}); drew the legacy Table`);
  }
  render() {
    const { frame, width, height, options: o, timeRange } = this.props;
    const common = {
      data: frame, width, height, noHeader: o.showHeader === false, showTypeIcons: !!o.showTypeIcons, resizable: false,
      cellHeight: o.cellHeight, timeRange, footerOptions: o.footer, enablePagination: !!(o.footer && o.footer.enablePagination),
    };
    if (this.state.legacy) return <Table {...common} initialSortBy={o.sortBy} />;
    return (
      <TableNG
        {...common}
        sortBy={o.sortBy}
        initialSortBy={o.sortBy}
        sortByBehavior="initial"
        fieldConfig={NO_FIELD_CONFIG}
        enableVirtualization={false}
        disableKeyboardEvents={true}
      />
    );
  }
}

function TableBody({ panel, width, height, theme, frames, input, report }) {
  const o = panel.options || {};
  const hasFields = frames.some((f) => f.fields.length > 0);
  if (!frames.length || !hasFields || isEmpty(panel)) return <NoData message={noValueOf(panel)} theme={theme} />;
  const idx = o.frameIndex > 0 && o.frameIndex < frames.length ? o.frameIndex : 0;
  return <TableNGOrLegacy frame={frames[idx]} width={width} height={height} options={o} timeRange={timeRangeOf(input, panel)} report={report} panelId={panel.id} />;
}

// ---------------------------------------------------------------------------------------- timeseries

function TimeSeriesBody({ panel, width, height, theme, frames, input, timeZone }) {
  const o = panel.options || {};
  const graphable = frames.filter((f) => f.fields.some((x) => x.type === FieldType.time) && f.fields.some((x) => x.type === FieldType.number) && f.length > 0);
  if (!graphable.length || isEmpty(panel)) return <NoData message={noValueOf(panel)} theme={theme} />;
  const legend = { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [], ...(o.legend || {}) };
  return <TimeSeries frames={graphable} width={width} height={height} timeRange={timeRangeOf(input, panel)} timeZone={timeZone} legend={legend} options={o} />;
}

// ------------------------------------------------------------------------------------------- dispatch

export function PanelBody({ panel, width, height, input, theme, report }) {
  const timeZone = input.timeZone || 'utc';
  const frames = useMemo(() => prepareFrames(panel, theme, timeZone), [panel, theme, timeZone]);
  const props = { panel, width, height, theme, frames, input, timeZone, report };
  switch (panel.type) {
    case 'stat':
      return <StatBody {...props} />;
    case 'bargauge':
      return <BarGaugeBody {...props} />;
    case 'table':
      return <TableBody {...props} />;
    case 'timeseries':
      return <TimeSeriesBody {...props} />;
    case 'piechart':
      return <PieChartPanel {...props} noValue={noValueOf(panel)} />;
    default:
      return <NoData message={`Panel plugin not found: ${panel.type}`} theme={theme} />;
  }
}

export class PanelErrorBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }
  static getDerivedStateFromError(error) {
    return { error };
  }
  componentDidCatch(error) {
    const { panel, report } = this.props;
    report.errors.push({ panel: panel.id, type: panel.type, title: panel.title, message: String((error && error.message) || error) });
  }
  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const { theme, panel } = this.props;
    return (
      <div
        data-panel-error="true"
        style={{
          boxSizing: 'border-box', width: '100%', height: '100%', overflow: 'hidden', padding: theme.spacing(1),
          border: `1px solid ${theme.colors.error.border}`, background: theme.colors.error.transparent, color: theme.colors.error.text,
          borderRadius: theme.shape.radius.default, fontSize: theme.typography.bodySmall.fontSize,
        }}
      >
        <div style={{ fontWeight: theme.typography.fontWeightMedium, marginBottom: 4 }}>Panel error ({panel.type})</div>
        <div style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{String((error && error.message) || error)}</div>
      </div>
    );
  }
}
