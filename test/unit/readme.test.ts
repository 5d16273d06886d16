/**
 * The README agrees with the code: its configuration table with the config schema (every variable once, its
 * default and its allowed values), and its grace-period rule with the chart's.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CONFIG_SCHEMA, SERVICE_ENV_VARS } from "../../src/config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const README = readFileSync(`${ROOT}README.md`, "utf8");

interface Row {
  name: string;
  default: string;
  allowed: string;
}

function configTable(): Row[] {
  const section = README.slice(README.indexOf("## Configuration"), README.indexOf("## Archive contract"));
  return section
    .split("\n")
    .filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l))
    .map((l) => {
      const [name, def, allowed] = l.split(" | ").map((c) => c.replace(/^\| /, "").trim());
      return { name: (name as string).replace(/`/g, ""), default: def as string, allowed: allowed as string };
    });
}

const UNITS: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
/** "1,000,000", "16 MiB", "5 GiB" → a number. */
function amount(text: string): number {
  const m = /^([\d,]+)\s*(KiB|MiB|GiB)?$/.exec(text.trim());
  if (!m) throw new Error(`not an amount: ${text}`);
  return Number((m[1] as string).replace(/,/g, "")) * (m[2] ? (UNITS[m[2]] as number) : 1);
}

describe("README configuration table", () => {
  const rows = configTable();

  it("lists every variable of the schema exactly once, and nothing else", () => {
    const names = rows.map((r) => r.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i), "listed twice").toEqual([]);
    expect([...names].sort()).toEqual([...SERVICE_ENV_VARS].sort());
  });

  it.each(SERVICE_ENV_VARS.map((n) => [n]))("%s: the default and the allowed values are the schema's", (name) => {
    const row = rows.find((r) => r.name === name) as Row;
    const spec = CONFIG_SCHEMA[name] as { default: unknown; format: unknown };
    const literal = /^`([^`]*)`/.exec(row.default)?.[1];
    if (spec.default === null || spec.default === "") {
      // No default of its own: required, or derived (from the queue URL, AWS_REGION, …), said in words.
      expect(literal === undefined || /^[A-Z_]+$/.test(literal), row.default).toBe(true);
    } else {
      expect(literal, `${name} default`).toBe(String(spec.default));
    }
    const format = spec.format;
    const values = typeof format === "function" ? (format as { values?: readonly string[] }).values : undefined;
    if (typeof format === "string" && format.startsWith("int-")) {
      const [, min, max] = /^int-(\d+)-(\d+)$/.exec(format) as RegExpExecArray;
      const range = /^([\d,]+(?: [KMG]iB)?)–([\d,]+(?: [KMG]iB)?)/.exec(row.allowed);
      expect(range, `${name} allowed: ${row.allowed}`).not.toBeNull();
      expect([amount(range?.[1] as string), amount(range?.[2] as string)]).toEqual([Number(min), Number(max)]);
    } else if (format === "strict-boolean") {
      expect(row.allowed).toBe("true, false");
    } else if (values) {
      expect(row.allowed.split(/,\s*/)).toEqual([...values]);
    }
  });
});

describe("one source of truth per fact", () => {
  it("the grace-period rule is the chart's (+ 5 s), wherever the README states it", () => {
    const helpers = readFileSync(`${ROOT}helm/sqs-archiver/templates/_helpers.tpl`, "utf8");
    expect(helpers).toMatch(/waitTimeSeconds \+ config\.shutdownTimeoutSeconds \+ 5/);
    const statements = README.split(/\n\n/).filter((p) => p.includes("terminationGracePeriodSeconds") && p.includes("SHUTDOWN_TIMEOUT_SECONDS"));
    expect(statements.length).toBeGreaterThan(0);
    for (const p of statements) expect(p.replace(/\s+/g, " ")).toContain("`WAIT_TIME_SECONDS` + `SHUTDOWN_TIMEOUT_SECONDS` + 5");
  });

  it("replay throughput is quoted once", () => {
    expect(README.match(/msg\/s from (message-layout|batched) objects/g) ?? []).toHaveLength(2);
  });

  it("the README does not show the kustomize base as directly appliable", () => {
    expect(README).not.toContain("kubectl apply -k k8s/");
  });
});
