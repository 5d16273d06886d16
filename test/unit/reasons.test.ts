/**
 * One catalogue of reason codes (src/reasons.ts): the README lists exactly its failure reasons, every reason or code
 * literal in src/ is in it, the classifier returns only its AWS reasons, and every typed error has one base class.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ArchiverError, classifyAwsError } from "../../src/errors.js";
import { ALL_CODES, AWS_REASONS, FAILURE_REASONS } from "../../src/reasons.js";
import { sourceFiles } from "../support/source-files.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const read = (f: string) => readFileSync(f, "utf8");

/** The backticked codes of the README's "Reason codes" paragraph. */
function readmeReasons(): string[] {
  const readme = read(`${ROOT}README.md`);
  const para = /Reason codes \([^\n]*\n(?:[^\n]+\n)*?[^\n]*SQS batch entry codes/.exec(readme)?.[0] ?? "";
  return [...para.matchAll(/`([A-Za-z0-9_]+)`/g)].map((m) => m[1] as string).filter((c) => c !== "reason" && c !== "code");
}

describe("reason codes", () => {
  it("the README lists every failure reason, and only those", () => {
    const listed = new Set(readmeReasons());
    expect([...FAILURE_REASONS].filter((r) => !listed.has(r)), "missing from the README").toEqual([]);
    expect([...listed].filter((r) => !(FAILURE_REASONS as readonly string[]).includes(r)), "in the README, not in src/reasons.ts").toEqual([]);
  });

  it("every reason or code literal in src/ is in the catalogue", () => {
    const found: string[] = [];
    for (const file of sourceFiles()) {
      const text = read(file);
      const patterns = [/\b(?:reason|code)\s*:\s*"([^"]+)"/g, /\bcode = [^;\n]*: "([A-Za-z_]+)"/g, /\bsuper\("([A-Za-z_]+)"/g, /\breason: [^,}\n]*\?\? "([a-z_]+)"/g];
      for (const re of patterns) for (const m of text.matchAll(re)) if (!ALL_CODES.has(m[1] as string)) found.push(`${relative(ROOT, file)}: ${m[1]}`);
    }
    expect(found).toEqual([]);
  });

  it("classifyAwsError returns only AWS reasons", () => {
    const text = read(`${ROOT}src/errors.ts`);
    const body = text.slice(text.indexOf("export function classifyAwsError"), text.indexOf("\n}\n", text.indexOf("export function classifyAwsError")));
    const returned = [...body.matchAll(/return "([a-z_]+)"/g)].map((m) => m[1]);
    expect(returned.length).toBeGreaterThan(5);
    for (const r of returned) expect(AWS_REASONS).toContain(r);
    expect(classifyAwsError(new Error("x"))).toBe("unknown");
  });

  it("every typed error in src/ extends ArchiverError (one base class)", () => {
    const others: string[] = [];
    for (const file of sourceFiles()) {
      for (const m of read(file).matchAll(/class (\w+) extends (\w+)/g)) {
        if (m[2] === "Error" && m[1] !== "ArchiverError") others.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
    }
    expect(others).toEqual([]);
    expect(new ArchiverError("USAGE", "x")).toBeInstanceOf(Error);
  });
});
