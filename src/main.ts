import { join } from "node:path";
import { loadConfig, type Config } from "./config.js";
import { ConfigError } from "./errors.js";
import { createLogger } from "./logger.js";
import { ArchiverService } from "./service.js";
import { packageVersion } from "./version.js";

/** The only module that touches `process`: env, argv, signals, stdout and the exit code. */

const EXIT_CONFIG = 78; // sysexits EX_CONFIG


/**
 * Writes the last lines on stderr, then exits once they are out. stderr on a pipe is asynchronous in Node (POSIX), so
 * `write(); process.exit()` can drop them when the pipe is full; the backstop exits anyway if nobody reads it.
 */
function exitAfterStderr(text: string, code: number): void {
  setTimeout(() => process.exit(code), 2000).unref();
  process.stderr.write(text, () => process.exit(code));
}

function onSignals(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) {
        // A second Ctrl-C means "now": in a pod only SIGKILL follows SIGTERM, so this is interactive use.
        if (signal === "SIGINT") process.exit(130);
        return;
      }
      stopping = true;
      void stop(signal);
    });
  }
}

async function runService(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, { memoryLimitBytes: process.constrainedMemory() });
  } catch (err) {
    if (err instanceof ConfigError) {
      exitAfterStderr(err.problems.map((p) => `sqs-archiver: ${err.code}: ${p}\n`).join(""), EXIT_CONFIG);
      return;
    }
    throw err;
  }
  // Log lines are written synchronously (see logger.ts): whatever was logged before process.exit is in the pipe.
  const log = createLogger(config.logLevel);
  const service = new ArchiverService({ config, log, version: packageVersion(), nodeVersion: process.versions.node });
  onSignals(async (signal) => {
    log.info({ event: "signal", signal }, "signal received");
    // Backstop: exit even if something in the drain hangs past the budget.
    setTimeout(() => process.exit(1), (config.shutdownTimeoutSeconds + 5) * 1000).unref();
    await service.stop();
    process.exit(0);
  });
  await service.start();
}

async function runLocalMode(): Promise<void> {
  const { runLocal } = await import("./cli/local.js");
  const log = createLogger((process.env.LOG_LEVEL as "debug" | undefined) ?? "debug");
  const handle = await runLocal({
    dataDir: process.env.LOCAL_DATA_DIR ?? join(process.cwd(), ".local-data"),
    port: Number(process.env.LOCAL_PORT ?? 4566),
    queueName: process.env.LOCAL_QUEUE_NAME ?? "sqs-archiver-local",
    bucket: process.env.LOCAL_BUCKET_NAME ?? "sqs-archiver-local",
    env: process.env,
    log,
    version: packageVersion(),
    nodeVersion: process.versions.node,
    // Local mode is interactive: the banner shares stdout with the JSON log lines.
    print: (line) => process.stdout.write(`${line}\n`),
  });
  onSignals(async () => {
    await handle.stop();
    process.exit(0);
  });
}

process.on("unhandledRejection", (err) => {
  exitAfterStderr(`${JSON.stringify({ level: "fatal", event: "unhandled_rejection", msg: String((err as Error)?.stack ?? err) })}\n`, 1);
});

const mode = process.argv[2];
// `node dist/main.js replay …` (the image's entry point) reaches the same commands as the `sqs-archiver` bin.
const CLI_COMMANDS = new Set(["replay", "compact", "verify", "athena-ddl", "help", "--help", "-h", "--version"]);
const runCli = async () => void (await import("./cli/cli.js"));
const run = mode === "local" ? runLocalMode : mode !== undefined && CLI_COMMANDS.has(mode) ? runCli : runService;
run().catch((err: unknown) => {
  exitAfterStderr(`${JSON.stringify({ level: "fatal", event: "startup_failed", msg: String((err as Error)?.stack ?? err) })}\n`, 1);
});
