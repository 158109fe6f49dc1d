// The field-config registry and the panel plugins' defaults that applyFieldOverrides needs.
//
//   const registry = fieldConfigRegistry(g);            // g = loadGrafana(line)
//   const { options, fieldConfig } = withPluginDefaults(panel);
//
// Grafana builds its registry in public/app/core/components/OptionsUI/registry.tsx
// (getAllStandardFieldConfigs) and adds each panel plugin's custom options (module.tsx,
// useFieldConfig). Neither is published on npm, so this is a port of the items that change what a
// panel shows: unit, decimals, min, max, displayName, noValue, color, thresholds, mappings, links,
// and the custom options our dashboards set. The process functions are @grafana/data's own.

// Defaults of the panel plugins' options and field config, from each plugin's panelcfg.gen.ts
// (public/app/plugins/panel/<type>/panelcfg.gen.ts) and module.tsx standardOptions defaults.
const REDUCE = { calcs: ['lastNotNull'], values: false, fields: '' };
const THRESHOLDS = { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 80 }] };
export const PLUGIN_DEFAULTS = {
  stat: {
    options: { reduceOptions: REDUCE, textMode: 'auto', colorMode: 'value', graphMode: 'area', justifyMode: 'auto',
      orientation: 'auto', wideLayout: true, showPercentChange: false, percentChangeColorMode: 'standard' },
    fieldConfig: { color: { mode: 'thresholds' }, thresholds: THRESHOLDS },
  },
  bargauge: {
    options: { reduceOptions: REDUCE, displayMode: 'gradient', orientation: 'auto', showUnfilled: true, valueMode: 'color',
      namePlacement: 'auto', sizing: 'auto', minVizWidth: 8, minVizHeight: 16, maxVizHeight: 300 },
    fieldConfig: { color: { mode: 'thresholds' }, thresholds: THRESHOLDS },
  },
  piechart: {
    options: { reduceOptions: REDUCE, pieType: 'pie', legend: { showLegend: true, displayMode: 'list', placement: 'right', values: [] },
      tooltip: { mode: 'single', sort: 'none' }, displayLabels: [] },
    fieldConfig: { color: { mode: 'palette-classic' } },
  },
  table: {
    options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false, fields: '' } },
    fieldConfig: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false }, color: { mode: 'thresholds' },
      thresholds: THRESHOLDS },
  },
  timeseries: {
    options: { legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] },
      tooltip: { mode: 'single', sort: 'none' } },
    fieldConfig: { color: { mode: 'palette-classic' }, thresholds: THRESHOLDS,
      custom: { drawStyle: 'line', lineInterpolation: 'linear', lineWidth: 1, fillOpacity: 0, showPoints: 'auto',
        pointSize: 5, stacking: { mode: 'none', group: 'A' }, axisPlacement: 'auto', spanNulls: false } },
  },
};

function merge(base, over) {
  if (Array.isArray(over) || typeof over !== 'object' || over === null) return over === undefined ? base : over;
  const out = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(over)) out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? merge(out[k], v) : v;
  return out;
}

/** The panel's options and fieldConfig with its plugin's defaults under what the dashboard sets. */
export function withPluginDefaults(panel) {
  const defaults = PLUGIN_DEFAULTS[panel.type] ?? { options: {}, fieldConfig: {} };
  return {
    options: merge(defaults.options, panel.options ?? {}),
    fieldConfig: {
      defaults: merge(defaults.fieldConfig, panel.fieldConfig?.defaults ?? {}),
      overrides: panel.fieldConfig?.overrides ?? [],
    },
  };
}

/** A FieldConfigOptionsRegistry with the standard items and the custom options of our panels. */
export function fieldConfigRegistry(g) {
  const d = g.data;
  const any = () => true;
  const numeric = (field) => field.type === d.FieldType.number;
  const std = (id, process, extra = {}) => ({ id, path: id, name: id, process, shouldApply: any, override: () => null,
    editor: () => null, ...extra });
  const items = [
    std('unit', d.unitOverrideProcessor, { shouldApply: numeric }),
    std('min', d.numberOverrideProcessor, { shouldApply: numeric }),
    std('max', d.numberOverrideProcessor, { shouldApply: numeric }),
    std('fieldMinMax', d.booleanOverrideProcessor, { shouldApply: numeric }),
    std('decimals', d.numberOverrideProcessor, { shouldApply: numeric }),
    std('displayName', d.displayNameOverrideProcessor),
    std('noValue', d.stringOverrideProcessor),
    std('color', d.identityOverrideProcessor),
    std('thresholds', d.thresholdsOverrideProcessor),
    std('mappings', d.valueMappingsOverrideProcessor),
    std('links', d.dataLinksOverrideProcessor),
    std('filterable', d.booleanOverrideProcessor),
  ];
  for (const name of ['drawStyle', 'lineWidth', 'fillOpacity', 'stacking', 'axisPlacement', 'align', 'cellOptions',
    'inspect', 'hidden', 'hideFrom', 'lineInterpolation', 'showPoints', 'pointSize', 'spanNulls', 'width',
    'barAlignment', 'axisSoftMin', 'axisSoftMax']) {
    items.push({ id: `custom.${name}`, path: name, name, isCustom: true, process: d.identityOverrideProcessor,
      shouldApply: any, override: () => null, editor: () => null });
  }
  return new d.FieldConfigOptionsRegistry(() => items);
}
