import { athenaDdl, type AthenaOptions } from "../replay/athena.js";
import { compactedAthenaDdl, type CompactedAthenaOptions } from "../replay/athena-compacted.js";
import { ATHENA_COMPACTED_HELP, parseAthenaCompactedArgs } from "./athena-compacted-args.js";
import { ATHENA_HELP, parseAthenaArgs } from "./replay-args.js";
import { EXIT_OK, type CommandSpec } from "./runner.js";

type AthenaCommandOptions = ({ compacted: false } & AthenaOptions) | ({ compacted: true } & CompactedAthenaOptions);

/**
 * `sqs-archiver athena-ddl`: prints the table and the dedupe view over the raw archive, or with --compacted the
 * Parquet table over what `sqs-archiver compact` writes; no AWS call.
 */
export const athenaCommand: CommandSpec<AthenaCommandOptions & { logLevel: string }> = {
  name: "athena-ddl",
  help: `${ATHENA_HELP}\n\n${ATHENA_COMPACTED_HELP}`,
  parse(argv, env) {
    if (argv.includes("--compacted")) {
      const c = parseAthenaCompactedArgs(argv, env);
      return c === "help" ? c : { compacted: true, ...c, logLevel: "warn" };
    }
    const o = parseAthenaArgs(argv, env);
    return o === "help" ? o : { compacted: false, ...o, logLevel: "warn" };
  },
  async run(o, io) {
    io.print((o.compacted ? compactedAthenaDdl(o) : athenaDdl(o)).trimEnd());
    return EXIT_OK;
  },
};
