import { athenaCommand } from "./athena-command.js";
import { compactCommand } from "./compact-command.js";
import { replayCommand } from "./replay-command.js";
import { verifyCommand } from "./verify-command.js";
import type { CommandSpec } from "./runner.js";

/**
 * The command table both entry points share (dispatch.ts runs it). Archive commands run on the shared runner
 * (src/cli/runner.ts): a new one is a CommandSpec and a line in COMMANDS.
 */

export const COMMANDS: Record<string, { summary: string; spec: CommandSpec<any> }> = {
  replay: { summary: "send archived messages of a time window to a queue again", spec: replayCommand },
  compact: { summary: "turn closed hours into deduplicated Parquet, each message exactly once", spec: compactCommand },
  verify: { summary: "check a time window of the archive is complete and intact (table, --json, --html)", spec: verifyCommand },
  "athena-ddl": { summary: "print the Athena table and dedupe view for the archive; --compacted: the Parquet table", spec: athenaCommand },
};

export const HELP = `Usage: sqs-archiver [command] [options]   (in the image: node dist/main.js [command] [options])

Commands:
  (none)       run the archiver service from environment configuration (README: Configuration)
  local        embedded SQS+S3 emulator and the service, no AWS account needed (npm run local)
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join("\n")}
  help [CMD]   this help, or a command's (same as sqs-archiver CMD --help)

Options: -h, --help   this help; -v, --version   print the version.
Exit status: 0 ok; 1 failed; 2 usage error; 78 configuration error; 130 interrupted.`;

