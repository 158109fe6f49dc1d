// The parts of Grafana's Prometheus data source that run in Go on the server, ported to plain JS
// (Node built-ins only), so the panel evaluator can build the same Prometheus requests and get the
// same data frames as /api/ds/query returns. Own code written from reading the Go sources below.
//
// Sources read (13.2 = grafana/grafana-prometheus-datasource, where promlib lives since Grafana 13;
// 12.4 = grafana/grafana pkg/promlib, the copy Grafana 12.4 builds in):
//   parseQuery, alignTimeRange       pkg/promlib/models/query.go (Parse, calculatePrometheusInterval,
//                                    calculateRateInterval, InterpolateVariables, isVariableInterval,
//                                    AlignTimeRange, Query.TimeRange)
//                                    13.2: grafana-prometheus-datasource@21759736c2fddd1cad228726d5b4d03535089492
//                                          and @e7dc2f34ade4dc09765e337a1f4e2ccc5b240fc1 (same logic)
//                                    12.4: grafana/grafana, the January 2026 version (find_string id 9922376608;
//                                          its commit is not shown), minus the "Min Step takes precedence"
//                                          override of PR #115941, which PR #116959 reverted on 2026-01-27,
//                                          four weeks before 12.4.0 (2026-02-24)
//                                    + pkg/promlib/intervalv2/intervalv2.go (Calculate, CalculateSafeInterval)
//                                          grafana/grafana@1e15b8001f5af462e1187516ea1c55f3ea9ef758
//                                    + pkg/promlib/client/client.go (QueryRange aligns, QueryInstant does not;
//                                          formatTime) grafana-prometheus-datasource@40a97b226f4f48888a632db380f3bd24d3461525,
//                                          grafana/grafana@e75b5e7dd36309964a1ec33494cc10c9fd2929d6 (same)
//   parseDurationMs, formatInterval, roundInterval
//                                    grafana-plugin-sdk-go backend/gtime/gtime.go
//                                          (ParseIntervalStringToTimeDuration, ParseDuration, FormatInterval,
//                                          GetIntervalFrom, RoundInterval) @b5f0a9708defc51b631a6d316481707854375c15
//                                    + Go's time.ParseDuration for everything that is not N[dwMy]
//   formatDuration                   Go's time.Duration.String (what $__rate_interval and "Step: " use)
//   dataResponseFromResponse, framesFromResponse
//                                    pkg/promlib/converter/prom.go (ReadPrometheusStyleResult)
//                                          13.2: grafana-prometheus-datasource@0e8fa5e125f81eed2143bb398e37dfd919c48293
//                                    pkg/promlib/querydata/response.go (parseResponse, addMetadataToMultiFrame,
//                                          getName, metricNameFromLabels, executedQueryString)
//                                          13.2: grafana-prometheus-datasource@0ae5497e85d7129065faff037001cdad2c17ac94
//                                          12.4: grafana/grafana@79378f21ea476af894c6812ec51cb5b3541d5ca4 (a version
//                                          after July 2025's calculatedMinStep; the commit date is not shown)
//                                    + grafana-plugin-sdk-go data/frame_json.go, data/frame_meta.go (the JSON shape)
//                                    checked against the goldens pkg/promlib/testdata/range_*.golden.jsonc
//                                    (grafana/grafana@79378f21…) and converter/testdata/prom-*-frame.jsonc
//                                    (grafana/grafana@3e9248b748cb1a54f54d92ea29b946b5afe20fe6)
//
// 12.4 vs 13.2: no difference found in step, macros, alignment or framing of a plain Prometheus
// response. The only one ported: a "stats" object inside data (Prometheus sends it only when asked
// with stats=…, which Grafana's client does not do): 12.4 replaces frame 0's meta.custom with
// {stats}; 13.2 merges it and adds meta.stats "Total queryable samples". `line` selects that.
//
// Not ported (known differences from Grafana):
//   - native histograms ("histogram"/"histograms", heatmap-cells frames), exemplars and their sampler,
//     Loki streams and the label/series array responses: framesFromResponse throws on them;
//   - scopes, ad hoc filters and group-by keys that Parse applies to the expression (the evaluator
//     passes none);
//   - 13.2's meta.stats from Mimir's Server-Timing header (no headers are given here);
//   - the query "timeout" parameter and HTTP method the client adds; error sources.
//   - The Go backend leaves schema.refId unset and the front-end's toDataQueryResponse fills it with
//     the response's refId; framesFromResponse writes that same refId into the schema directly.

const NS_PER_MS = 1_000_000n;
const SECOND = 1_000_000_000n;
const MINUTE = 60n * SECOND;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;
const JULIAN_YEAR = 31_557_600n * SECOND; // Duration(float64(day) * 365.25)
const SAFE_RESOLUTION = 11000n;
const DEFAULT_RESOLUTION = 1500n; // intervalv2.DefaultRes, used when maxDataPoints is 0
const LINES = ['12.4', '13.2'];

// ---------- durations (gtime + Go's time package) ----------

const GO_UNITS = {
  ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: NS_PER_MS, s: SECOND, m: MINUTE, h: HOUR,
};

// Go's time.ParseDuration, to nanoseconds (BigInt).
function goParseDuration(text) {
  const fail = (why) => { throw new Error(`time: ${why}`); };
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') fail(`invalid duration ${JSON.stringify(text)}`);
  let total = 0n;
  while (s !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = number[1];
    const frac = number[2] ?? '';
    if (whole === '' && frac === '') fail(`invalid duration ${JSON.stringify(text)}`);
    s = s.slice(number[0].length);
    const unitMatch = /^[^\d.]*/.exec(s)[0];
    if (unitMatch === '') fail(`missing unit in duration ${JSON.stringify(text)}`);
    const unit = GO_UNITS[unitMatch];
    if (unit === undefined) fail(`unknown unit ${JSON.stringify(unitMatch)} in duration ${JSON.stringify(text)}`);
    s = s.slice(unitMatch.length);
    let v = BigInt(whole || '0') * unit;
    if (frac !== '') {
      // Go adds int64(float64(fraction) * (float64(unit) / scale))
      v += BigInt(Math.trunc(Number(frac) * (Number(unit) / 10 ** frac.length)));
    }
    total += v;
  }
  return negative ? -total : total;
}

// gtime.ParseDuration: N followed by d, w, M or y is a calendar-free count; anything else is Go's.
function gtimeParseDuration(text) {
  const m = /^(\d+)([dwMy])$/.exec(text);
  if (!m) return goParseDuration(text);
  const n = BigInt(m[1]);
  const unit = { d: DAY, w: 7n * DAY, M: JULIAN_YEAR / 12n, y: JULIAN_YEAR }[m[2]];
  return n * unit;
}

// gtime.ParseIntervalStringToTimeDuration: drops one "<" and one ">", bare numbers are seconds.
function parseIntervalNs(text) {
  let s = String(text).replace('<', '').replace('>', '');
  if (/^\d+$/.test(s)) s += 's';
  return gtimeParseDuration(s);
}

/** Grafana's interval parsing (gtime.ParseIntervalStringToTimeDuration), in ms. Throws like Go errors. */
export function parseDurationMs(text) {
  return nsToMs(parseIntervalNs(text));
}

function nsToMs(ns) {
  return Number(ns) / 1e6;
}

function msToNs(ms) {
  return BigInt(Math.round(Number(ms) * 1e6));
}

// Go's fmtFrac: the fraction digits of v below 10^prec, trailing zeros dropped.
function fracDigits(v, prec) {
  const digits = String(v % 10n ** BigInt(prec)).padStart(prec, '0').replace(/0+$/, '');
  return digits === '' ? '' : `.${digits}`;
}

function goDurationString(ns) {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const u = ns < 0n ? -ns : ns;
  if (u < SECOND) {
    if (u < 1000n) return `${sign}${u}ns`;
    const prec = u < NS_PER_MS ? 3 : 6;
    const unit = u < NS_PER_MS ? 'µs' : 'ms';
    return `${sign}${u / 10n ** BigInt(prec)}${fracDigits(u, prec)}${unit}`;
  }
  const secs = u / SECOND;
  let out = `${secs % 60n}${fracDigits(u, 9)}s`;
  const mins = secs / 60n;
  if (mins > 0n) {
    out = `${mins % 60n}m${out}`;
    const hours = mins / 60n;
    if (hours > 0n) out = `${hours}h${out}`;
  }
  return sign + out;
}

/** Go's time.Duration.String() of a duration in ms: "1m0s", "2m15s", "24h0m0s", "1.5s", "500ms".
 *  This is how the backend writes $__rate_interval and the "Step: " of executedQueryString. */
export function formatDuration(ms) {
  return goDurationString(msToNs(ms));
}

function gtimeFormatInterval(ns) {
  const year = 365n * DAY;
  if (ns >= year) return `${ns / year}y`;
  if (ns >= DAY) return `${ns / DAY}d`;
  if (ns >= HOUR) return `${ns / HOUR}h`;
  if (ns >= MINUTE) return `${ns / MINUTE}m`;
  if (ns >= SECOND) return `${ns / SECOND}s`;
  if (ns >= NS_PER_MS) return `${ns / NS_PER_MS}ms`;
  return '1ms';
}

/** gtime.FormatInterval of a duration in ms ("1d", "2m", "15s", whole units, truncated): how $__interval is written. */
export function formatInterval(ms) {
  return gtimeFormatInterval(msToNs(ms));
}

// gtime.RoundInterval: [upper bound in ms, inclusive?, result in ms]
const ROUNDING = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000],
  [3500, 2000], [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000],
  [90000, 60000], [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000],
  [1500000, 1200000], [2700000, 1800000], [5400000, 3600000], [9000000, 7200000],
  [16200000, 10800000], [32400000, 21600000], [86400000, 43200000], [172800000, 86400000],
  [604800000, 86400000], [1814400000, 604800000],
];

function roundIntervalNs(ns) {
  for (const [upToMs, resultMs] of ROUNDING) {
    if (ns <= BigInt(upToMs) * NS_PER_MS) return BigInt(resultMs) * NS_PER_MS;
  }
  if (ns < 3628800000n * NS_PER_MS) return 2592000000n * NS_PER_MS; // 30d
  return 31536000000n * NS_PER_MS; // 1y
}

/** gtime.RoundInterval of a duration in ms. */
export function roundInterval(ms) {
  return nsToMs(roundIntervalNs(msToNs(ms)));
}

// ---------- query.go ----------

const VARIABLE_INTERVALS = [
  '$__interval', '${__interval}', '$__interval_ms', '${__interval_ms}',
  '$__rate_interval', '${__rate_interval}', '$__rate_interval_ms', '${__rate_interval_ms}',
];
const RATE_INTERVAL_VARIABLES = ['$__rate_interval', '${__rate_interval}', '$__rate_interval_ms', '${__rate_interval_ms}'];

// gtime.GetIntervalFrom(dsInterval, queryInterval, queryIntervalMS, 15s)
function getIntervalFrom(dsInterval, queryInterval, queryIntervalMs) {
  let interval = queryInterval === '0s' ? '' : queryInterval;
  if (interval === '' && queryIntervalMs !== 0) return msToNs(queryIntervalMs);
  if (interval === '' && dsInterval !== '') interval = dsInterval;
  if (interval === '') return 15n * SECOND;
  return parseIntervalNs(interval);
}

// calculateRateInterval: max(interval + scrape, 4 * scrape); scrape defaults to 15s, 0 if unparsable
function calculateRateInterval(queryIntervalNs, requestedMinStep) {
  const scrape = requestedMinStep === '' ? '15s' : requestedMinStep;
  let scrapeNs;
  try {
    scrapeNs = parseIntervalNs(scrape);
  } catch {
    return 0n;
  }
  const a = queryIntervalNs + scrapeNs;
  const b = 4n * scrapeNs;
  return a > b ? a : b;
}

/** AlignTimeRange: floor((t + offset) / step) * step - offset, in float64 as Go computes it.
 *  t and step in ms, offset in seconds (utcOffsetSec). Returns the aligned time in ns (a float). */
function alignNs(tMs, stepNs, offsetSec) {
  const offsetNano = Number(offsetSec) * 1e9;
  const stepNano = Number(stepNs);
  return Math.trunc(Math.floor((Number(tMs) * 1e6 + offsetNano) / stepNano) * stepNano - offsetNano);
}

/** models.AlignTimeRange on epoch ms: rounds down to a multiple of the step since the epoch,
 *  shifted by utcOffsetSec (the front-end's utcOffset of the dashboard time zone, in seconds). */
export function alignTimeRange(tMs, stepMs, utcOffsetSec = 0) {
  return alignNs(tMs, msToNs(stepMs), utcOffsetSec) / 1e6;
}

// client.go formatTime: float64(t.Unix()) + float64(t.Nanosecond())/1e9, printed 'f', -1
function formatTimeParam(ns) {
  const big = BigInt(ns);
  let sec = big / SECOND;
  let nsec = big % SECOND;
  if (nsec < 0n) { sec -= 1n; nsec += SECOND; }
  return String(Number(sec) + Number(nsec) / 1e9);
}

function formatStepParam(stepNs) {
  return String(Number(stepNs / SECOND) + Number(stepNs % SECOND) / 1e9);
}

/**
 * Port of models.Parse (+ intervalv2 and the client): what Grafana's backend sends to Prometheus
 * for one Prometheus query of a /api/ds/query request.
 *
 * @param {object} q
 * @param {string} q.expr            expression after the front-end's variable substitution; $__interval,
 *                                   $__interval_ms, $__rate_interval(_ms), $__range(_s|_ms), also ${…}, are replaced here
 * @param {string} [q.interval]      the target's "Min step" after substitution ("1d", "30s", "$__rate_interval", "")
 * @param {number} [q.intervalFactor] deprecated resolution factor; 0/undefined -> 1
 * @param {number} [q.intervalMs]    the request's intervalMs (query.Interval and the model's intervalMs);
 *                                   when undefined the model has none (0) and query.Interval is Grafana's default 1000
 * @param {number} [q.maxDataPoints] the request's maxDataPoints; undefined -> 100 (Grafana's server default),
 *                                   0 -> the calculator's 1500
 * @param {boolean} [q.instant]
 * @param {boolean} [q.range]        neither instant nor range -> range
 * @param {number} q.fromMs
 * @param {number} q.toMs
 * @param {string} [q.scrapeInterval] the data source's jsonData.timeInterval ("15s", "")
 * @param {number} [q.utcOffsetSec]  the target's utcOffsetSec as the front-end sends it (0 for UTC)
 * @param {string} [q.line]          '12.4' | '13.2' (no difference in this function)
 * @returns {{expr: string, stepMs: number, start: number, end: number, time: number,
 *   rangeQuery: boolean, instantQuery: boolean, intervalText: string, rateIntervalMs: number,
 *   executedQueryString: string,
 *   params: {range?: {query: string, start: string, end: string, step: string}, instant?: {query: string, time: string}}}}
 *   start/end: the aligned /api/v1/query_range bounds in ms (for an instant-only query both are toMs);
 *   time: the /api/v1/query evaluation time in ms (toMs, never aligned);
 *   params: the request parameters exactly as the Go client formats them (seconds).
 */
export function parseQuery({
  expr = '', interval = '', intervalFactor, intervalMs, maxDataPoints, instant = false, range = false,
  fromMs, toMs, scrapeInterval = '', utcOffsetSec = 0, line = '13.2',
}) {
  if (!LINES.includes(line)) throw new Error(`unknown Grafana line ${line}`);
  const from = msToNs(fromMs);
  const to = msToNs(toMs);
  const timeRange = to - from;
  const minStep = interval ?? '';
  const dsScrape = scrapeInterval ?? '';
  // the model's intervalMs and the request's query.Interval, both read as whole ms (int64) by Go
  const modelIntervalMs = Math.trunc(intervalMs ?? 0);
  const queryIntervalNs = msToNs(Math.trunc(intervalMs ?? 1000));
  const resolution = maxDataPoints === undefined || maxDataPoints === null ? 100n : BigInt(Math.trunc(maxDataPoints));

  // calculatePrometheusInterval
  const queryInterval = VARIABLE_INTERVALS.includes(minStep) ? '' : minStep;
  const minInterval = getIntervalFrom(dsScrape, queryInterval, modelIntervalMs);
  const rawInterval = timeRange / (resolution === 0n ? DEFAULT_RESOLUTION : resolution);
  const calculated = rawInterval < minInterval ? minInterval : roundIntervalNs(rawInterval);
  const safe = roundIntervalNs(timeRange / SAFE_RESOLUTION);
  const adjusted = calculated > safe ? calculated : safe;
  let step;
  if (RATE_INTERVAL_VARIABLES.includes(minStep)) {
    step = calculateRateInterval(adjusted, dsScrape);
  } else {
    step = adjusted * BigInt(Math.trunc(intervalFactor || 0) || 1);
  }

  // InterpolateVariables
  const rangeMs = timeRange / NS_PER_MS;
  const rangeS = String(Math.round(Number(rangeMs) / 1000));
  let rateInterval;
  if (minStep === '$__rate_interval' || minStep === '${__rate_interval}') {
    rateInterval = step;
  } else {
    let requested = minStep;
    if (requested === '$__interval' || requested === '${__interval}') requested = goDurationString(step);
    if (requested === '') requested = dsScrape;
    rateInterval = calculateRateInterval(queryIntervalNs, requested);
  }
  const replacements = [
    ['__interval_ms', String(step / NS_PER_MS)],
    ['__interval', gtimeFormatInterval(step)],
    ['__range_ms', String(rangeMs)],
    ['__range_s', rangeS],
    ['__range', `${rangeS}s`],
    ['__rate_interval_ms', String(rateInterval / NS_PER_MS)],
    ['__rate_interval', goDurationString(rateInterval)],
  ];
  let out = expr;
  for (const [name, value] of replacements) {
    out = out.split(`$${name}`).join(value).split(`\${${name}}`).join(value);
  }

  const rangeQuery = Boolean(range) || !instant;
  const instantQuery = Boolean(instant);
  const result = {
    expr: out,
    stepMs: nsToMs(step),
    start: Number(toMs),
    end: Number(toMs),
    time: Number(toMs),
    rangeQuery,
    instantQuery,
    intervalText: gtimeFormatInterval(step),
    rateIntervalMs: nsToMs(rateInterval),
    executedQueryString: `Expr: ${out}\nStep: ${goDurationString(step)}`,
    params: {},
  };
  if (rangeQuery) {
    // Query.TimeRange(): both ends rounded down to the step (a step <= 0 would divide by zero in Go too)
    const startNs = step > 0n ? alignNs(fromMs, step, utcOffsetSec) : Number(from);
    const endNs = step > 0n ? alignNs(toMs, step, utcOffsetSec) : Number(to);
    result.start = startNs / 1e6;
    result.end = endNs / 1e6;
    result.params.range = { query: out, start: formatTimeParam(startNs), end: formatTimeParam(endNs), step: formatStepParam(step) };
  }
  if (instantQuery) {
    // QueryInstant uses q.End as it is: the end of the dashboard range, not aligned to the step
    result.params.instant = { query: out, time: formatTimeParam(to) };
  }
  return result;
}

// ---------- converter/prom.go + querydata/response.go ----------

function byteCompare(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sortedObject(obj) {
  const out = {};
  for (const key of Object.keys(obj).sort(byteCompare)) out[key] = obj[key];
  return out;
}

// strconv.ParseFloat for the sample strings Prometheus writes
function parseSampleValue(s) {
  if (typeof s !== 'string') throw new Error(`expected a string sample value, got ${JSON.stringify(s)}`);
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s[0] === '-' ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) {
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  return Number(s);
}

// timeFromFloat: time.UnixMilli(int64(fv * 1000.0))
function timeFromFloat(t) {
  return Math.trunc(Number(t) * 1000);
}

function readTimeValuePair(pair) {
  if (!Array.isArray(pair) || pair.length !== 2) throw new Error('expected a [time, "value"] pair');
  return [timeFromFloat(pair[0]), parseSampleValue(pair[1])];
}

function newFrame(name, fields, meta) {
  return { name, fields, meta };
}

function timeField(values) {
  return { name: 'Time', type: 'time', typeInfo: { frame: 'time.Time' }, values };
}

function numberField(values, labels) {
  return { name: 'Value', type: 'number', typeInfo: { frame: 'float64' }, labels, values };
}

// readMatrixOrVectorMulti: one frame per series
function readMatrixOrVector(result, resultType) {
  if (!Array.isArray(result)) throw new Error(`expected an array result for ${resultType}`);
  return result.map((series) => {
    if ('histogram' in series || 'histograms' in series) {
      throw new Error('native histograms (heatmap-cells frames) are not ported');
    }
    const times = [];
    const values = [];
    const pairs = 'values' in series ? series.values : ('value' in series ? [series.value] : []);
    for (const pair of pairs) {
      const [t, v] = readTimeValuePair(pair);
      times.push(t);
      values.push(v);
    }
    const labels = series.metric ? { ...series.metric } : {};
    return newFrame('', [timeField(times), numberField(values, labels)], {
      type: resultType === 'vector' ? 'numeric-multi' : 'timeseries-multi',
      typeVersion: [0, 1],
      custom: { resultType },
    });
  });
}

// ReadPrometheusStyleResult -> { frames, error }
function readPrometheusStyleResult(body, line) {
  const result = { frames: [], error: undefined };
  const data = body.data;
  if (data !== undefined) {
    if (Array.isArray(data)) throw new Error('label/series array responses are not ported');
    if (data === null || typeof data !== 'object') return { frames: [], error: 'expected object type' };
    if (!('resultType' in data)) return { frames: [], error: 'no resultType found' };
    const rt = data.resultType;
    if (rt === 'matrix' || rt === 'vector') {
      result.frames = readMatrixOrVector(data.result, rt);
    } else if (rt === 'scalar') {
      const [t, v] = readTimeValuePair(data.result);
      result.frames = [newFrame('', [timeField([t]), numberField([v], {})], {
        type: 'numeric-multi', typeVersion: [0, 1], custom: { resultType: 'scalar' },
      })];
    } else if (rt === 'string') {
      const [t, v] = [timeFromFloat(data.result[0]), String(data.result[1])];
      result.frames = [newFrame('', [timeField([t]), {
        name: 'Value', type: 'string', typeInfo: { frame: 'string' }, labels: {}, values: [v],
      }], { type: 'timeseries-multi', custom: { resultType: 'string' } })];
    } else if (rt === 'streams') {
      throw new Error('Loki streams are not ported');
    } else {
      return { frames: [], error: `unknown result type: ${rt}` };
    }
    if ('stats' in data) {
      if (line === '12.4') {
        if (result.frames.length > 0) result.frames[0].meta.custom = { stats: data.stats };
      } else {
        if (result.frames.length === 0) result.frames.push(newFrame('Query statistics', [], {}));
        const meta = result.frames[0].meta;
        meta.custom = { ...(meta.custom || {}), stats: data.stats };
        const total = data.stats?.samples?.totalQueryableSamples;
        if (typeof total === 'number') {
          meta.stats = [...(meta.stats || []), { displayName: 'Total queryable samples', value: total }];
        }
      }
    }
  }
  if (body.status === 'error') {
    return { frames: [], error: `${body.errorType ?? ''}: ${body.error ?? ''}` };
  }
  const notices = [];
  for (const [key, severity] of [['warnings', 'warning'], ['infos', 'info']]) {
    for (const text of Array.isArray(body[key]) ? body[key] : []) {
      if (typeof text === 'string') notices.push({ severity, text });
    }
  }
  if (notices.length > 0) {
    if (result.frames.length === 0) result.frames.push(newFrame('Warnings', [], {}));
    for (const frame of result.frames) frame.meta = { ...(frame.meta || {}), notices };
  }
  return result;
}

// strconv.Quote, as fmt's %q writes a label value
function goQuote(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp < 0x80 || !/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) {
      const named = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' }[cp];
      if (named) out += named;
      else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

// metricNameFromLabels: name{a="1", b="2"}, like prometheus/common's Metric.String()
function metricNameFromLabels(labels) {
  const hasName = Object.prototype.hasOwnProperty.call(labels, '__name__');
  const parts = Object.keys(labels).filter((k) => k !== '__name__').map((k) => `${k}=${goQuote(labels[k])}`);
  if (parts.length === 0) return hasName ? labels.__name__ : '{}';
  parts.sort(byteCompare);
  return `${hasName ? labels.__name__ : ''}{${parts.join(', ')}}`;
}

// getName: what becomes config.displayNameFromDS ("" -> none)
function getName(legendFormat, expr, labels) {
  let legend = metricNameFromLabels(labels);
  if (legendFormat === '__auto') {
    if (Object.keys(labels).length > 0) legend = '';
  } else if (legendFormat !== '') {
    legend = legendFormat.replace(/\{\{[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\}\}/g, (match) => {
      const name = match.replace('{{', '').replace('}}', '').trim();
      return Object.prototype.hasOwnProperty.call(labels, name) ? labels[name] : '';
    });
  }
  return legend === '{}' ? expr : legend;
}

// addMetadataToMultiFrame
function addMetadata(frame, q) {
  frame.meta = frame.meta || {};
  if (frame.fields.length < 2) return;
  frame.fields[0].config = { interval: q.stepMsInt };
  const value = frame.fields[1];
  const name = getName(q.legendFormat, q.expr, value.labels || {});
  if (name !== '') value.config = { displayNameFromDS: name };
  if (frame.meta.type === 'heatmap-cells') return;
  if (value.labels && Object.prototype.hasOwnProperty.call(value.labels, '__name__')) value.name = value.labels.__name__;
}

// The SDK's frame JSON (frame_json.go): schema {name?, refId?, meta, fields}, data {values, entities?}
function frameToJSON(frame, refId) {
  const schema = {};
  if (frame.name) schema.name = frame.name;
  if (refId) schema.refId = refId;
  const m = frame.meta;
  const meta = {};
  if (m.type) meta.type = m.type;
  meta.typeVersion = m.typeVersion || [0, 0];
  if (m.custom) meta.custom = sortedObject(m.custom);
  if (m.stats && m.stats.length) meta.stats = m.stats;
  if (m.notices && m.notices.length) meta.notices = m.notices;
  if (m.executedQueryString) meta.executedQueryString = m.executedQueryString;
  schema.meta = meta;
  schema.fields = frame.fields.map((f) => {
    const field = { name: f.name, type: f.type, typeInfo: f.typeInfo };
    if (f.labels) field.labels = sortedObject(f.labels);
    if (f.config) field.config = f.config;
    return field;
  });
  const values = [];
  const entities = [];
  let hasEntities = false;
  for (const f of frame.fields) {
    let entity = null;
    values.push(f.values.map((v, i) => {
      if (typeof v !== 'number' || Number.isFinite(v)) return v;
      entity = entity || {};
      const key = Number.isNaN(v) ? 'NaN' : (v > 0 ? 'Inf' : 'NegInf');
      (entity[key] = entity[key] || []).push(i);
      return null;
    }));
    if (entity) {
      hasEntities = true;
      entities.push(['NaN', 'Inf', 'NegInf'].reduce((o, k) => (entity[k] ? { ...o, [k]: entity[k] } : o), {}));
    } else entities.push(null);
  }
  const data = { values };
  if (hasEntities) data.entities = entities;
  return { schema, data };
}

const PARSED_STATUSES = (s) => (s >= 200 && s < 300) || s === 400 || s === 422 || s === 503;

/**
 * Port of QueryData.parseResponse: a Prometheus HTTP API answer (/api/v1/query or /api/v1/query_range)
 * -> the DataResponse the backend returns for the refId, frames as data-frame JSON.
 *
 * @param {string|object} body  the response body (text or parsed JSON)
 * @param {object} o
 * @param {string} [o.refId]         written into schema.refId (see the header note)
 * @param {string} [o.legendFormat]  '' | '__auto' | '{{label}} text'
 * @param {number} o.stepMs          parseQuery's stepMs
 * @param {string} o.expr            parseQuery's expr (the backend-interpolated one)
 * @param {string} [o.format]        ignored: the backend frames time_series, table and heatmap alike
 * @param {boolean} [o.rangeQuery]   ignored (framing does not depend on it)
 * @param {boolean} [o.instantQuery] ignored
 * @param {number} [o.httpStatus]    the HTTP status of Prometheus' answer, default 200
 * @param {string} [o.line]          '12.4' | '13.2'
 * @returns {{status: number, frames: object[], error?: string}}
 */
export function dataResponseFromResponse(body, {
  refId, legendFormat = '', stepMs, expr = '', httpStatus = 200, line = '13.2',
} = {}) {
  if (!LINES.includes(line)) throw new Error(`unknown Grafana line ${line}`);
  const stepNs = msToNs(stepMs);
  const q = { legendFormat: legendFormat || '', expr, stepMsInt: Number(stepNs / NS_PER_MS) };
  const executed = `Expr: ${expr}\nStep: ${goDurationString(stepNs)}`;
  if (!PARSED_STATUSES(httpStatus)) {
    const text = (typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 1024);
    const frame = newFrame('', [], {});
    addMetadata(frame, q);
    frame.meta.executedQueryString = executed;
    return { status: httpStatus, error: `unexpected response with status code ${httpStatus}: ${text}`, frames: [frameToJSON(frame, refId)] };
  }
  let parsed = body;
  let r;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      r = { frames: [], error: `response from prometheus couldn't be parsed. it is non-json: ${err.message}` };
    }
  }
  if (!r) {
    r = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? readPrometheusStyleResult(parsed, line)
      : { frames: [], error: 'response from prometheus couldn\'t be parsed. it is non-json' };
  }
  if (r.frames.length === 0) r.frames.push(newFrame('', [], {}));
  r.frames.forEach((frame, i) => {
    addMetadata(frame, q);
    if (i === 0) {
      frame.meta.executedQueryString = executed;
      frame.meta.custom = { ...(frame.meta.custom || {}), calculatedMinStep: q.stepMsInt };
    }
  });
  const out = { status: r.error ? httpStatus : 200, frames: r.frames.map((f) => frameToJSON(f, refId)) };
  if (r.error) out.error = r.error;
  return out;
}

/** The frames of dataResponseFromResponse (the backend's frames for this refId); errors are in
 *  dataResponseFromResponse(...).error, here the frames alone (an error answer yields one empty frame). */
export function framesFromResponse(body, options = {}) {
  return dataResponseFromResponse(body, options).frames;
}
