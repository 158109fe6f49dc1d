// Tests of the port of Grafana's Go Prometheus backend (src/backend.mjs). The expected values restate
// facts of Grafana's own Go tests (pkg/promlib/models/query_test.go, prometheus_interval_test.go,
// gtime_test.go, converter and querydata goldens) in cases of our own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import {
  alignTimeRange, dataResponseFromResponse, formatDuration, formatInterval, framesFromResponse,
  parseDurationMs, parseQuery, roundInterval,
} from '../src/backend.mjs';

const H = 3600e3;
const D = 24 * H;
// a fixed "now": 2026-03-04T15:27:31.123Z
const NOW = Date.UTC(2026, 2, 4, 15, 27, 31, 123);

describe('durations (gtime / Go time)', () => {
  test('parseDurationMs reads Grafana interval strings', () => {
    assert.equal(parseDurationMs('1d'), D);
    assert.equal(parseDurationMs('1w'), 7 * D);
    assert.equal(parseDurationMs('30d'), 30 * D);
    assert.equal(parseDurationMs('15s'), 15000);
    assert.equal(parseDurationMs('1h30m'), 5400000);
    assert.equal(parseDurationMs('1.5h'), 5400000);
    assert.equal(parseDurationMs('100ms'), 100);
    assert.equal(parseDurationMs('2m0s'), 120000);
    assert.equal(parseDurationMs('30'), 30000, 'a bare number is seconds');
    assert.equal(parseDurationMs('<1m>'), 60000, 'one < and one > are dropped');
    assert.equal(parseDurationMs('1y'), 365.25 * D, 'a year is 365.25 days');
    assert.equal(parseDurationMs('1M'), 365.25 * D / 12);
    assert.throws(() => parseDurationMs('invalid-interval'));
    assert.throws(() => parseDurationMs('1.5d'), 'd only after a whole number');
    assert.throws(() => parseDurationMs(''));
  });

  test('formatDuration is Go Duration.String', () => {
    assert.equal(formatDuration(60000), '1m0s');
    assert.equal(formatDuration(135000), '2m15s');
    assert.equal(formatDuration(150000), '2m30s');
    assert.equal(formatDuration(15000), '15s');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(D), '24h0m0s');
    assert.equal(formatDuration(4 * D), '96h0m0s');
    assert.equal(formatDuration(3600e3 + 1000), '1h0m1s');
    assert.equal(formatDuration(200), '200ms');
    assert.equal(formatDuration(0.5), '500µs');
    assert.equal(formatDuration(0), '0s');
  });

  test('formatInterval is gtime.FormatInterval (whole units, truncated)', () => {
    assert.equal(formatInterval(D), '1d');
    assert.equal(formatInterval(7 * D), '7d');
    assert.equal(formatInterval(120000), '2m');
    assert.equal(formatInterval(90000), '1m');
    assert.equal(formatInterval(30000), '30s');
    assert.equal(formatInterval(200), '200ms');
    assert.equal(formatInterval(400 * D), '1y');
  });

  test('roundInterval steps down to round values', () => {
    assert.equal(roundInterval(28800), 30000); // 12h / 1500
    assert.equal(roundInterval(115200), 120000); // 48h / 1500
    assert.equal(roundInterval(227070), 300000); // 48h / 761
    assert.equal(roundInterval(1728000), 1800000); // 30d / 1500
    assert.equal(roundInterval(15709), 15000); // 48h / 11000
    assert.equal(roundInterval(3 * D), D, 'up to a week rounds to a day');
    assert.equal(roundInterval(10 * D), 7 * D);
    assert.equal(roundInterval(30 * D), 30 * D);
    assert.equal(roundInterval(400 * D), 365 * D);
  });
});

describe('step (calculatePrometheusInterval)', () => {
  const at = (rangeMs, rest) => parseQuery({ expr: 'up', fromMs: NOW - rangeMs, toMs: NOW, ...rest });

  test('7-day range with min step "1d" steps by a day', () => {
    const q = at(7 * D, { interval: '1d', intervalMs: 600000, maxDataPoints: 1000, scrapeInterval: '15s' });
    assert.equal(q.stepMs, 86400000);
    assert.equal(q.executedQueryString, 'Expr: up\nStep: 24h0m0s');
  });

  test('a min step above range/maxDataPoints wins; below it the rounded value does', () => {
    assert.equal(at(48 * H, { interval: '10m', intervalMs: 300000, maxDataPoints: 761 }).stepMs, 600000);
    assert.equal(at(48 * H, { interval: '2m', intervalMs: 300000, maxDataPoints: 761 }).stepMs, 300000);
    assert.equal(at(48 * H, { interval: '2m', intervalMs: 900000, maxDataPoints: 175 }).stepMs, 900000);
    assert.equal(at(48 * H, { interval: '150s', intervalMs: 100000, maxDataPoints: 12384, scrapeInterval: '30s' }).stepMs, 150000);
  });

  test('without a min step: intervalMs, else the scrape interval, is the floor', () => {
    assert.equal(at(12 * H, { scrapeInterval: '15s', maxDataPoints: 0 }).stepMs, 30000, '12h / 1500 -> 30s');
    assert.equal(at(1 * H, { scrapeInterval: '15s', maxDataPoints: 0 }).stepMs, 15000);
    assert.equal(at(48 * H, { scrapeInterval: '240s', maxDataPoints: 0 }).stepMs, 240000);
    assert.equal(at(30 * D, { scrapeInterval: '15s', maxDataPoints: 0 }).stepMs, 1800000);
    assert.equal(at(1 * H, { scrapeInterval: '15s', maxDataPoints: 10 }).stepMs, 300000);
    assert.equal(at(1 * H, { intervalMs: 30000, maxDataPoints: 1613, scrapeInterval: '30s' }).stepMs, 30000);
    assert.equal(at(5 * 60e3, { intervalMs: 15000, maxDataPoints: 1055, scrapeInterval: '15s' }).stepMs, 15000);
  });

  test('the safe interval (range / 11000) is a lower bound too', () => {
    // 30d / 100000 points = 26s (rounds to 30s), but 30d / 11000 = 236s rounds to 5m, which wins
    const q = at(30 * D, { intervalMs: 1000, maxDataPoints: 100000 });
    assert.equal(q.stepMs, roundInterval(30 * D / 11000));
    assert.equal(q.stepMs, 300000);
  });

  test('intervalFactor multiplies the step', () => {
    assert.equal(at(48 * H, { scrapeInterval: '15s', maxDataPoints: 0, intervalFactor: 10 }).stepMs, 20 * 60e3);
    assert.equal(at(48 * H, { scrapeInterval: '15s', maxDataPoints: 0, intervalFactor: 0 }).stepMs, 2 * 60e3);
  });

  test('a variable as min step is ignored, except $__rate_interval which makes the step a rate interval', () => {
    assert.equal(at(48 * H, { interval: '$__interval', intervalMs: 60000, maxDataPoints: 0, scrapeInterval: '15s' }).stepMs, 120000);
    assert.equal(at(48 * H, { interval: '${__interval_ms}', intervalMs: 60000, maxDataPoints: 0, scrapeInterval: '15s' }).stepMs, 120000);
    // max(100s + 30s, 4 * 30s)
    assert.equal(at(2 * D, { interval: '$__rate_interval', intervalMs: 100000, maxDataPoints: 12384, scrapeInterval: '30s' }).stepMs, 130000);
    assert.equal(at(2 * D, { interval: '${__rate_interval}', intervalMs: 100000, maxDataPoints: 12384, scrapeInterval: '30s' }).stepMs, 130000);
  });

  test('maxDataPoints defaults to 100 like Grafana\'s server', () => {
    assert.equal(at(7 * D, { intervalMs: 60000 }).stepMs, roundInterval(7 * D / 100));
  });

  test('an unparsable min step is an error', () => {
    assert.throws(() => at(48 * H, { interval: 'invalid-interval', scrapeInterval: '15s' }));
  });
});

describe('macros (InterpolateVariables)', () => {
  const at = (rangeMs, rest) => parseQuery({ fromMs: NOW - rangeMs, toMs: NOW, ...rest });

  test('$__interval is gtime-formatted, $__interval_ms the step in ms', () => {
    const q = at(48 * H, { expr: 'rate(x[$__interval])', intervalMs: 60000, maxDataPoints: 2110, scrapeInterval: '15s' });
    assert.equal(q.expr, 'rate(x[1m])');
    assert.equal(q.stepMs, 60000);
    assert.equal(at(48 * H, { expr: 'a[$__interval_ms] + b[$__interval]', maxDataPoints: 0, scrapeInterval: '15s' }).expr, 'a[120000] + b[2m]');
    assert.equal(at(48 * H, { expr: 'a[${__interval_ms}] + b[${__interval}]', maxDataPoints: 0, scrapeInterval: '15s' }).expr, 'a[120000] + b[2m]');
  });

  test('$__range for a 7d range, and its _s and _ms forms', () => {
    assert.equal(at(7 * D, { expr: 'increase(x[$__range])', intervalMs: 600000, maxDataPoints: 1000 }).expr, 'increase(x[604800s])');
    assert.equal(at(48 * H, { expr: 'x[$__range]' }).expr, 'x[172800s]');
    assert.equal(at(48 * H, { expr: 'x[$__range_s]' }).expr, 'x[172800]');
    assert.equal(at(48 * H, { expr: 'x[${__range_s}s]' }).expr, 'x[172800s]');
    assert.equal(at(48 * H, { expr: 'x[$__range_ms]' }).expr, 'x[172800000]');
    assert.equal(at(40, { expr: 'x[$__range_s]' }).expr, 'x[0]', 'seconds are rounded');
    assert.equal(at(800, { expr: 'x[$__range_s]' }).expr, 'x[1]');
    assert.equal(at(20, { expr: 'x[$__range_ms]' }).expr, 'x[20]');
  });

  test('$__rate_interval = max($__interval + scrape, 4 x scrape), written as a Go duration', () => {
    const rate = (intervalMs, scrapeInterval) => at(1 * H, { expr: 'rate(x[$__rate_interval])', intervalMs, maxDataPoints: 1000, scrapeInterval }).expr;
    assert.equal(rate(30000, '15s'), 'rate(x[1m0s])', 'max(30s + 15s, 60s)');
    assert.equal(rate(120000, '15s'), 'rate(x[2m15s])', 'max(120s + 15s, 60s)');
    assert.equal(rate(15000, ''), 'rate(x[1m0s])', 'an empty scrape interval counts as 15s');
    assert.equal(at(48 * H, { expr: 'a[$__rate_interval_ms] + b[${__rate_interval}]', intervalMs: 120000, scrapeInterval: '15s' }).expr, 'a[135000] + b[2m15s]');
  });

  test('$__rate_interval uses the min step in place of the scrape interval', () => {
    const q = at(1 * H, { expr: 'rate(x[$__rate_interval])', interval: '150s', intervalMs: 100000, maxDataPoints: 12384, scrapeInterval: '30s' });
    assert.equal(q.expr, 'rate(x[10m0s])', 'max(100s + 150s, 4 x 150s)');
    assert.equal(q.stepMs, 150000);
    assert.equal(at(1 * H, { expr: 'rate(x[$__rate_interval])', interval: '120s', intervalMs: 120000, maxDataPoints: 12384, scrapeInterval: '30s' }).expr, 'rate(x[8m0s])');
    assert.equal(at(5 * 60e3, { expr: 'rate(x[$__rate_interval])', interval: '5m', intervalMs: 60000, scrapeInterval: '15s' }).expr, 'rate(x[20m0s])');
    // with the 7d / 1d case: max(10m + 1d, 4d) = 4d
    assert.equal(at(7 * D, { expr: 'rate(x[$__rate_interval])', interval: '1d', intervalMs: 600000, maxDataPoints: 1000 }).expr, 'rate(x[96h0m0s])');
  });

  test('min step $__rate_interval: $__rate_interval is the step itself', () => {
    const q = at(2 * D, { expr: 'rate(x[$__rate_interval])', interval: '$__rate_interval', intervalMs: 120000, maxDataPoints: 12384, scrapeInterval: '30s' });
    assert.equal(q.expr, 'rate(x[2m30s])');
    assert.equal(q.stepMs, 150000);
    const short = at(1 * H, { expr: 'rate(x[$__rate_interval])', interval: '$__rate_interval', intervalMs: 30000, maxDataPoints: 12384, scrapeInterval: '30s' });
    assert.equal(short.expr, 'rate(x[2m0s])');
    assert.equal(short.stepMs, 120000);
  });

  test('min step $__interval: the step stands in for the scrape interval', () => {
    const q = at(2 * D, { expr: 'rate(x[$__rate_interval])', interval: '$__interval', intervalMs: 120000, maxDataPoints: 12384, scrapeInterval: '15s' });
    assert.equal(q.expr, 'rate(x[8m0s])', 'max(120s + 120s, 4 x 120s)');
    assert.equal(q.stepMs, 120000);
  });

  test('the same line gives the same answer on 12.4 and 13.2', () => {
    const args = { expr: 'rate(x[$__rate_interval])', interval: '1d', intervalMs: 600000, maxDataPoints: 1000, fromMs: NOW - 7 * D, toMs: NOW };
    assert.deepEqual(parseQuery({ ...args, line: '12.4' }), parseQuery({ ...args, line: '13.2' }));
  });
});

describe('time range (AlignTimeRange, QueryInstant)', () => {
  test('AlignTimeRange examples', () => {
    assert.equal(alignTimeRange(1664816826000, 10000), 1664816820000);
    assert.equal(alignTimeRange(1664816825005, 10), 1664816825000, 'millisecond step');
    assert.equal(alignTimeRange(1664816825005, 2000, -3), 1664816825000, 'with an offset');
    // a 1w step rounds a Monday down to a Thursday (the epoch was a Thursday)
    assert.equal(alignTimeRange(1704672000000, 7 * D), 1704326400000);
  });

  test('[now-7d, now] with a 1d step: start and end floored to UTC midnights', () => {
    const q = parseQuery({ expr: 'up', interval: '1d', intervalMs: 600000, maxDataPoints: 1000, fromMs: NOW - 7 * D, toMs: NOW });
    assert.equal(q.rangeQuery, true);
    assert.equal(q.start, Date.UTC(2026, 1, 25));
    assert.equal(q.end, Date.UTC(2026, 2, 4), 'the end is floored too: today\'s partial day is not a point');
    assert.equal(q.start % D, 0);
    assert.equal(q.end % D, 0);
    assert.deepEqual(q.params.range, { query: 'up', start: '1771977600', end: '1772582400', step: '86400' });
  });

  test('utcOffsetSec shifts the alignment to local midnights', () => {
    const q = parseQuery({ expr: 'up', interval: '1d', intervalMs: 600000, maxDataPoints: 1000, fromMs: NOW - 7 * D, toMs: NOW, utcOffsetSec: 3600 });
    assert.equal(q.start, Date.UTC(2026, 1, 24, 23));
    assert.equal(q.end, Date.UTC(2026, 2, 3, 23));
  });

  test('an instant query is evaluated at the range end, not aligned', () => {
    const q = parseQuery({ expr: 'up', instant: true, intervalMs: 60000, maxDataPoints: 1000, fromMs: NOW - 6 * H, toMs: NOW });
    assert.equal(q.instantQuery, true);
    assert.equal(q.rangeQuery, false);
    assert.equal(q.time, NOW);
    assert.equal(q.end, NOW);
    assert.equal(q.params.range, undefined);
    // the Go client sends float64(sec) + float64(nsec)/1e9 printed shortest, float noise and all
    assert.equal(q.params.instant.time, '1772638051.1230001');
  });

  test('neither instant nor range runs as a range query', () => {
    const q = parseQuery({ expr: 'up', intervalMs: 60000, fromMs: NOW - 6 * H, toMs: NOW });
    assert.equal(q.rangeQuery, true);
    assert.equal(q.instantQuery, false);
  });
});

const matrixBody = {
  status: 'success',
  data: {
    resultType: 'matrix',
    result: [
      { metric: { __name__: 'genai_cost_usd_total', model: 'a', job: 'exporter' }, values: [[1641889530.123, '21'], [1641889531.123, '32']] },
      { metric: { __name__: 'genai_cost_usd_total', model: 'b', job: 'exporter' }, values: [[1641889529.123, '54']] },
    ],
  },
};

describe('frames (converter + parseResponse)', () => {
  const opts = { refId: 'A', stepMs: 1000, expr: 'genai_cost_usd_total' };

  test('a matrix with two series and legend {{model}}: two frames named a and b', () => {
    const frames = framesFromResponse(matrixBody, { ...opts, legendFormat: '{{model}}' });
    assert.equal(frames.length, 2);
    const [a, b] = frames;
    assert.deepEqual(a.schema.meta, {
      type: 'timeseries-multi',
      typeVersion: [0, 1],
      custom: { calculatedMinStep: 1000, resultType: 'matrix' },
      executedQueryString: 'Expr: genai_cost_usd_total\nStep: 1s',
    });
    assert.deepEqual(b.schema.meta, { type: 'timeseries-multi', typeVersion: [0, 1], custom: { resultType: 'matrix' } });
    assert.equal(a.schema.refId, 'A');
    assert.deepEqual(a.schema.fields[0], { name: 'Time', type: 'time', typeInfo: { frame: 'time.Time' }, config: { interval: 1000 } });
    assert.deepEqual(a.schema.fields[1], {
      name: 'genai_cost_usd_total',
      type: 'number',
      typeInfo: { frame: 'float64' },
      labels: { __name__: 'genai_cost_usd_total', job: 'exporter', model: 'a' },
      config: { displayNameFromDS: 'a' },
    });
    assert.equal(b.schema.fields[1].config.displayNameFromDS, 'b');
    assert.deepEqual(a.data, { values: [[1641889530123, 1641889531123], [21, 32]] });
    assert.deepEqual(b.data, { values: [[1641889529123], [54]] });
  });

  test('no legend: name{labels} with sorted, quoted labels', () => {
    const [a] = framesFromResponse(matrixBody, opts);
    assert.equal(a.schema.fields[1].config.displayNameFromDS, 'genai_cost_usd_total{job="exporter", model="a"}');
  });

  test('__auto: no displayNameFromDS when there are labels, the expression when there are none', () => {
    const [a] = framesFromResponse(matrixBody, { ...opts, legendFormat: '__auto' });
    assert.equal(a.schema.fields[1].config, undefined);
    const bare = { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, '1']] }] } };
    const [f] = framesFromResponse(bare, { ...opts, expr: 'sum(rate(x[1m0s]))', legendFormat: '__auto' });
    assert.equal(f.schema.fields[1].name, 'Value');
    assert.deepEqual(f.schema.fields[1].labels, {});
    assert.equal(f.schema.fields[1].config.displayNameFromDS, 'sum(rate(x[1m0s]))');
  });

  test('legend templates: missing labels become empty, an all-empty legend sets nothing', () => {
    const [a] = framesFromResponse(matrixBody, { ...opts, legendFormat: '{{ model }} / {{nope}} cost' });
    assert.equal(a.schema.fields[1].config.displayNameFromDS, 'a /  cost');
    const [b] = framesFromResponse(matrixBody, { ...opts, legendFormat: '{{nope}}' });
    assert.equal(b.schema.fields[1].config, undefined);
  });

  test('an empty result is one frame without fields, carrying the meta', () => {
    const body = { status: 'success', data: { resultType: 'matrix', result: [] } };
    const rsp = dataResponseFromResponse(body, { ...opts, stepMs: 60000 });
    assert.equal(rsp.status, 200);
    assert.equal(rsp.error, undefined);
    assert.deepEqual(rsp.frames, [{
      schema: {
        refId: 'A',
        meta: { typeVersion: [0, 0], custom: { calculatedMinStep: 60000 }, executedQueryString: 'Expr: genai_cost_usd_total\nStep: 1m0s' },
        fields: [],
      },
      data: { values: [] },
    }]);
  });

  test('an instant vector is numeric-multi, one row per series', () => {
    const body = { status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up', job: 'prometheus' }, value: [1435781451.781, '1'] }] } };
    const [f] = framesFromResponse(body, { ...opts, expr: 'up', stepMs: 15000, instantQuery: true, rangeQuery: false });
    assert.equal(f.schema.meta.type, 'numeric-multi');
    assert.deepEqual(f.schema.meta.typeVersion, [0, 1]);
    assert.equal(f.schema.meta.custom.resultType, 'vector');
    assert.deepEqual(f.data.values, [[1435781451781], [1]]);
    assert.equal(f.schema.fields[1].config.displayNameFromDS, 'up{job="prometheus"}');
  });

  test('format table changes nothing in the backend', () => {
    assert.deepEqual(framesFromResponse(matrixBody, { ...opts, format: 'table' }), framesFromResponse(matrixBody, opts));
  });

  test('a scalar: numeric-multi, empty labels, named after the expression', () => {
    const body = { status: 'success', data: { resultType: 'scalar', result: [1651680139.104, '2.482e-05'] } };
    const [f] = framesFromResponse(body, { ...opts, expr: 'scalar(x)' });
    assert.deepEqual(f.schema.meta, {
      type: 'numeric-multi', typeVersion: [0, 1],
      custom: { calculatedMinStep: 1000, resultType: 'scalar' },
      executedQueryString: 'Expr: scalar(x)\nStep: 1s',
    });
    assert.deepEqual(f.schema.fields[1].labels, {});
    assert.equal(f.schema.fields[1].config.displayNameFromDS, 'scalar(x)');
    assert.deepEqual(f.data.values, [[1651680139104], [0.00002482]]);
  });

  test('a string result keeps a string field and no type version', () => {
    const body = { status: 'success', data: { resultType: 'string', result: [1609746000, 'hello'] } };
    const [f] = framesFromResponse(body, opts);
    assert.equal(f.schema.meta.type, 'timeseries-multi');
    assert.deepEqual(f.schema.meta.typeVersion, [0, 0]);
    assert.deepEqual(f.schema.fields[1].typeInfo, { frame: 'string' });
    assert.deepEqual(f.data.values, [[1609746000000], ['hello']]);
  });

  test('NaN and infinities are null values plus entities', () => {
    const body = { status: 'success', data: { resultType: 'matrix', result: [{ metric: { job: 'p' }, values: [[1641889530, '+Inf'], [1641889531, 'NaN'], [1641889532, '-Inf'], [1641889533, '4']] }] } };
    const [f] = framesFromResponse(body, opts);
    assert.deepEqual(f.data, {
      values: [[1641889530000, 1641889531000, 1641889532000, 1641889533000], [null, null, null, 4]],
      entities: [null, { NaN: [1], Inf: [0], NegInf: [2] }],
    });
  });

  test('a Prometheus error: the error text and one empty frame with the meta', () => {
    const body = '{"status":"error","errorType":"bad_data","error":"parse error at char 4"}';
    const rsp = dataResponseFromResponse(body, { ...opts, httpStatus: 400 });
    assert.equal(rsp.error, 'bad_data: parse error at char 4');
    assert.equal(rsp.status, 400);
    assert.equal(rsp.frames.length, 1);
    assert.deepEqual(rsp.frames[0].schema.fields, []);
    assert.equal(rsp.frames[0].schema.meta.executedQueryString, 'Expr: genai_cost_usd_total\nStep: 1s');
  });

  test('an unexpected HTTP status is not parsed', () => {
    const rsp = dataResponseFromResponse('<html>bad gateway</html>', { ...opts, httpStatus: 502 });
    assert.equal(rsp.error, 'unexpected response with status code 502: <html>bad gateway</html>');
    assert.deepEqual(rsp.frames[0].schema.meta, { typeVersion: [0, 0], executedQueryString: 'Expr: genai_cost_usd_total\nStep: 1s' });
  });

  test('warnings become notices on every frame, or on a Warnings frame', () => {
    const frames = framesFromResponse({ ...matrixBody, warnings: ['careful'] }, opts);
    for (const f of frames) assert.deepEqual(f.schema.meta.notices, [{ severity: 'warning', text: 'careful' }]);
    const [w] = framesFromResponse({ status: 'success', data: { resultType: 'matrix', result: [] }, infos: ['fyi'] }, opts);
    assert.equal(w.schema.name, 'Warnings');
    assert.deepEqual(w.schema.meta.notices, [{ severity: 'info', text: 'fyi' }]);
  });

  test('stats: 12.4 replaces frame 0\'s custom, 13.2 merges it and adds a query stat', () => {
    const body = { status: 'success', data: { ...matrixBody.data, stats: { samples: { totalQueryableSamples: 7 } } } };
    const [old] = framesFromResponse(body, { ...opts, line: '12.4' });
    assert.deepEqual(old.schema.meta.custom, { calculatedMinStep: 1000, stats: { samples: { totalQueryableSamples: 7 } } });
    const [cur] = framesFromResponse(body, { ...opts, line: '13.2' });
    assert.deepEqual(cur.schema.meta.custom, { calculatedMinStep: 1000, resultType: 'matrix', stats: { samples: { totalQueryableSamples: 7 } } });
    assert.deepEqual(cur.schema.meta.stats, [{ displayName: 'Total queryable samples', value: 7 }]);
    assert.deepEqual(framesFromResponse(matrixBody, { ...opts, line: '12.4' }), framesFromResponse(matrixBody, { ...opts, line: '13.2' }));
  });

  test('native histograms are refused rather than framed wrongly', () => {
    const body = { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, histograms: [] }] } };
    assert.throws(() => framesFromResponse(body, opts), /not ported/);
  });

  // The frames must read back through Grafana's own dataFrameFromJSON, loaded by src/grafana.mjs in a
  // child process (one Grafana line per process).
  const here = path.dirname(fileURLToPath(import.meta.url));
  const loader = pathToFileURL(path.join(here, '..', 'src', 'grafana.mjs')).href;
  for (const line of ['12.4', '13.2']) {
    const installed = fs.existsSync(path.join(here, '..', `grafana-${line}`, 'node_modules', '@grafana', 'data'));
    test(`@grafana/data ${line} reads the frames`, { skip: !installed && `grafana-${line}/node_modules missing` }, () => {
      const nan = { status: 'success', data: { resultType: 'matrix', result: [{ metric: { model: 'a' }, values: [[1, '+Inf'], [2, 'NaN'], [3, '5']] }] } };
      const [json] = framesFromResponse(nan, { ...opts, legendFormat: '{{model}}', line });
      const script = `
        import { loadGrafana } from ${JSON.stringify(loader)};
        import fs from 'node:fs';
        const g = loadGrafana(${JSON.stringify(line)});
        const f = g.data.dataFrameFromJSON(JSON.parse(fs.readFileSync(0, 'utf8')));
        process.stdout.write(JSON.stringify({ refId: f.refId, length: f.length, meta: f.meta,
          fields: f.fields.map((x) => ({ name: x.name, type: x.type, config: x.config, labels: x.labels, values: Array.from(x.values, String) })) }));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { input: JSON.stringify(json), encoding: 'utf8' });
      const frame = JSON.parse(out.slice(out.indexOf('{"refId"')));
      assert.equal(frame.refId, 'A');
      assert.equal(frame.length, 3);
      assert.deepEqual(frame.fields[0].values, ['1000', '2000', '3000']);
      assert.equal(frame.fields[0].type, 'time');
      assert.deepEqual(frame.fields[1].values, ['Infinity', 'NaN', '5']);
      assert.equal(frame.fields[1].config.displayNameFromDS, 'a');
      assert.deepEqual(frame.fields[1].labels, { model: 'a' });
      assert.equal(frame.fields[0].config.interval, 1000);
      assert.equal(frame.meta.custom.resultType, 'matrix');
    });
  }
});
