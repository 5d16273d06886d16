#!/usr/bin/env node
// Generates the "Parameters" section of helm/sqs-archiver/README.md from the @param comments in values.yaml with
// Bitnami's readme generator (@bitnami/readme-generator-for-helm, a devDependency). values.yaml wraps long
// descriptions onto "##   " continuation lines to stay within yamllint's line length; the generator reads one line
// per @param, so a temporary copy with those lines joined is what it reads.
//
//   node scripts/chart-readme.mjs           rewrite the README's Parameters section
//   node scripts/chart-readme.mjs --check   exit 1 if the README is not what the generator makes (CI)
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const chart = join(root, "helm/sqs-archiver");
const readme = join(chart, "README.md");
const check = process.argv.includes("--check");

/** values.yaml with every "##   continuation" line appended to the @param line above it. */
export function joinContinuations(text) {
  const out = [];
  for (const line of text.split("\n")) {
    const m = /^(\s*)## {3}(\S.*)$/.exec(line);
    const prev = out.length - 1;
    if (m && prev >= 0 && /^\s*## @param /.test(out[prev])) out[prev] += ` ${m[2]}`;
    else out.push(line);
  }
  return out.join("\n");
}

const dir = mkdtempSync(join(tmpdir(), "chart-readme-"));
try {
  const values = join(dir, "values.yaml");
  const target = join(dir, "README.md");
  writeFileSync(values, joinContinuations(readFileSync(join(chart, "values.yaml"), "utf8")));
  copyFileSync(readme, target);
  const bin = join(root, "node_modules/@bitnami/readme-generator-for-helm/bin/index.js");
  const r = spawnSync(process.execPath, [bin, "--values", values, "--readme", target], { encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}${r.stderr}readme-generator failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
  const generated = readFileSync(target, "utf8");
  if (check) {
    if (generated !== readFileSync(readme, "utf8")) {
      process.stderr.write("helm/sqs-archiver/README.md is out of date with values.yaml: run node scripts/chart-readme.mjs and commit it\n");
      process.exit(1);
    }
    process.stdout.write("helm/sqs-archiver/README.md is up to date\n");
  } else {
    writeFileSync(readme, generated);
    process.stdout.write("wrote helm/sqs-archiver/README.md\n");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
