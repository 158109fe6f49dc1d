// Small pieces shared by the panel bodies.

/** What Grafana's PanelDataErrorView shows when a panel has nothing to draw. */
export function NoData({ message, theme }) {
  return (
    <div data-no-data="true" style={{ display: 'flex', alignItems: 'center', justifyContent: 'center', width: '100%', height: '100%' }}>
      <div style={{ textAlign: 'center', fontSize: theme.typography.size.lg, color: theme.colors.text.secondary, padding: theme.spacing(1) }}>{message}</div>
    </div>
  );
}


/** The evaluator's word that the panel shows its empty state: `shown.noValue`, or `noData` / `noValue`
 *  on the panel. */
export function isEmpty(panel) {
  return !!((panel.shown && panel.shown.noValue) || panel.noData === true || panel.noValue);
}

/** The panel's empty-state message: the evaluator's, else the fields' noValue, else Grafana's 'No data'. */
export function noValueOf(panel) {
  if (panel.shown && panel.shown.noValue) return panel.shown.noValue;
  if (panel.noValue) return panel.noValue;
  for (const f of panel.frames || []) for (const fld of (f.schema && f.schema.fields) || []) if (fld.config && fld.config.noValue) return fld.config.noValue;
  return 'No data';
}
