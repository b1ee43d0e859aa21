/**
 * A dependency-free SVG chart: panels of grouped bars or lines on one sheet, each with axes,
 * ticks, a legend and an optional goal line. Enough for the benchmark's report, nothing more.
 */

/** One bar of a group. */
export interface Bar {
  readonly label: string;
  readonly value: number;
}

/** Bars side by side under one label. */
export interface BarGroup {
  readonly label: string;
  readonly bars: readonly Bar[];
}

/** A line through points. */
export interface Series {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
}

/** A horizontal reference line. */
export interface Goal {
  readonly value: number;
  readonly label: string;
}

/** One panel of the sheet. */
export type Panel =
  | {
      readonly type: 'bars';
      readonly title: string;
      readonly unit: string;
      readonly groups: readonly BarGroup[];
      readonly goal?: Goal;
    }
  | {
      readonly type: 'lines';
      readonly title: string;
      readonly xLabel: string;
      readonly unit: string;
      readonly series: readonly Series[];
      readonly goal?: Goal;
      /** Draw points as dots too. */
      readonly dots?: boolean;
      /** x values to label (default: every distinct x when few, else min, middle, max). */
      readonly xTicks?: readonly number[];
      /** x range (default: the data's). */
      readonly xRange?: readonly [number, number];
    };

const COLORS = ['#3b6fb6', '#e08a2c', '#4a9a5b', '#b6443b', '#7a5ab0', '#6d6d6d'];
const PANEL_W = 520;
const PANEL_H = 300;
const MARGIN = { left: 62, right: 16, top: 40, bottom: 58 };

function escape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** A "nice" axis maximum and tick step covering `max`. */
function niceScale(max: number): { top: number; step: number } {
  const safe = max > 0 && Number.isFinite(max) ? max : 1;
  const rough = safe / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  return { top: Math.ceil(safe / step) * step, step };
}

function format(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 100) return String(Math.round(value));
  if (Math.abs(value) >= 10) return value.toFixed(1).replace(/\.0$/, '');
  return value.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(content)}</text>`;
}

function yAxis(top: number, step: number, plotH: number, plotW: number, unit: string): string[] {
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = MARGIN.top + plotH - (v / top) * plotH;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e4e4e4"/>`,
      text(MARGIN.left - 6, y + 4, format(v), 'text-anchor="end" font-size="11" fill="#555"'),
    );
  }
  parts.push(
    text(
      14,
      MARGIN.top + plotH / 2,
      unit,
      `font-size="11" fill="#555" transform="rotate(-90 14 ${String(MARGIN.top + plotH / 2)})" text-anchor="middle"`,
    ),
  );
  return parts;
}

function goalLine(goal: Goal | undefined, top: number, plotH: number, plotW: number): string[] {
  if (goal === undefined || goal.value > top) return [];
  const y = MARGIN.top + plotH - (goal.value / top) * plotH;
  return [
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#b6443b" stroke-dasharray="6 4"/>`,
    text(MARGIN.left + plotW - 4, y - 4, goal.label, 'text-anchor="end" font-size="11" fill="#b6443b"'),
  ];
}

function legend(labels: readonly string[], plotH: number): string[] {
  const parts: string[] = [];
  let x = MARGIN.left;
  const y = MARGIN.top + plotH + 42;
  labels.forEach((label, i) => {
    parts.push(
      `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length] ?? '#000'}"/>`,
      text(x + 14, y, label, 'font-size="11" fill="#333"'),
    );
    x += 24 + label.length * 6.2;
  });
  return parts;
}

function barsPanel(panel: Extract<Panel, { type: 'bars' }>): string[] {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const values = panel.groups.flatMap((group) => group.bars.map((bar) => bar.value));
  const { top, step } = niceScale(Math.max(...values.filter(Number.isFinite), panel.goal?.value ?? 0));
  const parts = yAxis(top, step, plotH, plotW, panel.unit);
  const groupW = plotW / Math.max(1, panel.groups.length);
  const labels = panel.groups[0]?.bars.map((bar) => bar.label) ?? [];
  panel.groups.forEach((group, g) => {
    const barW = Math.min(48, (groupW * 0.75) / Math.max(1, group.bars.length));
    const start = MARGIN.left + g * groupW + (groupW - barW * group.bars.length) / 2;
    group.bars.forEach((bar, b) => {
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      const h = (value / top) * plotH;
      const x = start + b * barW;
      const y = MARGIN.top + plotH - h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 3).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[b % COLORS.length] ?? '#000'}"/>`,
        text(x + (barW - 3) / 2, y - 3, format(bar.value), 'text-anchor="middle" font-size="10" fill="#333"'),
      );
    });
    parts.push(
      text(
        MARGIN.left + g * groupW + groupW / 2,
        MARGIN.top + plotH + 16,
        group.label,
        'text-anchor="middle" font-size="11" fill="#333"',
      ),
    );
  });
  parts.push(...goalLine(panel.goal, top, plotH, plotW), ...legend(labels, plotH));
  return parts;
}

function linesPanel(panel: Extract<Panel, { type: 'lines' }>): string[] {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const points = panel.series.flatMap((series) => series.points);
  const xs = points.map(([x]) => x);
  const xMin = panel.xRange?.[0] ?? Math.min(...xs);
  const xMax = panel.xRange?.[1] ?? Math.max(...xs);
  const { top, step } = niceScale(Math.max(...points.map(([, y]) => y), panel.goal?.value ?? 0));
  const parts = yAxis(top, step, plotH, plotW, panel.unit);
  const sx = (x: number): number =>
    MARGIN.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number): number => MARGIN.top + plotH - (Math.min(y, top) / top) * plotH;
  const ticks =
    panel.xTicks ??
    ([...new Set(xs)].length <= 8 ? [...new Set(xs)].sort((a, b) => a - b) : [xMin, (xMin + xMax) / 2, xMax]);
  for (const x of ticks)
    parts.push(
      text(sx(x), MARGIN.top + plotH + 16, format(x), 'text-anchor="middle" font-size="11" fill="#555"'),
    );
  parts.push(
    text(
      MARGIN.left + plotW / 2,
      MARGIN.top + plotH + 30,
      panel.xLabel,
      'text-anchor="middle" font-size="11" fill="#555"',
    ),
  );
  panel.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    const path = series.points
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    if (panel.dots === true) {
      for (const [x, y] of series.points)
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
  });
  parts.push(
    ...goalLine(panel.goal, top, plotH, plotW),
    ...legend(
      panel.series.map((s) => s.label),
      plotH,
    ),
  );
  return parts;
}

/** Renders panels two per row into one SVG document. */
export function renderChart(title: string, subtitle: string, panels: readonly Panel[]): string {
  const columns = 2;
  const rows = Math.ceil(panels.length / columns);
  const width = columns * PANEL_W + 20;
  const height = rows * PANEL_H + 60;
  const body = panels.map((panel, i) => {
    const x = 10 + (i % columns) * PANEL_W;
    const y = 50 + Math.floor(i / columns) * PANEL_H;
    const inner = panel.type === 'bars' ? barsPanel(panel) : linesPanel(panel);
    return [
      `<g transform="translate(${String(x)} ${String(y)})">`,
      `<rect x="0.5" y="0.5" width="${String(PANEL_W - 6)}" height="${String(PANEL_H - 6)}" fill="#fff" stroke="#ddd"/>`,
      text(MARGIN.left, 24, panel.title, 'font-size="13" font-weight="bold" fill="#222"'),
      ...inner,
      '</g>',
    ].join('\n');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    text(12, 24, title, 'font-size="16" font-weight="bold" fill="#111"'),
    text(12, 42, subtitle, 'font-size="11" fill="#555"'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
