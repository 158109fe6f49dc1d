// Dashboard-variable interpolation, as Grafana 12 and 13 dashboards (Scenes) do it.
//
//   const vars = dashboardVariables(dashboard, { model: ['gpt-4o'], provider: ALL });
//   interpolate('rate(x{m=~"$model"}[$__rate_interval])', vars, scopedVars, datasource.interpolateQueryExpr)
//
// A port of @grafana/scenes' sceneInterpolator.ts and formatRegistry.ts (the formats used here:
// raw, regex, glob, pipe, csv, text, queryparam, date, and a data source's own format function),
// with the variable model of Grafana's dashboard JSON: `current.value` ("$__all" for All),
// `allValue`, `multi`, `includeAll`. A custom format function (Prometheus passes its
// `interpolateQueryExpr`) gets `{ name, type, multi, includeAll }`, as Scenes gives it.

export const ALL = '$__all';

// public/app/features/variables/utils.ts and @grafana/scenes' variableRegex: $var, [[var:fmt]], ${var.path:fmt}
const VARIABLE_REGEX = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}/g;

/** The dashboard's variables with `values` ({name: string | string[] | ALL}) as their current values. */
export function dashboardVariables(dashboard, values = {}) {
  const variables = {};
  for (const v of dashboard.templating?.list ?? []) {
    const chosen = v.name in values ? values[v.name] : (v.current?.value ?? v.query ?? '');
    const isAll = chosen === ALL || (Array.isArray(chosen) && chosen.includes(ALL));
    const options = (v.options ?? []).map((o) => o.value).filter((x) => x !== ALL);
    variables[v.name] = {
      name: v.name, type: v.type, multi: Boolean(v.multi), includeAll: Boolean(v.includeAll),
      allValue: v.allValue, isAll, value: isAll ? options : chosen,
    };
  }
  return variables;
}

function dateFormat(value, args) {
  const ms = Number(value);
  if (args === 'seconds') return String(Math.floor(ms / 1000));
  if (args === 'iso' || !args) return new Date(ms).toISOString();
  return String(ms);
}

// @grafana/scenes formatRegistry.ts: the formats a dashboard query can name explicitly.
function applyFormat(value, format, variable) {
  const [id, ...rest] = format.split(':');
  const args = rest.join(':');
  const list = Array.isArray(value) ? value : [value];
  switch (id) {
    case 'raw': return Array.isArray(value) ? value.join(',') : String(value);
    case 'regex': {
      const escaped = list.map((v) => String(v).replace(/[\\^$*+?.()|[\]{}\/]/g, '\\$&'));
      return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
    }
    case 'pipe': return list.join('|');
    case 'csv': return list.join(',');
    case 'text': return variable?.isAll ? 'All' : list.join(' + ');
    case 'queryparam': {
      if (variable?.isAll) return `var-${variable.name}=${ALL}`;
      return list.map((v) => `var-${variable?.name}=${encodeURIComponent(v)}`).join('&');
    }
    case 'date': return dateFormat(value, args);
    case 'glob':
    default:
      return Array.isArray(value) ? (value.length > 1 ? `{${value.join(',')}}` : String(value[0] ?? '')) : String(value);
  }
}

function formatValue(value, format, variable) {
  if (value === null || value === undefined) return '';
  if (typeof format === 'function') {
    const info = { name: variable?.name, type: variable?.type, multi: variable?.multi, includeAll: variable?.includeAll };
    return format(value, info, (v) => applyFormat(v, 'glob', variable));
  }
  return applyFormat(value, format || 'glob', variable);
}

/**
 * Replace `$var`, `${var}`, `${var:fmt}`, `[[var]]` in `text`.
 *
 * `scopedVars` ({name: {value, text}}) win over dashboard variables (Grafana's $__range, $__interval,
 * $__from, $__to come this way). All with a custom `allValue` gives the allValue unformatted, unless
 * the format is text or queryparam (Scenes' CustomAllValue). An unknown name is left as it is.
 */
export function interpolate(text, variables, scopedVars = {}, format = undefined) {
  if (!text) return text ?? '';
  return String(text).replace(VARIABLE_REGEX, (match, var1, var2, fmt2, var3, fieldPath, fmt3) => {
    const name = var1 || var2 || var3;
    const fmt = fmt2 || fmt3 || format;
    if (name in scopedVars) {
      const scoped = scopedVars[name];
      if (fmt3 && fmt3.startsWith('date')) return dateFormat(scoped.value, fmt3.split(':').slice(1).join(':'));
      return formatValue(scoped.value, fmt, { name, type: 'system' });
    }
    const variable = variables[name];
    if (!variable) return match;
    if (variable.isAll && variable.allValue && fmt !== 'text' && fmt !== 'queryparam') return variable.allValue;
    return formatValue(variable.value, fmt, variable);
  });
}
