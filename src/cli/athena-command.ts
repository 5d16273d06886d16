import { athenaDdl, type AthenaOptions } from "../replay/athena.js";
import { ATHENA_HELP, parseAthenaArgs } from "./replay-args.js";
import { EXIT_OK, type CommandSpec } from "./runner.js";

/** `sqs-archiver athena-ddl`: prints the table and the dedupe view; no AWS call. */
export const athenaCommand: CommandSpec<AthenaOptions & { logLevel: string }> = {
  name: "athena-ddl",
  help: ATHENA_HELP,
  parse(argv, env) {
    const o = parseAthenaArgs(argv, env);
    return o === "help" ? o : { ...o, logLevel: "warn" };
  },
  async run(o, io) {
    io.print(athenaDdl(o).trimEnd());
    return EXIT_OK;
  },
};
