/**
 * A Node.js older than the one the project pins (the machine's system Node, v20 on these machines), to run the
 * entry points and the printed commands the way a user with an old system Node does.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { REQUIRED_NODE_MAJOR } from "../../src/node-version.js";

export interface OldNode {
  path: string;
  version: string;
  /** PATH with the old Node's folder first and no node_modules/.bin (npm's `npm run` adds it for the tests). */
  pathEnv: string;
}

function versionOf(bin: string): string | undefined {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

export function findOldNode(): OldNode | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d && !d.includes("node_modules"));
  const candidates = [...dirs.map((d) => join(d, "node")), "/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"];
  for (const bin of candidates) {
    if (!existsSync(bin)) continue;
    const version = versionOf(bin);
    const major = Number(/^v(\d+)\./.exec(version ?? "")?.[1]);
    if (version && major < REQUIRED_NODE_MAJOR) {
      return { path: bin, version: version.replace(/^v/, ""), pathEnv: [dirname(bin), ...dirs.filter((d) => d !== dirname(bin))].join(delimiter) };
    }
  }
  return undefined;
}
