import cliProgress from "cli-progress";
import type { ReplayResult } from "../replay/replay.js";

/** What a progress bar reads on each redraw: items done of a total, and the figures shown beside them. */
export interface ProgressSource {
  /** 0 while the total is not known yet (listing): no bar is drawn until it is. */
  total(): number;
  done(): number;
  /** Named values for the bar's format string. */
  payload(elapsedSeconds: number): Record<string, string | number>;
}

const MIN_BAR = 10;
const MAX_BAR = 40;

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Whole words from the left while they fit; nothing when even the first one does not. */
function fitWords(text: string, width: number): string {
  const words = text.split(" ");
  while (words.length > 1 && words.join(" ").length > width) words.pop();
  const line = words.join(" ");
  return line.length <= width ? line : "";
}

/**
 * One progress line no wider than `columns - 1`, so the terminal neither wraps nor cuts it: a figure is shown whole
 * or not at all. The format's ` | `-separated fields are dropped from the right and the bar narrows (then goes) until
 * the line fits; cli-progress itself would cut the line at the terminal's width, mid-number.
 */
export function progressLine(format: string, values: Record<string, string | number>, progress: number, columns: number): string {
  const width = Math.max(1, columns - 1);
  const p = Math.min(1, Math.max(0, Number.isFinite(progress) ? progress : 0));
  let fields = format.replace(/\{(\w+)\}/g, (m, k: string) => (k === "bar" ? m : values[k] !== undefined ? String(values[k]) : m)).split(" | ");
  const render = (bar: number) => fields.join(" | ").replace("{bar}", "\u2588".repeat(Math.round(p * bar)) + "\u2591".repeat(bar - Math.round(p * bar)));
  for (;;) {
    const hasBar = fields.some((f) => f.includes("{bar}"));
    const fixed = render(0).length;
    if (!hasBar && fixed <= width) return render(0);
    if (!hasBar && fields.length === 1) return fitWords(render(0), width);
    const bar = Math.min(MAX_BAR, width - fixed);
    if (hasBar && bar >= MIN_BAR) return render(bar);
    const plain = fields.filter((f) => !f.includes("{bar}"));
    if (hasBar && plain.length <= 1) fields = fields.map((f) => f.replace(/\s*\|?\{bar\}\|?/, "")).filter(Boolean);
    else fields = fields.slice(0, fields.lastIndexOf(plain[plain.length - 1] as string));
  }
}

/**
 * Progress for a terminal: a cli-progress bar redrawn from a ProgressSource. Log lines (warnings and errors only, on a
 * terminal) are printed above the bar.
 */
export class TerminalProgress {
  private readonly multi: cliProgress.MultiBar;
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private source: ProgressSource | undefined;
  private readonly t0 = performance.now();

  constructor(stream: NodeJS.WritableStream, format: string) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format: (_options, params, payload: Record<string, string | number>) =>
          progressLine(
            format,
            { ...payload, percentage: Math.floor(params.progress * 100), value: params.value, total: params.total, eta_formatted: formatEta(params.eta) },
            params.progress,
            params.maxWidth,
          ),
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  /** For log lines while the bar is drawn. */
  log(line: string): void {
    this.multi.log(line.endsWith("\n") ? line : `${line}\n`);
  }

  start(source: ProgressSource): void {
    this.source = source;
    this.timer = setInterval(() => this.render(), 200);
  }

  private render(): void {
    const src = this.source;
    if (!src) return;
    const payload = src.payload((performance.now() - this.t0) / 1000);
    const total = src.total();
    if (!this.bar) {
      if (total === 0) return;
      this.bar = this.multi.create(Math.max(1, total), 0, payload);
    }
    this.bar.setTotal(Math.max(1, total));
    this.bar.update(src.done(), payload);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.render();
    this.multi.stop();
  }
}

export function humanSummary(r: ReplayResult, dryRun: boolean): string {
  const s = r.stats;
  const secs = r.durationMs / 1000;
  const parts = [
    `listed ${s.listed} objects`,
    `read ${s.read}`,
    `matched ${s.matched}`,
    dryRun ? `would send ${r.dryRun?.messages ?? 0}` : `sent ${s.sent}`,
    `skipped as duplicates ${s.skippedDuplicates}`,
    `failed ${s.failed}`,
  ];
  if (s.badContent) parts.push(`bad content ${s.badContent}`);
  if (s.alreadySent) parts.push(`already sent (checkpoint) ${s.alreadySent}`);
  return `replay${dryRun ? " (dry run)" : ""}: ${parts.join(", ")} in ${secs.toFixed(1)} s${dryRun ? "" : ` (${secs > 0 ? Math.round(s.sent / secs) : 0} msg/s)`}${r.stopped ? ` — stopped: ${r.stopped.reason}` : ""}`;
}

export function humanDryRun(r: ReplayResult): string[] {
  const d = r.dryRun;
  if (!d) return [];
  const out = ["hour (UTC)      messages        bytes"];
  for (const h of d.hours) out.push(`${h.hour}  ${String(h.messages).padStart(11)}  ${String(h.bytes).padStart(11)}`);
  out.push(`total           ${String(d.messages).padStart(11)}  ${String(d.bytes).padStart(11)}`);
  out.push(`S3 requests: ${d.s3Requests.listObjectsV2} ListObjectsV2 + ${d.s3Requests.getObject} GetObject; SQS requests: ${d.sqsRequests.sendMessageBatch} SendMessageBatch`);
  if (d.sampleMessageIds.length) out.push(`sample message ids: ${d.sampleMessageIds.join(" ")}`);
  return out;
}
