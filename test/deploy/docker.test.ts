import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { DEFAULT_HEALTH_PORT } from "../../src/http/http-contract.js";
import { CHART, ROOT, find, kustomize, K8S } from "./helpers.js";

const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Global ARG defaults (before the first FROM), which FROM lines may use as ${NAME}. */
function globalArgs(text: string): Record<string, string> {
  const head = text.split(/^FROM\s/m)[0] ?? "";
  return Object.fromEntries([...head.matchAll(/^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

/** Instructions (continuation lines joined, comments dropped), grouped by stage; FROM ${ARG} resolved to its default. */
function stages(text: string): Stage[] {
  const defaults = globalArgs(text);
  const joined = text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n")
    .replace(/\\\n/g, " ");
  const out: Stage[] = [];
  for (const line of joined.split("\n")) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const keyword = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (keyword === "FROM") {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      const from = (f?.[1] ?? args).replace(/^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/, (_m, name: string) => defaults[name] ?? `\${${name}}`);
      out.push({ from, name: f?.[2], instructions: [] });
    } else {
      out.at(-1)?.instructions.push({ keyword, args });
    }
  }
  return out;
}

const all = stages(dockerfile);
const runtime = all.at(-1) as Stage;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe("Dockerfile", () => {
  it("lints clean with dockerfile-utils", () => {
    const problems = validate(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it("is multi-stage on Node with the same major as .nvmrc and package.json engines", () => {
    const nvmrc = readFileSync(join(ROOT, ".nvmrc"), "utf8").trim();
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    const engines = /^>=(\d+)\s*<(\d+)$/.exec(pkg.engines.node);
    expect(engines, pkg.engines.node).not.toBeNull();
    expect(Number(engines?.[2])).toBe(Number(engines?.[1]) + 1);
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) {
      const m = /^(?:docker\.io\/library\/)?node:(\d+)(?:\.\d+)*-bookworm-slim(?:@sha256:[a-f0-9]{64})?$/.exec(s.from) ??
        /^gcr\.io\/distroless\/nodejs(\d+)-debian12(?::\S+)?$/.exec(s.from);
      expect(m, `base image ${s.from}`).not.toBeNull();
      expect(m?.[1], s.from).toBe(nvmrc.replace(/^v/, "").split(".")[0]);
      expect(m?.[1]).toBe(engines?.[1]);
    }
  });

  it("takes every stage's base from one NODE_IMAGE argument, which CI pins to a digest", () => {
    expect(globalArgs(dockerfile).NODE_IMAGE).toBe("node:24-bookworm-slim");
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)).toHaveLength(all.length);
    expect(of(runtime, "LABEL").join(" ")).toContain("org.opencontainers.image.base.digest=");
    const ci = readFileSync(join(ROOT, "Jenkinsfile-CI"), "utf8");
    expect(ci).toMatch(/--build-arg NODE_IMAGE="\$NODE_IMAGE"/);
    expect(ci).toContain("{{index .RepoDigests 0}}");
  });

  it("builds with npm ci and ships production dependencies only", () => {
    const build = all.find((s) => of(s, "RUN").some((r) => r.includes("npm run build")));
    expect(build, "a stage runs npm run build").toBeDefined();
    expect(of(build as Stage, "RUN").some((r) => /npm ci\b/.test(r) && !r.includes("--omit=dev"))).toBe(true);
    const copiesFrom = of(runtime, "COPY").filter((c) => c.includes("--from="));
    const deps = copiesFrom.find((c) => c.includes("node_modules"));
    const depsStage = all.find((s) => deps?.includes(`--from=${s.name} `));
    expect(depsStage, "node_modules comes from a named stage").toBeDefined();
    expect(of(depsStage as Stage, "RUN").some((r) => r.includes("npm ci --omit=dev"))).toBe(true);
    expect(depsStage).not.toBe(build);
    expect(copiesFrom.some((c) => c.includes(`--from=${build?.name} `) && /\/app\/dist\s/.test(c))).toBe(true);
    expect(copiesFrom.some((c) => c.includes(`--from=${build?.name} `) && c.includes("node_modules"))).toBe(false);
    expect(of(runtime, "COPY").some((c) => /\bsrc\b/.test(c))).toBe(false);
  });

  it("runs node dist/main.js directly as a numeric non-root user matching the manifests", () => {
    expect(of(runtime, "CMD")).toEqual(['["node", "dist/main.js"]']);
    expect(of(runtime, "ENTRYPOINT")).toEqual([]);
    const user = of(runtime, "USER").at(-1) ?? "";
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    expect(m, `USER ${user}`).not.toBeNull();
    const uid = Number(m?.[1]);
    expect(uid).toBeGreaterThan(0);
    const values = parseYaml(readFileSync(join(CHART, "values.yaml"), "utf8")) as any;
    expect(values.securityContext.runAsUser).toBe(uid);
    expect(values.podSecurityContext.runAsUser).toBe(uid);
    const dep = find(kustomize(K8S), "Deployment") as any;
    expect(dep.spec.template.spec.securityContext.runAsUser).toBe(uid);
    expect(of(runtime, "ENV").join(" ")).toMatch(/NODE_ENV=production/);
    expect(of(runtime, "EXPOSE")).toEqual([String(DEFAULT_HEALTH_PORT)]);
  });

  it("carries the OCI labels", () => {
    const labels = of(runtime, "LABEL").join(" ");
    for (const key of ["title", "description", "version", "revision", "created", "source", "licenses"]) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it("has a .dockerignore that denies by default and lets in exactly what the build copies", () => {
    const rules = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    expect(rules[0]).toBe("**");
    const allowed = rules.filter((r) => r.startsWith("!")).map((r) => r.slice(1).replace(/\/(\*\*)?$/, ""));
    const sources = all
      .flatMap((s) => of(s, "COPY"))
      .filter((c) => !c.includes("--from="))
      .flatMap((c) => c.replace(/--\S+/g, "").trim().split(/\s+/).slice(0, -1));
    for (const src of sources) expect(allowed, `COPY ${src}`).toContain(src.replace(/^\.\//, "").replace(/\/$/, ""));
    for (const never of ["node_modules", "dist", ".git", ".tools", ".env"]) expect(allowed).not.toContain(never);
  });
});
