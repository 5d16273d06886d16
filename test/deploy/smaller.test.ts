/**
 * Issue 18 item 9, the smaller operational defects: memory requests per archive format, no package manager in the
 * runtime image, KEDA fallback and min <= max, NOTES.txt in batched mode, a sane priority-class example. (The
 * per-release absent-alert is proven in promtool.test.ts.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CHART, ROOT, ensureTools, find, helmNotes, helmTemplate, run } from "./helpers.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const container = (args: string[]) => (find(helmTemplate(["-f", DEFAULT_VALUES, ...args]), "Deployment") as any).spec.template.spec.containers[0];
const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);

describe("memory request per archive format", () => {
  // bench/RESULTS.md: RSS plateau 207-215 MB in message mode, 272-282 MB in ndjson mode (2 x BATCH_MAX_MESSAGES held).
  const results = readFileSync(join(ROOT, "bench/RESULTS.md"), "utf8");

  it("is at or above the measured plateau of the mode (1 MB = 10^6 bytes or MiB, whichever is larger)", () => {
    expect(results).toContain("272 / 279 / 282 MB");
    const message = mib(container([]).resources.requests.memory);
    const ndjson = mib(container(["--set", "config.archiveFormat=ndjson"]).resources.requests.memory);
    expect(message).toBeGreaterThanOrEqual(215);
    expect(ndjson).toBeGreaterThanOrEqual(282);
    // Both stay under the limit, and an explicit request wins.
    expect(ndjson).toBeLessThan(mib(container(["--set", "config.archiveFormat=ndjson"]).resources.limits.memory));
    expect(container(["--set", "config.archiveFormat=ndjson,resources.requests.memory=400Mi"]).resources.requests.memory).toBe("400Mi");
  });
});

describe("runtime image", () => {
  it("removes npm, npx, corepack and yarn before switching to the unprivileged user", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    const beforeUser = runtime.slice(0, runtime.indexOf("\nUSER "));
    const start = beforeUser.indexOf("RUN rm -rf ");
    expect(start, "a RUN rm -rf in the runtime stage").toBeGreaterThan(0);
    const rm = beforeUser.slice(start, beforeUser.indexOf("\n\n", start));
    for (const path of ["/usr/local/lib/node_modules/npm", "/usr/local/lib/node_modules/corepack", "/usr/local/bin/npm", "/usr/local/bin/npx", "/usr/local/bin/corepack", "/usr/local/bin/yarn"]) {
      expect(rm, path).toContain(path);
    }
    // node is still what runs.
    expect(runtime).toContain('CMD ["node", "dist/main.js"]');
  });
});

describe("KEDA", () => {
  const so = (set: string) => (find(helmTemplate(["-f", DEFAULT_VALUES, "--set", `keda.enabled=true,${set}`]), "ScaledObject") as any).spec;

  it("falls back to minReplicaCount (at least one pod) when it cannot read the queue depth", () => {
    expect(so("keda.minReplicaCount=0").fallback).toEqual({ failureThreshold: 3, replicas: 1 });
    expect(so("keda.minReplicaCount=3").fallback).toEqual({ failureThreshold: 3, replicas: 3 });
    expect(so("keda.fallback.replicas=4,keda.fallback.failureThreshold=5").fallback).toEqual({ failureThreshold: 5, replicas: 4 });
  });

  it("refuses minReplicaCount above maxReplicaCount, and a fallback above the maximum", () => {
    const { helm } = ensureTools();
    const tpl = (set: string) => run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", `keda.enabled=true,${set}`]);
    const r = tpl("keda.minReplicaCount=5,keda.maxReplicaCount=2");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("keda.minReplicaCount (5) must not exceed keda.maxReplicaCount (2)");
    expect(tpl("keda.fallback.replicas=20").stderr).toContain("keda.fallback.replicas (20) must not exceed keda.maxReplicaCount (10)");
    expect(tpl("keda.minReplicaCount=2,keda.maxReplicaCount=2").code).toBe(0);
  });
});

describe("NOTES.txt in batched mode", () => {
  it("shows the batch key layout and how to find a message inside a batch, never <MessageId>.json", () => {
    const notes = helmNotes(["-f", DEFAULT_VALUES, "--set", "config.archiveFormat=ndjson,config.archiveCompression=zstd"]);
    expect(notes).not.toContain("<MessageId>.json");
    expect(notes).toContain("s3://example-sqs-archive/sqs-messages/YYYY/MM/DD/HH/<first SentTimestamp ms>-<16 hex>.ndjson.zst");
    expect(notes).toContain("zstd -dc | grep -F");
    expect(helmNotes(["-f", DEFAULT_VALUES, "--set", "config.archiveFormat=ndjson"])).toContain(".ndjson.gz");
  });
});

describe("priority class examples", () => {
  it("no example values file uses a system-reserved priority class", () => {
    for (const f of ["ci/default-values.yaml", "ci/full-values.yaml", "../environments/dev.yaml", "../environments/staging.yaml", "../environments/production.yaml"]) {
      const values = parseYaml(readFileSync(join(CHART, f), "utf8")) as { priorityClassName?: string };
      expect(values.priorityClassName ?? "", f).not.toMatch(/^system-/);
    }
    expect(readFileSync(join(CHART, "values.yaml"), "utf8")).toMatch(/@param priorityClassName[^\n]*not\s*\n?[^\n]*system-cluster-critical/);
  });
});
