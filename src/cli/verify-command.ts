import { writeFile } from "node:fs/promises";
import { createReplayClients } from "../replay/clients.js";
import { packageVersion } from "../version.js";
import { renderHtml } from "../verify/html.js";
import type { VerifyReport } from "../verify/report.js";
import { hourTable, humanVerdict, problemLines } from "../verify/text.js";
import { Verifier } from "../verify/verify.js";
import { parseVerifyArgs, VERIFY_HELP, type VerifyCliOptions } from "./verify-args.js";
import { EXIT_FAILED, type CommandIo, type CommandSpec } from "./runner.js";

/** `sqs-archiver verify`: options from verify-args.ts, the work by src/verify/, output and exit code here and in the runner. */

function summaryFields(r: VerifyReport): Record<string, unknown> {
  return {
    ok: r.ok,
    ...r.totals,
    hours: r.hours.length,
    problemCounts: r.problemCounts,
    ignoredKeys: r.ignoredKeys,
    s3Requests: r.s3Requests.listObjectsV2 + r.s3Requests.getObject,
    durationMs: r.durationMs,
    ...(r.stopped ? { stopped: r.stopped.reason, reason: r.stopped.detail } : {}),
    exitCode: r.exitCode,
  };
}

async function run(opts: VerifyCliOptions, io: CommandIo): Promise<number> {
  const clients = createReplayClients(opts.aws);
  const verifier = new Verifier(
    { sinceMs: opts.sinceMs, untilMs: opts.untilMs, bucket: opts.bucket, prefix: opts.prefix, compactedPrefix: opts.compactedPrefix, concurrency: opts.concurrency, maxProblems: opts.maxProblems, version: packageVersion() },
    clients.s3,
    io.log,
  );
  io.onInterrupt((signal) => verifier.stop("interrupted", `stopped by ${signal}`));
  io.progress(
    {
      total: () => verifier.objectsTotal,
      done: () => verifier.objectsDone,
      payload: (elapsed) => ({
        objectsTotal: verifier.objectsTotal,
        objectsDone: verifier.objectsDone,
        messages: verifier.messages,
        problems: verifier.problemsFound,
        rate: elapsed > 0 ? Math.round(verifier.messages / elapsed) : 0,
      }),
    },
    "verify_progress",
  );
  const report = await verifier.run();
  clients.destroy();
  let code = report.exitCode;
  if (opts.html) {
    try {
      await writeFile(opts.html, renderHtml(report), "utf8");
      io.log.info({ event: "verify_html_written", file: opts.html }, "HTML report written");
    } catch (err) {
      io.printError(`sqs-archiver verify: cannot write --html ${opts.html}: ${(err as Error).message}`);
      code = Math.max(code, EXIT_FAILED);
    }
  }
  if (opts.json) io.print(JSON.stringify({ ...report, exitCode: code }));
  else if (io.tty) {
    io.print([...hourTable(report), ...problemLines(report)].join("\n"));
    if (opts.html) io.print(`HTML report: ${opts.html}`);
    io.summary("verify_summary", {}, humanVerdict(report));
  } else {
    // Off a terminal, one JSON line per hour and per problem, then the summary: greppable and machine-readable.
    for (const h of report.hours) io.print(JSON.stringify({ event: "verify_hour", ...h }));
    for (const p of report.problems) io.print(JSON.stringify({ event: "verify_problem", ...p }));
    io.summary("verify_summary", { ...summaryFields(report), exitCode: code }, humanVerdict(report));
  }
  return code;
}

export const verifyCommand: CommandSpec<VerifyCliOptions> = {
  name: "verify",
  help: VERIFY_HELP,
  progressFormat: "verify |{bar}| {percentage}% | objects {value}/{total} | messages {messages} | problems {problems} | {rate} msg/s | ETA {eta_formatted}",
  parse: parseVerifyArgs,
  run,
  stdoutIsDocument: (opts) => opts.json,
};
