/**
 * Structure held by checks over src/: no function of 60 lines or more, and no block of 6 or more lines repeated.
 * Each failure names the function (file:line name, lines) or the repeated block (every place it occurs) to fix.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { SRC, sourceFiles } from "../support/source-files.js";

export const MAX_FUNCTION_LINES = 60;
export const DUPLICATE_WINDOW = 6;

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(sf);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  if (parent && ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(sf).slice(0, 40)})`;
  return "(anonymous)";
}

/** Every function, method, arrow or constructor with its length in lines, from its first line to its last. */
export function functionLengths(file: string, text = readFileSync(file, "utf8")): Array<{ where: string; lines: number }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Array<{ where: string; lines: number }> = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ where: `${relative(SRC, file)}:${start + 1} ${nameOf(node, sf)}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A line as the duplicate check compares it: trimmed, inner whitespace collapsed; blank lines, lone braces and comments do not count. */
function normalized(text: string): Array<{ line: number; text: string }> {
  return text
    .split("\n")
    .map((l, i) => ({ line: i + 1, text: l.trim().replace(/\s+/g, " ") }))
    .filter((l) => l.text && !/^(\/\/|\/?\*)/.test(l.text) && !/^[{}()[\];,]+$/.test(l.text) && !/^import |^} from /.test(l.text));
}

/** Windows of DUPLICATE_WINDOW normalized lines that occur more than once in src/ (overlapping windows merged per place). */
export function repeatedBlocks(files: Array<{ file: string; text: string }>): string[] {
  const seen = new Map<string, string[]>();
  for (const { file, text } of files) {
    const lines = normalized(text);
    for (let i = 0; i + DUPLICATE_WINDOW <= lines.length; i++) {
      const key = lines.slice(i, i + DUPLICATE_WINDOW).map((l) => l.text).join("\n");
      const at = `${relative(SRC, file)}:${lines[i]?.line}`;
      seen.set(key, [...(seen.get(key) ?? []), at]);
    }
  }
  const out: string[] = [];
  let previous: string[] | undefined;
  for (const [key, places] of seen) {
    if (places.length < 2) continue;
    // Consecutive windows of one repeated block: report the block once, at its first window.
    const sameBlock = previous && previous.length === places.length;
    previous = places;
    if (!sameBlock) out.push(`${places.join(", ")}:\n    ${key.split("\n").join("\n    ")}`);
  }
  return out;
}

/**
 * Known debts in files that other work in flight owns (issue 14 rewrites batched mode: src/sinks/, src/receive/, the
 * service's wiring), as `file name` without the line, so they move freely. Fix one there and delete its entry; the
 * list only shrinks.
 */
const PENDING_FUNCTIONS = new Set(["service.ts constructor", "sinks/s3-writer.ts write"]);
const PENDING_BLOCK_FILES = ["sinks/batch-sink.ts", "sinks/message-sink.ts"];

describe("function length and repetition in src/", () => {
  it(`no function of ${MAX_FUNCTION_LINES} lines or more (each failure: file:line name, lines)`, () => {
    const long = sourceFiles()
      .flatMap((f) => functionLengths(f))
      .filter((f) => f.lines >= MAX_FUNCTION_LINES && !PENDING_FUNCTIONS.has(f.where.replace(/:\d+ /, " ")))
      .map((f) => `${f.where}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });

  it(`no block of ${DUPLICATE_WINDOW} or more lines repeated (each failure: every place, then the block)`, () => {
    const blocks = repeatedBlocks(sourceFiles().map((file) => ({ file, text: readFileSync(file, "utf8") })));
    const pending = (b: string) => b.split(":\n")[0]?.split(", ").every((at) => PENDING_BLOCK_FILES.some((f) => at.startsWith(`${f}:`)));
    expect(blocks.filter((b) => !pending(b))).toEqual([]);
  });

  it("the checks find what they look for", () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const v${i} = ${i};`).join("\n");
    expect(functionLengths(`${SRC}/x.ts`, `export function big() {\n${body}\n}\n`)).toEqual([{ where: "x.ts:1 big", lines: MAX_FUNCTION_LINES + 2 }]);
    const block = Array.from({ length: DUPLICATE_WINDOW }, (_, i) => `total += values[${i}] * ${i};`).join("\n");
    const found = repeatedBlocks([
      { file: `${SRC}/a.ts`, text: `function a() {\n${block}\n}` },
      { file: `${SRC}/b.ts`, text: `function b() {\n  ${block.replaceAll("\n", "\n    ")}\n}` },
    ]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^a\.ts:2, b\.ts:2:/);
  });
});
