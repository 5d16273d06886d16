import { Writable } from "node:stream";
import { pino, type DestinationStream } from "pino";
import type { LogLevel } from "../config.js";
import { ConfigError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { UsageError } from "../replay/errors.js";
import { TerminalProgress, type ProgressSource } from "./progress.js";

/**
 * The plumbing every archive command shares (replay, compact, verify, …): argument and configuration errors printed
 * and mapped to exit codes, a logger that writes above the progress bar on a terminal and JSON lines otherwise, the
 * progress itself, Ctrl-C handling and the summary line. A command supplies only its parser and its work.
 */

import { EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";

export { EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The slice of `process` the runner needs; the entry point passes the real one. */
export interface Proc {
  env: Env;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  on(signal: "SIGINT" | "SIGTERM", handler: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): never;
}

export interface CommandIo {
  log: Logger;
  /** stdout is a terminal: print tables and human lines instead of JSON. */
  tty: boolean;
  /** A line on stdout. Results come after the work: the first one ends the progress display. */
  print(line: string): void;
  /** A line on stderr. */
  printError(line: string): void;
  /** Shows progress while the work runs: a bar on a terminal, a JSON progress line every 2 s otherwise. */
  progress(source: ProgressSource, event: string): void;
  /** Called once on the first SIGINT/SIGTERM (a second one exits 130 at once). */
  onInterrupt(handler: (signal: string) => void): void;
  /** The final line: JSON (event + fields + msg) off a terminal, `human` on one. */
  summary(event: string, fields: Record<string, unknown>, human: string): void;
}

export interface CommandSpec<O extends { logLevel: string }> {
  name: string;
  help: string;
  /** Progress bar format (cli-progress tokens: {bar}, {percentage}, {value}, {total}, {eta_formatted} and the payload's). */
  progressFormat?: string;
  /** Pure: throws UsageError (exit 2) or ConfigError (exit 78). */
  parse(argv: string[], env: Env, nowMs: number): O | "help";
  /** Returns the exit code. */
  run(opts: O, io: CommandIo): Promise<number>;
  /** True when stdout carries one document (verify --json): log and progress lines then go to stderr. */
  stdoutIsDocument?(opts: O): boolean;
}

/** Prints a usage or configuration error the same way for every command; other errors are not this function's. */
export function usageExit(err: unknown, command: string, proc: Pick<Proc, "stderr">): number | undefined {
  if (err instanceof UsageError) {
    proc.stderr.write(`sqs-archiver ${command}: ${err.message}\nTry 'sqs-archiver ${command} --help'.\n`);
    return EXIT_USAGE;
  }
  if (err instanceof ConfigError) {
    for (const p of err.problems) proc.stderr.write(`sqs-archiver ${command}: ${err.code}: ${p}\n`);
    return EXIT_CONFIG;
  }
  return undefined;
}

function jsonLine(event: string, fields: Record<string, unknown>, msg: string): string {
  return JSON.stringify({ level: "info", time: new Date().toISOString(), service: "sqs-archiver", event, ...fields, msg });
}

function parseOrExit<O>(spec: CommandSpec<O & { logLevel: string }>, argv: string[], proc: Proc): { opts: O | "help" } | { code: number } {
  try {
    return { opts: spec.parse(argv, proc.env, Date.now()) };
  } catch (err) {
    const code = usageExit(err, spec.name, proc);
    if (code === undefined) throw err;
    return { code };
  }
}

/** A logger that writes above the progress bar on a terminal, JSON lines on stdout otherwise. */
function commandLogger(bar: TerminalProgress | undefined, level: string, tty: boolean, dest: 1 | 2): Logger {
  // Written synchronously off a terminal, so the last lines survive process.exit.
  const destination: DestinationStream = bar
    ? new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const line of chunk.toString("utf8").split("\n")) if (line) bar.log(line);
          cb();
        },
      })
    : pino.destination({ dest, sync: true });
  // On a terminal only warnings and errors interrupt the bar.
  return createLogger((tty && level === "info" ? "warn" : level) as LogLevel, destination);
}

function interruptHandler(proc: Proc, log: Logger) {
  return (handler: (signal: string) => void) => {
    let signals = 0;
    const on = (signal: NodeJS.Signals) => {
      if (++signals > 1) proc.exit(EXIT_INTERRUPTED);
      log.warn({ event: "signal", signal }, "stopping after the requests in flight (again to quit at once)");
      handler(signal);
    };
    proc.on("SIGINT", on);
    proc.on("SIGTERM", on);
  };
}

/** `documentOnStdout`: stdout carries one document (verify --json), so log and progress lines go to stderr. */
function commandIo(spec: { progressFormat?: string }, logLevel: string, proc: Proc, documentOnStdout: boolean): { io: CommandIo; stopProgress(): void } {
  const tty = Boolean(proc.stdout.isTTY);
  const bar = tty && spec.progressFormat ? new TerminalProgress(proc.stderr, spec.progressFormat) : undefined;
  const log = commandLogger(bar, logLevel, tty, documentOnStdout ? 2 : 1);
  let ticker: NodeJS.Timeout | undefined;
  let barStopped = false;
  const stopProgress = () => {
    if (ticker) clearInterval(ticker);
    if (bar && !barStopped) bar.stop();
    barStopped = true;
  };
  const io: CommandIo = {
    log,
    tty,
    print(line) {
      stopProgress();
      proc.stdout.write(`${line}\n`);
    },
    printError: (line) => void proc.stderr.write(`${line}\n`),
    progress(source, event) {
      if (bar) bar.start(source);
      else ticker = setInterval(() => log.info({ event, total: source.total(), done: source.done(), ...source.payload(0) }, "progress"), 2000);
    },
    onInterrupt: interruptHandler(proc, log),
    summary(event, fields, human) {
      stopProgress();
      proc.stdout.write(`${tty ? human : jsonLine(event, fields, human)}\n`);
    },
  };
  return { io, stopProgress };
}

export async function runCommand<O extends { logLevel: string }>(spec: CommandSpec<O>, argv: string[], proc: Proc): Promise<number> {
  const parsed = parseOrExit<O>(spec, argv, proc);
  if ("code" in parsed) return parsed.code;
  const opts = parsed.opts;
  if (opts === "help") {
    proc.stdout.write(`${spec.help}\n`);
    return EXIT_OK;
  }
  const { io, stopProgress } = commandIo(spec, opts.logLevel, proc, spec.stdoutIsDocument?.(opts) ?? false);
  try {
    return await spec.run(opts, io);
  } catch (err) {
    stopProgress();
    // A usage or configuration problem found only once the command runs (a checkpoint file for another job).
    const code = usageExit(err, spec.name, proc);
    if (code === undefined) throw err;
    return code;
  } finally {
    stopProgress();
  }
}
