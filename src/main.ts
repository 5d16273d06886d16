/**
 * The service's entry point (`node dist/main.js`, the image's CMD); `node dist/main.js <command>` reaches the same
 * commands as the `sqs-archiver` bin (src/cli/dispatch.ts). The Node version is checked before anything that needs
 * Node 24 is imported (static imports are linked before this module runs, so the rest is a dynamic import).
 */
import { runEntry } from "./node-version.js";

await runEntry(process, () => import("./cli/dispatch.js"));
