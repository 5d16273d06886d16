#!/usr/bin/env node
/**
 * `sqs-archiver [command]`: the package's command-line entry (package.json `bin`). With no command (or `local`) it
 * is exactly `node dist/main.js`; `replay` and `athena-ddl` read the archive back. Like main.ts, this module touches
 * `process` (argv, env, signals, stdout, exit code); everything it calls takes values in.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { ConfigError } from "../errors.js";
import { createLogger } from "../logger.js";
import { athenaDdl } from "../replay/athena.js";
import { readCheckpoint } from "../replay/checkpoint.js";
import { createReplayClients } from "../replay/clients.js";
import { UsageError } from "../replay/errors.js";
import { Replay, type ReplayResult } from "../replay/replay.js";
import { humanDryRun, humanSummary, TerminalProgress } from "./progress.js";
import { ATHENA_HELP, parseAthenaArgs, parseReplayArgs, REPLAY_HELP, resolveResume } from "./replay-args.js";
import { packageVersion } from "../version.js";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_CONFIG = 78;

const HELP = `Usage: sqs-archiver [command] [options]

Commands:
  (none)       run the archiver service from environment configuration (same as node dist/main.js)
  local        embedded SQS+S3 emulator and the service (npm run local)
  replay       send archived messages of a time window to a queue again (sqs-archiver replay --help)
  athena-ddl   print the Athena table and dedupe view for the archive (sqs-archiver athena-ddl --help)
  help         this help; --version prints the version`;


function fail(err: unknown, command: string): never {
  if (err instanceof UsageError) {
    process.stderr.write(`sqs-archiver ${command}: ${err.message}\nTry 'sqs-archiver ${command} --help'.\n`);
    process.exit(EXIT_USAGE);
  }
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`sqs-archiver ${command}: ${err.code}: ${p}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw err;
}

function exitCode(r: ReplayResult): number {
  if (r.stopped?.reason === "refused") return EXIT_USAGE;
  if (r.stopped?.reason === "interrupted") return 130;
  if (r.stopped?.reason === "fatal" || r.stats.failed > 0 || r.stats.badContent > 0) return EXIT_FAILED;
  return 0;
}

async function runReplay(argv: string[]): Promise<void> {
  let opts;
  let saved;
  let window;
  try {
    opts = parseReplayArgs(argv, process.env, Date.now());
    if (opts === "help") {
      process.stdout.write(`${REPLAY_HELP}\n`);
      return;
    }
    saved = opts.checkpoint ? readCheckpoint(opts.checkpoint) : undefined;
    window = resolveResume(opts, saved);
  } catch (err) {
    fail(err, "replay");
  }
  const tty = Boolean(process.stdout.isTTY);
  const progress = tty ? new TerminalProgress(process.stderr) : undefined;
  // On a terminal log lines (warnings and errors) go above the progress bar; otherwise JSON lines on stdout,
  // written synchronously so the last ones survive process.exit.
  const destination = progress
    ? new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const line of chunk.toString("utf8").split("\n")) if (line) progress.log(line);
          cb();
        },
      })
    : pino.destination({ dest: 1, sync: true });
  const log = createLogger((tty && opts.logLevel === "info" ? "warn" : opts.logLevel) as "info", destination);
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
    log,
  );
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(130);
    log.warn({ event: "signal", signal }, "stopping after the requests in flight (again to quit at once)");
    replay.stop("interrupted", `stopped by ${signal}`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let ticker: NodeJS.Timeout | undefined;
  if (progress) progress.start(replay);
  else {
    ticker = setInterval(() => log.info({ event: "replay_progress", objectsTotal: replay.objectsTotal, ...replay.stats }, "progress"), 2000);
  }
  const result = await replay.run();
  if (ticker) clearInterval(ticker);
  progress?.stop();
  clients.destroy();
  const code = exitCode(result);
  const s = result.stats;
  const summary = {
    level: "info",
    time: new Date().toISOString(),
    service: "sqs-archiver",
    event: "replay_summary",
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
    msg: humanSummary(result, opts.dryRun),
  };
  if (result.dryRun) {
    const dry = { level: "info", time: new Date().toISOString(), service: "sqs-archiver", event: "dry_run", ...result.dryRun, msg: "dry run: nothing sent" };
    if (tty) process.stdout.write(`${humanDryRun(result).join("\n")}\n`);
    else process.stdout.write(`${JSON.stringify(dry)}\n`);
  }
  if (result.stopped?.reason === "refused") process.stderr.write(`sqs-archiver replay: refused: ${result.stopped.detail}\n`);
  process.stdout.write(tty ? `${summary.msg}\n` : `${JSON.stringify(summary)}\n`);
  process.exit(code);
}

function runAthena(argv: string[]): void {
  try {
    const o = parseAthenaArgs(argv, process.env);
    process.stdout.write(o === "help" ? `${ATHENA_HELP}\n` : athenaDdl(o));
  } catch (err) {
    fail(err, "athena-ddl");
  }
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "replay":
    runReplay(rest).catch((err: unknown) => {
      process.stderr.write(`${JSON.stringify({ level: "fatal", event: "replay_crashed", msg: String((err as Error)?.stack ?? err) })}\n`);
      process.exit(EXIT_FAILED);
    });
    break;
  case "athena-ddl":
    runAthena(rest);
    break;
  case "help":
  case "--help":
  case "-h":
    process.stdout.write(`${HELP}\n`);
    break;
  case "--version":
  case "-v":
    process.stdout.write(`${packageVersion()}\n`);
    break;
  case undefined:
  case "local":
    // The service (or local mode): main.ts dispatches on argv[2] when imported.
    await import("../main.js");
    break;
  default:
    process.stderr.write(`sqs-archiver: unknown command ${JSON.stringify(command)}\n\n${HELP}\n`);
    process.exit(EXIT_USAGE);
}
