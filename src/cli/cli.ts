#!/usr/bin/env node
/**
 * `sqs-archiver [command]`: the package's command-line entry (package.json `bin`). With no command (or `local`) it
 * is exactly `node dist/main.js`; `replay` and `athena-ddl` read the archive back. Like main.ts, this module touches
 * `process` (argv, env, signals, stdout, exit code); everything it calls takes values in.
 */
import { athenaDdl } from "../replay/athena.js";
import { compactedAthenaDdl } from "../replay/athena-compacted.js";
import { ATHENA_COMPACTED_HELP, parseAthenaCompactedArgs } from "./athena-compacted-args.js";
import { packageVersion } from "../version.js";
import { ATHENA_HELP, parseAthenaArgs } from "./replay-args.js";
import { compactCommand } from "./compact-command.js";
import { replayCommand } from "./replay-command.js";
import { verifyCommand } from "./verify-command.js";
import { EXIT_FAILED, EXIT_USAGE, runCommand, usageExit, type CommandSpec } from "./runner.js";

/** Archive commands run by the shared runner (src/cli/runner.ts); a new one is a CommandSpec and a line here. */
const COMMANDS: Record<string, { summary: string; spec: CommandSpec<any> }> = {
  replay: { summary: "send archived messages of a time window to a queue again", spec: replayCommand },
  compact: { summary: "turn closed hours into deduplicated Parquet, each message exactly once", spec: compactCommand },
  verify: { summary: "check a time window of the archive is complete and intact (table, --json, --html)", spec: verifyCommand },
};

const HELP = `Usage: sqs-archiver [command] [options]

Commands:
  (none)       run the archiver service from environment configuration (same as node dist/main.js)
  local        embedded SQS+S3 emulator and the service (npm run local)
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary} (sqs-archiver ${name} --help)`)
  .join("\n")}
  athena-ddl   print the Athena table and dedupe view for the archive; --compacted: the Parquet table (sqs-archiver athena-ddl --help)
  help         this help; --version prints the version`;

function runAthena(argv: string[]): void {
  try {
    if (argv.includes("--compacted")) {
      const c = parseAthenaCompactedArgs(argv, process.env);
      process.stdout.write(c === "help" ? `${ATHENA_COMPACTED_HELP}\n` : compactedAthenaDdl(c));
      return;
    }
    const o = parseAthenaArgs(argv, process.env);
    process.stdout.write(o === "help" ? `${ATHENA_HELP}\n` : athenaDdl(o));
  } catch (err) {
    const code = usageExit(err, "athena-ddl", process);
    if (code === undefined) throw err;
    process.exit(code);
  }
}

const [command, ...rest] = process.argv.slice(2);
const archiveCommand = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
switch (archiveCommand ? "archive-command" : command) {
  case "archive-command": {
    const spec = (archiveCommand as { spec: CommandSpec<any> }).spec;
    runCommand(spec, rest, process).then(
      (code) => process.exit(code),
      (err: unknown) => {
        process.stderr.write(`${JSON.stringify({ level: "fatal", event: `${spec.name}_crashed`, msg: String((err as Error)?.stack ?? err) })}\n`);
        process.exit(EXIT_FAILED);
      },
    );
    break;
  }
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
