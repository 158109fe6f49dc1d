// Grafana's dashboard grid (public/app/core/constants.ts): 24 columns, rows of 30 px, 8 px margins, laid
// out by react-grid-layout with no container padding. Positions as react-grid-layout's
// calcGridItemPosition computes them.

export const GRID = { GRID_CELL_HEIGHT: 30, GRID_CELL_VMARGIN: 8, GRID_COLUMN_COUNT: 24 };

export function gridLayout(panels, width) {
  const { GRID_CELL_HEIGHT: rowHeight, GRID_CELL_VMARGIN: margin, GRID_COLUMN_COUNT: cols } = GRID;
  const colWidth = (width - margin * (cols - 1)) / cols;
  let bottom = 0;
  const boxes = panels.map((p) => {
    const g = p.gridPos;
    if (!g) return null;
    const x = Math.max(0, Math.min(cols, g.x ?? 0));
    const w = Math.max(1, Math.min(cols - x, g.w ?? 1));
    const y = Math.max(0, g.y ?? 0);
    const h = Math.max(1, g.h ?? 1);
    bottom = Math.max(bottom, y + h);
    return {
      left: Math.round((colWidth + margin) * x),
      top: Math.round((rowHeight + margin) * y),
      width: Math.round(colWidth * w + Math.max(0, w - 1) * margin),
      height: Math.round(rowHeight * h + Math.max(0, h - 1) * margin),
    };
  });
  return { boxes, height: bottom > 0 ? bottom * (rowHeight + margin) - margin : 0 };
}
