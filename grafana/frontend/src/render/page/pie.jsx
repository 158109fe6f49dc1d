// The pie chart panel. @grafana/ui has no pie chart (Grafana's piechart plugin draws its own with @visx,
// which is not among the published packages), so the donut is plain SVG here, with the plugin's geometry
// (public/app/plugins/panel/piechart/PieChart.tsx: 16 px margin, donut thickness max(r/3, 20), pad angle
// 0.005, a radial gradient per colour, slice stroke in the panel background). The layout and the legend
// are @grafana/ui's VizLayout and VizLegend, fed like PieChartPanel.tsx feeds them.

import tinycolor from 'tinycolor2';
import { FALLBACK_COLOR, formattedValueToString, getFieldDisplayValues } from '@grafana/data';
import { SeriesVisibilityChangeBehavior, VizLayout, VizLegend } from '@grafana/ui';

import { isEmpty, NoData } from './common.jsx';

const TAU = Math.PI * 2;

function pieLayout(width, height, pieType, margin = 16) {
  const size = Math.min(width, height);
  const outerRadius = Math.max(0, (size - margin * 2) / 2);
  const thickness = pieType === 'pie' ? outerRadius : Math.max(outerRadius / 3, 20);
  const innerRadius = Math.max(0, outerRadius - thickness);
  return { size, position: outerRadius + margin, outerRadius, innerRadius, gradientFromOffset: 1 - (outerRadius - innerRadius) / (outerRadius || 1) };
}

const pt = (r, a) => `${(r * Math.sin(a)).toFixed(3)},${(-r * Math.cos(a)).toFixed(3)}`;

/** An annular sector from angle a0 to a1 (radians clockwise from 12 o'clock), padded like d3's arc(). */
function arcPath(r0, r1, a0, a1, padAngle) {
  const da = a1 - a0;
  if (da >= TAU - 1e-6) {
    const outer = `M${pt(r1, 0)}A${r1},${r1},0,1,1,${pt(r1, Math.PI)}A${r1},${r1},0,1,1,${pt(r1, 0)}Z`;
    if (r0 <= 0) return outer;
    return `${outer}M${pt(r0, 0)}A${r0},${r0},0,1,0,${pt(r0, Math.PI)}A${r0},${r0},0,1,0,${pt(r0, 0)}Z`;
  }
  const ap = padAngle / 2;
  const rp = Math.sqrt(r0 * r0 + r1 * r1);
  let p1 = r1 > 0 ? Math.asin(Math.min(1, (rp / r1) * Math.sin(ap))) : 0;
  let p0 = r0 > 0 ? Math.asin(Math.min(1, (rp / r0) * Math.sin(ap))) : 0;
  if (2 * p1 > da) p1 = da / 2;
  if (2 * p0 > da) p0 = da / 2;
  const o0 = a0 + p1, o1 = a1 - p1, i0 = a0 + p0, i1 = a1 - p0;
  const largeOuter = o1 - o0 > Math.PI ? 1 : 0;
  const largeInner = i1 - i0 > Math.PI ? 1 : 0;
  let d = `M${pt(r1, o0)}A${r1},${r1},0,${largeOuter},1,${pt(r1, o1)}`;
  if (r0 > 0) d += `L${pt(r0, i1)}A${r0},${r0},0,${largeInner},0,${pt(r0, i0)}`;
  else d += 'L0,0';
  return `${d}Z`;
}

function Donut({ slices, width, height, pieType, theme, idPrefix }) {
  const layout = pieLayout(width, height, pieType);
  const visible = slices.filter((s) => Number.isFinite(s.numeric) && s.numeric > 0);
  const total = visible.reduce((acc, s) => acc + s.numeric, 0);
  const colors = [...new Set(visible.map((s) => s.color))];
  const gid = (c) => `${idPrefix}-${tinycolor(c).toHex()}`;
  const padAngle = 0.005;
  const k = total > 0 ? (TAU - padAngle * visible.length) / total : 0;
  let a = 0;
  const arcs = visible.map((s) => {
    const a0 = a;
    const a1 = a0 + s.numeric * k + padAngle;
    a = a1;
    return { s, d: arcPath(layout.innerRadius, layout.outerRadius, a0, visible.length === 1 ? TAU : a1, visible.length === 1 ? 0 : padAngle) };
  });
  return (
    <div style={{ width: '100%', height: '100%', display: 'flex', alignItems: 'center', justifyContent: 'center' }}>
      <svg width={layout.size} height={layout.size} style={{ overflow: 'visible' }} data-pie="true">
        <g transform={`translate(${layout.position},${layout.position})`}>
          <defs>
            {colors.map((c) => (
              <radialGradient key={c} id={gid(c)} gradientUnits="userSpaceOnUse" cx={0} cy={0} r={layout.outerRadius}>
                <stop offset={layout.gradientFromOffset} stopColor={tinycolor(c).darken(20 * (theme.isDark ? 1 : -0.7)).spin(4).toRgbString()} />
                <stop offset={1} stopColor={tinycolor(c).darken(10 * (theme.isDark ? 1 : -0.7)).spin(-4).toRgbString()} />
              </radialGradient>
            ))}
          </defs>
          {arcs.map(({ s, d }, i) => (
            <path key={i} d={d} fill={`url(#${gid(s.color)})`} stroke={theme.colors.background.primary} strokeWidth={1}>
              <title>{`${s.title}: ${s.formatted}`}</title>
            </path>
          ))}
        </g>
      </svg>
    </div>
  );
}

function slicesOf(panel, frames, theme, timeZone) {
  const shown = panel.shown && panel.shown.slices;
  const palette = theme.visualization.palette;
  if (shown && shown.length) {
    const numerics = shown.map((s) => (s.numeric === null || s.numeric === undefined ? NaN : Number(s.numeric)));
    const given = shown.map((s) => (typeof s.percent === 'number' ? s.percent : NaN));
    const givenSum = given.reduce((acc, p) => acc + (Number.isFinite(p) ? p : 0), 0);
    const fraction = given.some(Number.isFinite) && givenSum > 0 && givenSum <= 1.0001;
    const total = numerics.reduce((acc, n) => acc + (Number.isFinite(n) && n > 0 ? n : 0), 0);
    return shown.map((s, i) => {
      const numeric = numerics[i];
      let percent = Number.isFinite(given[i]) ? given[i] * (fraction ? 100 : 1) : total > 0 ? (numeric / total) * 100 : NaN;
      const color = s.color ? theme.visualization.getColorByName(s.color) : theme.visualization.getColorByName(palette[i % palette.length]);
      const display = { text: s.text == null ? '' : String(s.text), prefix: s.prefix || undefined, suffix: s.suffix || undefined, numeric };
      return {
        title: s.title ?? '', numeric, color: color || FALLBACK_COLOR, formatted: formattedValueToString(display),
        percentText: typeof s.percentText === 'string' ? s.percentText : Number.isFinite(percent) ? `${percent.toFixed(s.decimals ?? 0)}%` : '-',
      };
    });
  }
  if (!frames.length) return [];
  const values = getFieldDisplayValues({
    fieldConfig: { defaults: {}, overrides: [] }, reduceOptions: (panel.options && panel.options.reduceOptions) || { calcs: ['lastNotNull'] },
    replaceVariables: (s) => s, theme, data: frames, timeZone,
  }).filter((v) => v.view && v.view.dataFrame.length);
  const total = values.reduce((acc, v) => acc + (Number.isFinite(v.display.numeric) && v.display.numeric > 0 ? v.display.numeric : 0), 0);
  return values.map((v) => ({
    title: v.display.title ?? '', numeric: v.display.numeric, color: v.display.color ?? FALLBACK_COLOR, formatted: formattedValueToString(v.display),
    percentText: total > 0 ? `${((v.display.numeric / total) * 100).toFixed(v.field.decimals ?? 0)}%` : '-',
  }));
}

export function PieChartPanel({ panel, width, height, theme, frames, timeZone, noValue }) {
  const o = panel.options || {};
  const slices = slicesOf(panel, frames, theme, timeZone);
  // PieChartPanel draws PanelDataErrorView when no frame has rows, whatever getFieldDisplayValues made.
  if (!slices.length || isEmpty(panel)) {
    return <NoData message={noValue} theme={theme} />;
  }
  const legendOptions = { displayMode: 'list', showLegend: true, placement: 'right', calcs: [], values: ['percent'], ...(o.legend || {}) };
  let legend = null;
  if (legendOptions.showLegend !== false) {
    const valuesToShow = legendOptions.values || [];
    const items = [...slices]
      .sort((a, b) => (isNaN(a.numeric) ? 1 : isNaN(b.numeric) ? -1 : b.numeric - a.numeric))
      .map((s, idx) => ({
        label: s.title,
        color: s.color,
        yAxis: 1,
        disabled: false,
        getItemKey: () => `${s.title}${idx}`,
        getDisplayValues: () => {
          const out = [];
          if (valuesToShow.includes('value')) out.push({ numeric: s.numeric, text: s.formatted, title: 'Value' });
          if (valuesToShow.includes('percent')) out.push({ numeric: s.numeric, text: s.percentText, title: valuesToShow.length > 1 ? 'Percent' : '' });
          return out;
        },
      }));
    legend = (
      <VizLegend
        items={items}
        seriesVisibilityChangeBehavior={SeriesVisibilityChangeBehavior.Hide}
        placement={legendOptions.placement}
        displayMode={legendOptions.displayMode}
        readonly={true}
      />
    );
  }
  return (
    <VizLayout width={width} height={height} legend={legend}>
      {(vizWidth, vizHeight) => <Donut slices={slices} width={vizWidth} height={vizHeight} pieType={o.pieType || 'pie'} theme={theme} idPrefix={`pie-${panel.id}`} />}
    </VizLayout>
  );
}
