import type { VerifyReport } from "./report.js";

/**
 * The HTML report (pure): one self-contained file, no script and no request (a Content-Security-Policy forbids both),
 * with an inline SVG chart of messages and duplicates per hour, the per-hour table and the problems table. Every
 * text from the archive (keys, ids, error excerpts) is escaped.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** A round axis maximum: 1, 2 or 5 times a power of ten, at least `v`. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].map((m) => m * p).find((m) => m >= v) as number) ?? 10 * p;
}

function chart(r: VerifyReport): string {
  const n = Math.max(1, r.hours.length);
  const left = 70;
  const right = 70;
  const top = 20;
  const plotH = 220;
  const slot = Math.max(6, Math.min(48, Math.floor(900 / n)));
  const width = left + right + slot * n;
  const height = top + plotH + 60;
  const maxM = niceMax(Math.max(0, ...r.hours.map((h) => h.messages)));
  const maxD = niceMax(Math.max(0, ...r.hours.map((h) => h.duplicates)));
  const y = (v: number, max: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const yy = top + (plotH * i) / 4;
    parts.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}"/>`);
    parts.push(`<text class="axis" x="${left - 6}" y="${yy + 4}" text-anchor="end">${fmt(Math.round((maxM * (4 - i)) / 4))}</text>`);
    parts.push(`<text class="axis dup" x="${width - right + 6}" y="${yy + 4}">${fmt(Math.round((maxD * (4 - i)) / 4))}</text>`);
  }
  const every = Math.ceil(n / 12);
  const points: string[] = [];
  r.hours.forEach((h, i) => {
    const x = left + i * slot;
    const bw = Math.max(2, slot - 4);
    const label = escapeHtml(h.hour);
    parts.push(
      `<rect class="bar-messages${h.problems ? " has-problems" : ""}" data-hour="${label}" data-messages="${h.messages}" x="${x + 2}" y="${y(h.messages, maxM)}" width="${bw}" height="${(h.messages / maxM) * plotH}"><title>${label}: ${fmt(h.messages)} messages, ${fmt(h.duplicates)} duplicates, ${fmt(h.problems)} problems</title></rect>`,
    );
    const cx = x + slot / 2;
    const cy = y(h.duplicates, maxD);
    points.push(`${cx},${cy}`);
    parts.push(`<circle class="point-duplicates" data-hour="${label}" data-duplicates="${h.duplicates}" cx="${cx}" cy="${cy}" r="3"><title>${label}: ${fmt(h.duplicates)} duplicates</title></circle>`);
    if (i % every === 0) {
      parts.push(`<text class="axis" x="${cx}" y="${top + plotH + 16}" text-anchor="middle">${escapeHtml(h.hour.slice(5, 13).replace("T", " "))}h</text>`);
    }
  });
  if (points.length > 1) parts.push(`<polyline class="line-duplicates" points="${points.join(" ")}"/>`);
  return `<svg id="chart" role="img" aria-label="messages and duplicates per hour" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<text class="axis" x="${left}" y="12">messages</text><text class="axis dup" x="${width - right}" y="12" text-anchor="end">duplicates</text>
${parts.join("\n")}
<line class="base" x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}"/>
<rect class="legend-messages" x="${left}" y="${top + plotH + 30}" width="12" height="12"/><text class="axis" x="${left + 18}" y="${top + plotH + 40}">messages</text>
<circle class="point-duplicates legend" cx="${left + 110}" cy="${top + plotH + 36}" r="4"/><text class="axis" x="${left + 120}" y="${top + plotH + 40}">duplicates (right axis)</text>
</svg>`;
}

function hoursTable(r: VerifyReport): string {
  const cells = (f: { objects: number; messages: number; distinctIds: number; duplicates: number; bytes: number; problems: number }) =>
    [f.objects, f.messages, f.distinctIds, f.duplicates, f.bytes, f.problems].map((v) => `<td class="num">${fmt(v)}</td>`).join("");
  const rows = r.hours.map((h) => `<tr data-hour="${escapeHtml(h.hour)}"${h.problems ? ' class="bad"' : ""}><td>${escapeHtml(h.hour)}</td>${cells(h)}</tr>`);
  return `<table id="hours"><thead><tr><th>hour (UTC)</th><th>objects</th><th>messages</th><th>distinct ids</th><th>duplicates</th><th>bytes</th><th>problems</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
<tfoot><tr><th>total</th>${cells(r.totals)}</tr></tfoot></table>`;
}

function problemsTable(r: VerifyReport): string {
  if (r.problems.length === 0) return `<p id="no-problems">No problems found.</p>`;
  const rows = r.problems.map(
    (p) =>
      `<tr><td class="code">${escapeHtml(p.code)}</td><td>${escapeHtml(p.hour)}</td><td class="key">${escapeHtml(p.key)}</td><td>${escapeHtml(p.messageId ?? "")}</td><td class="num">${p.line ?? ""}</td><td>${escapeHtml(p.detail)}</td></tr>`,
  );
  const omitted = r.problemsOmitted > 0 ? `<p>… and ${fmt(r.problemsOmitted)} more problems, counted but not listed (--max-problems).</p>` : "";
  return `<table id="problems"><thead><tr><th>code</th><th>hour</th><th>object key</th><th>message id</th><th>line</th><th>detail</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table>${omitted}`;
}

export function renderHtml(r: VerifyReport): string {
  const t = r.totals;
  const verdict = r.stopped
    ? `Stopped (${escapeHtml(r.stopped.reason)}): ${escapeHtml(r.stopped.detail)}`
    : r.ok
      ? "Archive complete and intact: no problems found"
      : `${fmt(t.problems)} problems found`;
  const counts = Object.entries(r.problemCounts)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `<li><span class="code">${escapeHtml(c)}</span> ${fmt(n)}</li>`)
    .join("");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sqs-archiver verify: ${escapeHtml(r.bucket)}/${escapeHtml(r.prefix)} ${escapeHtml(r.since)} to ${escapeHtml(r.until)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #596273; margin: 0 0 12px; }
#verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; display: inline-block; }
#verdict.ok { background: #e3f5e8; color: #17602f; } #verdict.bad { background: #fde7e7; color: #8f1d1d; }
ul.counts { list-style: none; padding: 0; display: flex; gap: 16px; flex-wrap: wrap; }
table { border-collapse: collapse; margin-top: 8px; } th, td { border-bottom: 1px solid #dde1e8; padding: 4px 10px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.bad td { background: #fff4f4; } tfoot th { text-align: right; } tfoot th:first-child { text-align: left; }
.code { font-family: ui-monospace, monospace; font-weight: 600; } td.key { font-family: ui-monospace, monospace; word-break: break-all; }
svg .grid { stroke: #eceff4; } svg .base { stroke: #8d95a5; } svg .axis { font-size: 11px; fill: #596273; } svg .axis.dup { fill: #c2410c; }
svg .bar-messages, svg .legend-messages { fill: #3b6fd4; } svg .bar-messages.has-problems { fill: #d43b3b; }
svg .point-duplicates { fill: #ea580c; } svg .line-duplicates { fill: none; stroke: #ea580c; stroke-width: 1.5; }
</style>
</head>
<body>
<h1>sqs-archiver verify</h1>
<p class="meta">s3://${escapeHtml(r.bucket)}/${escapeHtml(r.prefix)} · ${escapeHtml(r.since)} to ${escapeHtml(r.until)} (whole UTC hours) · generated ${escapeHtml(r.generatedAt)} by version ${escapeHtml(r.version)} · ${fmt(r.durationMs)} ms</p>
<p id="verdict" class="${r.ok ? "ok" : "bad"}">${verdict}</p>
<p id="totals">${fmt(t.objects)} objects · ${fmt(t.messages)} messages · ${fmt(t.distinctIds)} distinct ids · ${fmt(t.duplicates)} duplicates · ${fmt(t.bytes)} bytes · ${fmt(t.problems)} problems</p>
${counts ? `<ul class="counts">${counts}</ul>` : ""}
<h2>Messages and duplicates per hour</h2>
${chart(r)}
<h2>Per hour</h2>
${hoursTable(r)}
<h2>Problems</h2>
${problemsTable(r)}
</body>
</html>
`;
}
