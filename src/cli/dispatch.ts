import { configWarnings, loadConfig, type Config } from "../config.js";
import { ArchiverError, ConfigError, PortInUseError } from "../errors.js";
import { createLogger } from "../logger.js";
import { ArchiverService } from "../service.js";
import { packageVersion } from "../version.js";
import { LOCAL_HELP, parseLocalArgs, runLocal } from "./local.js";
import { EXIT_CONFIG, EXIT_FAILED, EXIT_USAGE } from "./exit-codes.js";
import type { CommandSpec } from "./runner.js";

/**
 * What both entry points run (`node dist/main.js …` in the image, `sqs-archiver …` from the package's bin) once they
 * have checked the Node version: the service, local mode, or a command of the table in commands.ts (loaded only for
 * a command, so the service process holds none of the CLI's modules). Nothing here reads the global process: the
 * entry passes it in.
 */

type Proc = NodeJS.Process;

/**
 * Writes the last lines on stderr, then exits once they are out. stderr on a pipe is asynchronous in Node (POSIX), so
 * `write(); process.exit()` can drop them when the pipe is full; the backstop exits anyway if nobody reads it.
 */
function exitAfterStderr(proc: Proc, text: string, code: number): void {
  setTimeout(() => proc.exit(code), 2000).unref();
  proc.stderr.write(text, () => proc.exit(code));
}

function fatalLine(event: string, err: unknown): string {
  return `${JSON.stringify({ level: "fatal", event, msg: String((err as Error)?.stack ?? err) })}\n`;
}

function onSignals(proc: Proc, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    proc.on(signal, () => {
      if (stopping) {
        // A second Ctrl-C means "now": in a pod only SIGKILL follows SIGTERM, so this is interactive use.
        if (signal === "SIGINT") proc.exit(130);
        return;
      }
      stopping = true;
      void stop(signal);
    });
  }
}

/** Configuration and port problems are one line each and an exit code, never a stack trace. */
function startupProblem(proc: Proc, err: unknown, command: string): boolean {
  if (err instanceof ConfigError) {
    exitAfterStderr(proc, err.problems.map((p) => `${command}: ${err.code}: ${p}\n`).join(""), EXIT_CONFIG);
    return true;
  }
  if (err instanceof PortInUseError) {
    exitAfterStderr(proc, `${command}: ${err.code}: ${err.message}\n`, EXIT_CONFIG);
    return true;
  }
  return false;
}

async function runService(argv: string[], proc: Proc): Promise<void> {
  if (argv.length > 0) return usage(proc, `unknown option ${JSON.stringify(argv[0])}`);
  let config: Config;
  try {
    config = loadConfig(proc.env, { memoryLimitBytes: proc.constrainedMemory() });
  } catch (err) {
    if (startupProblem(proc, err, "sqs-archiver")) return;
    throw err;
  }
  // Log lines are written synchronously (see logger.ts): whatever was logged before process.exit is in the pipe.
  const log = createLogger(config.logLevel);
  for (const warning of configWarnings(proc.env, config)) log.warn({ event: "config_warning" }, warning);
  const service = new ArchiverService({ config, log, version: packageVersion(), nodeVersion: proc.versions.node });
  onSignals(proc, async (signal) => {
    log.info({ event: "signal", signal }, "signal received");
    // Backstop: exit even if something in the drain hangs past the budget.
    setTimeout(() => proc.exit(1), (config.shutdownTimeoutSeconds + 5) * 1000).unref();
    await service.stop();
    proc.exit(0);
  });
  try {
    await service.start();
  } catch (err) {
    if (!startupProblem(proc, PortInUseError.from(err, config.healthPort, "HEALTH_PORT"), "sqs-archiver")) throw err;
  }
}

async function runLocalMode(argv: string[], proc: Proc): Promise<void> {
  let opts: ReturnType<typeof parseLocalArgs>;
  try {
    opts = parseLocalArgs(argv, proc.env, proc.cwd());
  } catch (err) {
    const code = (await import("./runner.js")).usageExit(err, "local", proc);
    if (code === undefined) throw err;
    return void proc.exit(code);
  }
  if (opts === "help") return void proc.stdout.write(`${LOCAL_HELP}\n`);
  const log = createLogger(opts.logLevel);
  // Ctrl-C may come while the emulator and the service start: it stops them once they are up.
  let handle: Awaited<ReturnType<typeof runLocal>> | undefined;
  let stopRequested = false;
  const stop = async () => {
    stopRequested = true;
    if (!handle) return;
    await handle.stop();
    proc.exit(0);
  };
  onSignals(proc, stop);
  try {
    handle = await runLocal({
      ...opts,
      env: proc.env,
      log,
      version: packageVersion(),
      nodeVersion: proc.versions.node,
      // Local mode is interactive: the banner shares stdout with the JSON log lines.
      print: (line) => proc.stdout.write(`${line}\n`),
    });
  } catch (err) {
    if (!startupProblem(proc, err, "sqs-archiver local")) throw err;
    return;
  }
  if (stopRequested) await stop();
}

function usage(proc: Proc, problem: string): void {
  proc.stderr.write(`sqs-archiver: ${problem}\nTry 'sqs-archiver --help'.\n`);
  proc.exit(EXIT_USAGE);
}

async function runArchiveCommand(spec: CommandSpec<any>, argv: string[], proc: Proc): Promise<void> {
  const { runCommand } = await import("./runner.js");
  runCommand(spec, argv, proc).then(
    (code) => proc.exit(code),
    (err: unknown) => {
      proc.stderr.write(fatalLine(`${spec.name}_crashed`, err));
      proc.exit(EXIT_FAILED);
    },
  );
}

async function help(argv: string[], proc: Proc): Promise<void> {
  const { COMMANDS, HELP } = await import("./commands.js");
  const [name] = argv;
  if (name === undefined) return void proc.stdout.write(`${HELP}\n`);
  if (name === "local") return void proc.stdout.write(`${LOCAL_HELP}\n`);
  const c = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!c) return usage(proc, `unknown command ${JSON.stringify(name)}`);
  proc.stdout.write(`${c.spec.help}\n`);
}

/** Runs the command named by argv[0] (none: the service). The service and local mode run until a signal. */
export async function dispatch(proc: Proc): Promise<void> {
  proc.on("unhandledRejection", (err) => exitAfterStderr(proc, fatalLine("unhandled_rejection", err), 1));
  const [command, ...rest] = proc.argv.slice(2);
  try {
    if (command === undefined) return await runService([], proc);
    if (command === "local") return await runLocalMode(rest, proc);
    if (command === "help" || command === "--help" || command === "-h") return await help(rest, proc);
    if (command === "--version" || command === "-v") return void proc.stdout.write(`${packageVersion()}\n`);
    if (command.startsWith("-")) return await runService([command, ...rest], proc);
    const { COMMANDS } = await import("./commands.js");
    if (Object.hasOwn(COMMANDS, command)) return await runArchiveCommand((COMMANDS[command] as { spec: CommandSpec<any> }).spec, rest, proc);
    usage(proc, `unknown command ${JSON.stringify(command)}`);
  } catch (err) {
    exitAfterStderr(proc, err instanceof ArchiverError && !(err instanceof ConfigError) ? `sqs-archiver: ${err.code}: ${err.message}\n` : fatalLine("startup_failed", err), EXIT_FAILED);
  }
}

