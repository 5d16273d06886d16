import cliProgress from "cli-progress";
import type { Replay, ReplayResult } from "../replay/replay.js";

/**
 * Progress for a terminal: a cli-progress bar over the objects to read, with messages sent, rate and ETA. Log lines
 * (warnings and errors only, on a terminal) are printed above the bar.
 */
export class TerminalProgress {
  private readonly multi: cliProgress.MultiBar;
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();

  constructor(stream: NodeJS.WritableStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format: "replay |{bar}| {percentage}% | objects {value}/{total} | sent {sent} | failed {failed} | {rate} msg/s | ETA {eta_formatted}",
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

  start(replay: Replay): void {
    this.replay = replay;
    this.timer = setInterval(() => this.render(), 200);
  }

  private replay: Replay | undefined;

  private render(): void {
    const replay = this.replay;
    if (!replay) return;
    const s = replay.stats;
    const elapsed = (performance.now() - this.t0) / 1000;
    const payload = { sent: s.sent, failed: s.failed, rate: elapsed > 0 ? Math.round(s.sent / elapsed) : 0 };
    if (!this.bar) {
      if (replay.objectsTotal === 0 && s.listed === 0) return;
      this.bar = this.multi.create(Math.max(1, replay.objectsTotal), 0, payload);
    }
    this.bar.setTotal(Math.max(1, replay.objectsTotal));
    this.bar.update(s.objectsDone, payload);
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
