import { Compactor, type CompactResult } from "../compact/engine.js";
import { createCompactS3 } from "../compact/s3.js";
import { packageVersion } from "../version.js";
import { COMPACT_HELP, parseCompactArgs, type CompactCliOptions } from "./compact-args.js";
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, type CommandIo, type CommandSpec } from "./runner.js";

/** `sqs-archiver compact`: options from compact-args.ts, the work in src/compact/, the rest by the runner. */

function exitCode(r: CompactResult): number {
  if (r.interrupted) return EXIT_INTERRUPTED;
  const s = r.stats;
  return s.hoursConflict > 0 || s.hoursFailed > 0 || s.badContent > 0 ? EXIT_FAILED : EXIT_OK;
}

function human(opts: CompactCliOptions, r: CompactResult): string {
  const s = r.stats;
  const verb = opts.dryRun ? "would write" : "wrote";
  return [
    `compact${opts.dryRun ? " (dry run)" : ""}: ${s.hours} hours (${s.hoursWritten} ${opts.dryRun ? "to write" : "written"}, ${s.hoursUpToDate} up to date, ${s.hoursUnsettled} unsettled, ${s.hoursConflict} conflicts, ${s.hoursFailed} failed)`,
    `  sources ${s.sources} (${s.sourcesRead} read), rows in ${s.rowsIn}, ${verb} ${s.rowsOut} rows, duplicates dropped ${s.duplicatesDropped}, already compacted ${s.alreadyCompacted}, late rows ${s.lateRows}`,
    `  bytes in ${s.bytesIn}, bytes out ${s.bytesOut}, ${(r.durationMs / 1000).toFixed(1)} s`,
  ].join("\n");
}

async function run(opts: CompactCliOptions, io: CommandIo): Promise<number> {
  const s3 = createCompactS3(opts.aws);
  const compactor = new Compactor(
    {
      sinceMs: opts.since.ms,
      untilMs: opts.until.ms,
      nowMs: opts.nowMs,
      settleMs: opts.settleMs,
      bucket: opts.bucket,
      prefix: opts.prefix,
      toPrefix: opts.toPrefix,
      dryRun: opts.dryRun,
      concurrency: opts.concurrency,
      spillDir: opts.spillDir,
      memoryLimit: opts.memoryLimit,
      threads: opts.threads,
      toolVersion: packageVersion(),
    },
    s3,
    io.log,
  );
  io.onInterrupt(() => compactor.stop());
  io.progress(
    {
      total: () => Math.max(1, compactor.hoursTotal),
      done: () => compactor.hoursDone,
      payload: (elapsed) => ({ ...compactor.stats, rate: elapsed > 0 ? Math.round(compactor.stats.rowsIn / elapsed) : 0 }),
    },
    "compact_progress",
  );
  const result = await compactor.run();
  s3.destroy();
  const code = exitCode(result);
  io.summary(
    "compact_summary",
    { dryRun: opts.dryRun, toPrefix: opts.toPrefix, ...result.stats, durationMs: result.durationMs, ...(result.interrupted ? { stopped: "interrupted" } : {}), exitCode: code },
    human(opts, result),
  );
  return code;
}

export const compactCommand: CommandSpec<CompactCliOptions> = {
  name: "compact",
  help: COMPACT_HELP,
  progressFormat: "compact |{bar}| {percentage}% | hours {value}/{total} | rows in {rowsIn} | out {rowsOut} | {rate} rows/s | ETA {eta_formatted}",
  parse: parseCompactArgs,
  run,
};
