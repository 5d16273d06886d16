import { readCheckpoint } from "../replay/checkpoint.js";
import { createReplayClients } from "../replay/clients.js";
import { Replay, type ReplayResult } from "../replay/replay.js";
import { humanDryRun, humanSummary } from "./progress.js";
import { parseReplayArgs, REPLAY_HELP, resolveResume, type ReplayCliOptions } from "./replay-args.js";
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, type CommandIo, type CommandSpec } from "./runner.js";

/** `sqs-archiver replay`: the options parsed by replay-args.ts, the work done by src/replay/, the rest by the runner. */

function exitCode(r: ReplayResult): number {
  if (r.stopped?.reason === "refused") return EXIT_USAGE;
  if (r.stopped?.reason === "interrupted") return EXIT_INTERRUPTED;
  if (r.stopped?.reason === "fatal" || r.stopped?.reason === "target" || r.stats.failed > 0 || r.stats.badContent > 0) return EXIT_FAILED;
  return EXIT_OK;
}

function summaryFields(opts: ReplayCliOptions, result: ReplayResult, code: number): Record<string, unknown> {
  const s = result.stats;
  return {
    dryRun: opts.dryRun,
    listed: s.listed,
    read: s.read,
    matched: s.matched,
    sent: s.sent,
    skippedDuplicates: s.skippedDuplicates,
    failed: s.failed,
    badContent: s.badContent,
    alreadySent: s.alreadySent,
    outsideWindow: s.outsideWindow,
    filteredOut: s.filteredOut,
    objectsSkipped: s.objectsSkipped,
    s3Requests: s.s3ListRequests + s.s3GetRequests,
    sqsRequests: s.sqsRequests,
    bytesRead: s.bytesRead,
    durationMs: result.durationMs,
    messagesPerSecond: result.durationMs > 0 ? Math.round((s.sent * 1000) / result.durationMs) : 0,
    ...(result.stopped ? { stopped: result.stopped.reason, reason: result.stopped.detail } : {}),
    exitCode: code,
  };
}

async function run(opts: ReplayCliOptions, io: CommandIo): Promise<number> {
  const saved = opts.checkpoint ? readCheckpoint(opts.checkpoint) : undefined;
  const window = resolveResume(opts, saved);
  const clients = createReplayClients(opts.aws);
  const replay = new Replay(
    {
      sinceMs: window.sinceMs,
      untilMs: window.untilMs,
      to: opts.to,
      bucket: opts.bucket,
      prefix: opts.prefix,
      filters: opts.filters,
      filterTexts: opts.filterTexts,
      rate: opts.rate,
      concurrency: opts.concurrency,
      dryRun: opts.dryRun,
      yes: opts.yes,
      provenance: opts.provenance,
      checkpointFile: opts.checkpoint,
      checkpoint: saved,
    },
    clients.s3,
    clients.sqs,
    io.log,
  );
  io.onInterrupt((signal) => replay.stop("interrupted", `stopped by ${signal}`));
  io.progress(
    {
      total: () => (replay.objectsTotal === 0 && replay.stats.listed === 0 ? 0 : Math.max(1, replay.objectsTotal)),
      done: () => replay.stats.objectsDone,
      payload: (elapsed) => ({
        objectsTotal: replay.objectsTotal,
        ...replay.stats,
        rate: elapsed > 0 ? Math.round(replay.stats.sent / elapsed) : 0,
      }),
    },
    "replay_progress",
  );
  const result = await replay.run();
  clients.destroy();
  const code = exitCode(result);
  if (result.dryRun) {
    const dry = { level: "info", time: new Date().toISOString(), service: "sqs-archiver", event: "dry_run", ...result.dryRun, msg: "dry run: nothing sent" };
    io.print(io.tty ? humanDryRun(result).join("\n") : JSON.stringify(dry));
  }
  if (result.stopped?.reason === "refused") io.printError(`sqs-archiver replay: refused: ${result.stopped.detail}`);
  if (result.stopped?.reason === "target") io.printError(`sqs-archiver replay: ${result.stopped.detail}`);
  io.summary("replay_summary", summaryFields(opts, result, code), humanSummary(result, opts.dryRun));
  return code;
}

export const replayCommand: CommandSpec<ReplayCliOptions> = {
  name: "replay",
  help: REPLAY_HELP,
  progressFormat: "replay |{bar}| {percentage}% | objects {value}/{total} | sent {sent} | failed {failed} | {rate} msg/s | ETA {eta_formatted}",
  parse: parseReplayArgs,
  run,
};
