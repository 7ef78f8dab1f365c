// Self-contained HTML reports with inline SVG charts (no scripts, no external files):
// a run (throughput and latency over time, latency CDF, the summary table) and a sweep
// (throughput vs read %, latency vs offered load).
import type { RunResult } from './run.ts';
import { formatSummary } from './summary.ts';

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  /** Vertical marker lines: [x, label]. */
  markers?: [number, string][];
  yMin?: number;
}

const WIDTH = 760;
const HEIGHT = 340;
const PAD = { left: 70, right: 150, top: 36, bottom: 48 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * Math.pow(10, e);
      if (t >= min * 0.999 && t <= max * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

function label(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return `${Math.round(v)}`;
  return `${+v.toPrecision(3)}`;
}

export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.xLog || x > 0) && (!spec.yLog || y > 0));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`);
  parts.push(`<text x="${PAD.left}" y="20" font-size="14" font-weight="bold">${escapeHtml(spec.title)}</text>`);
  if (all.length === 0) {
    parts.push(`<text x="${PAD.left}" y="${PAD.top + 20}">no data</text></svg>`);
    return parts.join('');
  }
  let xMin = Math.min(...all.map((p) => p[0]));
  let xMax = Math.max(...all.map((p) => p[0]));
  let yMin = spec.yMin ?? Math.min(0, ...all.map((p) => p[1]));
  let yMax = Math.max(...all.map((p) => p[1]));
  if (spec.yLog) yMin = Math.min(...all.map((p) => p[1]));
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax === yMin) yMax = yMin + 1;
  if (!spec.yLog) yMax *= 1.05;
  const fx = spec.xLog ? (x: number) => (Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin)) : (x: number) => (x - xMin) / (xMax - xMin);
  const fy = spec.yLog ? (y: number) => (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : (y: number) => (y - yMin) / (yMax - yMin);
  const px = (x: number) => PAD.left + fx(x) * plotW;
  const py = (y: number) => PAD.top + plotH - fy(y) * plotH;
  // axes and grid
  const xTicks = spec.xLog ? logTicks(xMin, xMax) : niceTicks(xMin, xMax, 8);
  const yTicks = spec.yLog ? logTicks(yMin, yMax) : niceTicks(yMin, yMax, 6);
  for (const t of xTicks) {
    if (t < xMin || t > xMax) continue;
    parts.push(`<line x1="${px(t).toFixed(1)}" y1="${PAD.top}" x2="${px(t).toFixed(1)}" y2="${PAD.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t).toFixed(1)}" y="${PAD.top + plotH + 14}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of yTicks) {
    if (t < yMin || t > yMax) continue;
    parts.push(`<line x1="${PAD.left}" y1="${py(t).toFixed(1)}" x2="${PAD.left + plotW}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
  }
  parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`);
  for (const [x, text] of spec.markers ?? []) {
    if (!(x >= xMin && x <= xMax)) continue;
    parts.push(`<line x1="${px(x).toFixed(1)}" y1="${PAD.top}" x2="${px(x).toFixed(1)}" y2="${PAD.top + plotH}" stroke="#555" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${(px(x) + 4).toFixed(1)}" y="${PAD.top + 12}">${escapeHtml(text)}</text>`);
  }
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.xLog || x > 0) && (!spec.yLog || y > 0));
    if (pts.length === 0) return;
    const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    if (pts.length <= 40) for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    const ly = PAD.top + 10 + i * 16;
    parts.push(`<line x1="${WIDTH - PAD.right + 10}" y1="${ly}" x2="${WIDTH - PAD.right + 28}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    parts.push(`<text x="${WIDTH - PAD.right + 32}" y="${ly + 4}">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** The CDF drawn HdrHistogram-style: x = percentile on a 1/(1-p) log scale, y = latency. */
export function percentileChart(title: string, cdf: Record<string, [number, number][]>): string {
  const series: Series[] = Object.entries(cdf).map(([name, points]) => ({
    name,
    points: points.filter(([, f]) => f < 1).map(([us, f]) => [1 / (1 - f), us / 1000] as [number, number]),
  }));
  const chart = lineChart({ title, xLabel: 'percentile (log scale of 1/(1-p)): 10 = p90, 100 = p99, 1000 = p99.9', yLabel: 'latency ms', series, xLog: true, yLog: true });
  return chart;
}

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:sans-serif;max-width:1000px;margin:24px auto;color:#222}
pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:12px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
figure{margin:16px 0}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

export function renderRunReport(r: RunResult): string {
  // the last sample is the drain after the end (a partial second): left out of the charts
  const endSecond = (r.options.warmupMs + r.options.durationMs) / 1000;
  const measured = r.timeline.filter((p) => p.second >= 0 && p.second < endSecond);
  const throughput = lineChart({
    title: 'Throughput over time (warm-up left of the dashed line)',
    xLabel: 'seconds since start',
    yLabel: 'ops/s',
    series: [
      { name: 'ok ops/s', points: measured.map((p) => [p.second + 1, p.opsPerSec]) },
      { name: 'errors/s', points: measured.map((p) => [p.second + 1, p.errors]), dashed: true },
    ],
    markers: r.options.warmupMs > 0 ? [[r.options.warmupMs / 1000, 'measured from here']] : [],
  });
  const latency = lineChart({
    title: 'Latency over time (ops completed in each second)',
    xLabel: 'seconds since start',
    yLabel: 'latency ms (log)',
    series: [
      { name: 'p50', points: measured.filter((p) => p.p50Us > 0).map((p) => [p.second + 1, p.p50Us / 1000]) },
      { name: 'p99', points: measured.filter((p) => p.p99Us > 0).map((p) => [p.second + 1, p.p99Us / 1000]) },
      { name: 'max', points: measured.filter((p) => p.maxUs > 0).map((p) => [p.second + 1, p.maxUs / 1000]), dashed: true },
    ],
    yLog: true,
    markers: r.options.warmupMs > 0 ? [[r.options.warmupMs / 1000, 'measured from here']] : [],
  });
  const cdfChart = percentileChart('Latency by percentile (measured window)', r.cdf);
  const cdfLinear = lineChart({
    title: 'Latency CDF',
    xLabel: 'latency ms (log)',
    yLabel: 'fraction of ops at or below',
    series: Object.entries(r.cdf).map(([name, pts]) => ({ name, points: pts.map(([us, f]) => [us / 1000, f] as [number, number]) })),
    xLog: true,
    yMin: 0,
  });
  const body = [
    `<p>${escapeHtml(r.load)}</p>`,
    `<pre>${escapeHtml(formatSummary(r))}</pre>`,
    `<figure>${throughput}</figure>`,
    `<figure>${latency}</figure>`,
    `<figure>${cdfChart}</figure>`,
    `<figure>${cdfLinear}</figure>`,
    `<details><summary>result JSON</summary><pre>${escapeHtml(JSON.stringify(r, null, 2))}</pre></details>`,
  ].join('\n');
  return page(`zooid loadgen ${r.startedAt}`, body);
}
