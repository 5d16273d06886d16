import type { Figures, VerifyReport } from "./report.js";

/** The report as a person reads it on a terminal: the per-hour table, the problems, one summary line (pure). */

const COLUMNS: Array<[keyof Figures, string]> = [
  ["objects", "objects"],
  ["messages", "messages"],
  ["distinctIds", "distinct ids"],
  ["duplicates", "duplicates"],
  ["bytes", "bytes"],
  ["problems", "problems"],
];

function row(label: string, f: Figures): string {
  return `${label.padEnd(17)}${COLUMNS.map(([k, h]) => String(f[k]).padStart(Math.max(h.length, 9) + 2)).join("")}`;
}

export function hourTable(r: VerifyReport): string[] {
  const out = [`${"hour (UTC)".padEnd(17)}${COLUMNS.map(([, h]) => h.padStart(Math.max(h.length, 9) + 2)).join("")}`];
  for (const h of r.hours) out.push(row(h.hour.slice(0, 16).replace("T", " "), h));
  out.push(row("total", r.totals));
  return out;
}

/** Terminal text never carries raw control characters from the archive (a key or an error excerpt). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

export function problemLines(r: VerifyReport): string[] {
  if (r.problems.length === 0) return [];
  const out = ["", `problems (${r.totals.problems}):`];
  for (const p of r.problems) {
    out.push(`  ${p.code.padEnd(20)} ${clean(p.key)}${p.line ? `:${p.line}` : ""}${p.messageId ? `  message ${clean(p.messageId)}` : ""}`);
    out.push(`  ${"".padEnd(20)} ${clean(p.detail)}`);
  }
  if (r.problemsOmitted > 0) out.push(`  … and ${r.problemsOmitted} more (raise --max-problems to list them)`);
  return out;
}

export function humanVerdict(r: VerifyReport): string {
  const t = r.totals;
  const figures = `${t.objects} objects, ${t.messages} messages (${t.distinctIds} distinct ids, ${t.duplicates} duplicates) in ${r.hours.length} hours, ${(r.durationMs / 1000).toFixed(1)} s`;
  if (r.stopped) return `verify: stopped (${r.stopped.reason}: ${clean(r.stopped.detail)}) after ${figures}; ${t.problems} problems so far`;
  if (r.ok) return `verify: OK — ${figures}, no problems`;
  const codes = Object.entries(r.problemCounts)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${c} ${n}`)
    .join(", ");
  return `verify: ${t.problems} problems (${codes}) — ${figures}`;
}
