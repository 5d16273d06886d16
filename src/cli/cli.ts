#!/usr/bin/env node
/**
 * `sqs-archiver [command]`: the package's command-line entry (package.json `bin`), the same commands as
 * `node dist/main.js [command]` (src/cli/dispatch.ts). The Node version is checked before anything that needs Node 24
 * is imported (static imports are linked before this module runs, so the rest is a dynamic import).
 */
import { runEntry } from "../node-version.js";

await runEntry(process, () => import("./dispatch.js"));
