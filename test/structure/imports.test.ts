/** No import cycle in src/: static imports, re-exports and dynamic import("…") of relative modules. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { sourceFiles } from "../support/source-files.js";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const specs: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      // `import type` is erased: it cannot make a cycle at run time, but it still couples the modules, so count it.
      specs.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      specs.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts")));
}

/** Every cycle's members (strongly connected components of more than one module, or a module importing itself). */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.map((f) => relative(SRC, f)).sort());
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
  return out;
}

describe("module structure", () => {
  it("src/ has no import cycle (each failure lists the modules of one cycle)", () => {
    expect(importCycles(sourceFiles())).toEqual([]);
  });

  it("the check finds a cycle when there is one", () => {
    const dir = mkdtempSync(join(tmpdir(), "cycle-"));
    writeFileSync(join(dir, "a.ts"), 'import { b } from "./b.js";\nexport const a = () => b;\n');
    writeFileSync(join(dir, "b.ts"), 'export const b = 1;\nexport const lazy = () => import("./a.js");\n');
    writeFileSync(join(dir, "c.ts"), 'import { a } from "./a.js";\n');
    expect(importCycles([join(dir, "a.ts"), join(dir, "b.ts"), join(dir, "c.ts")]).map((c) => c.map((f) => f.split("/").pop()))).toEqual([["a.ts", "b.ts"]]);
  });

  it("main.ts and cli/cli.ts share the dispatcher and nothing imports an entry point", () => {
    const files = sourceFiles();
    const main = files.find((f) => f.endsWith("/main.ts"))!;
    expect(importsOf(main).some((f) => f.endsWith("cli/dispatch.ts"))).toBe(true);
    // The two entry points import neither each other nor anything that imports them.
    const entries = files.filter((f) => /\/(main|cli\/cli)\.ts$/.test(f));
    for (const f of files) for (const imp of importsOf(f)) expect(entries).not.toContain(imp);
  });
});
