/**
 * The Node.js check every entry point runs before importing anything else: the service and the CLI need Node 24
 * (zlib's zstd, node:sqlite for the emulator), and an older Node would otherwise fail while linking modules with a
 * SyntaxError about a missing export. No imports here, so this module loads on any Node.
 */

export const REQUIRED_NODE_MAJOR = 24;

/** One line saying what was found, what is needed and how to run it; undefined when `found` (x.y.z) will do. */
export function nodeVersionProblem(found: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(found)?.[1]);
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  return (
    `sqs-archiver: Node.js ${found.replace(/^v/, "")} found, Node.js ${REQUIRED_NODE_MAJOR} or later needed. ` +
    `In the project folder run it with its pinned Node: npx sqs-archiver <command> (or npm run local, npm start); ` +
    `or install Node ${REQUIRED_NODE_MAJOR} (nvm install ${REQUIRED_NODE_MAJOR}).`
  );
}

/**
 * What both entry points do: check the Node version, then load the dispatcher (a dynamic import, so nothing that
 * needs Node 24 is linked before the check) and hand it the process.
 */
export async function runEntry(proc: NodeJS.Process, load: () => Promise<{ dispatch(p: NodeJS.Process): Promise<void> }>): Promise<void> {
  const problem = nodeVersionProblem(proc.versions.node);
  if (problem) {
    proc.stderr.write(`${problem}\n`);
    proc.exitCode = 1;
    return;
  }
  await (await load()).dispatch(proc);
}
