/**
 * Issue 18 item 10: what users expect from the chart and did not find. A replay Job with its own ServiceAccount and
 * IAM role and a volume for --checkpoint, built from helpers (templates/_tools.tpl) that the compaction and
 * verification Jobs reuse; extraEnvFrom / extraVolumes / extraVolumeMounts.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseReplayArgs } from "../../src/cli/replay-args.js";
import { CHART, ensureTools, find, helmTemplate, parseYamlDocs, restrictedPssProblems, run, runOk, validateAll, type K8sObject } from "./helpers.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const FULL_VALUES = join(CHART, "ci/full-values.yaml");
const TARGET = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-replay";
const REPLAY_ROLE = "arn:aws:iam::123456789012:role/sqs-archiver-replay";
const replayArgs = [
  "--set",
  `replay.enabled=true,replay.since=2026-11-24T12:00:00Z,replay.until=2026-11-24T14:00:00Z,replay.to=${TARGET},replay.serviceAccount.roleArn=${REPLAY_ROLE},replay.rate=200`,
  "--set-string",
  "replay.filters[0]=smoke-test!=*,replay.filters[1]=tenant=acme",
];
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("replay Job (replay.enabled)", () => {
  const objects = helmTemplate(["-f", FULL_VALUES, ...replayArgs]);
  const job = find(objects, "Job") as any;
  const pod = job.spec.template.spec;
  const c = pod.containers[0];

  it("renders valid objects under the restricted profile", async () => {
    await validateAll(objects);
    expect(restrictedPssProblems(pod, "replay Job")).toEqual([]);
    expect(pod.restartPolicy).toBe("Never");
    expect(job.spec.backoffLimit).toBe(3);
  });

  it("runs under its own ServiceAccount with the replay role, never the archiver's", () => {
    const accounts = objects.filter((o) => o.kind === "ServiceAccount");
    const archiverSa = (find(objects, "Deployment") as any).spec.template.spec.serviceAccountName;
    expect(pod.serviceAccountName).not.toBe(archiverSa);
    const sa = accounts.find((a) => a.metadata.name === pod.serviceAccountName) as K8sObject;
    expect(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe(REPLAY_ROLE);
    expect(accounts.find((a) => a.metadata.name === archiverSa)?.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe("arn:aws:iam::123456789012:role/sqs-archiver");
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("keeps its --checkpoint on a PersistentVolumeClaim, so a retried pod resumes", () => {
    const pvc = find(objects, "PersistentVolumeClaim") as any;
    expect(pvc.metadata.annotations["helm.sh/resource-policy"]).toBe("keep");
    const volume = pod.volumes.find((v: any) => v.persistentVolumeClaim);
    expect(volume.persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    const mount = c.volumeMounts.find((m: any) => m.name === volume.name);
    const checkpoint = c.args[c.args.indexOf("--checkpoint") + 1] as string;
    expect(checkpoint.startsWith(`${mount.mountPath}/`)).toBe(true);
    // An existing claim is used as is.
    const existing = helmTemplate(["-f", DEFAULT_VALUES, ...replayArgs, "--set", "replay.checkpoint.existingClaim=replay-state"]);
    expect(existing.filter((o) => o.kind === "PersistentVolumeClaim")).toEqual([]);
    expect((find(existing, "Job") as any).spec.template.spec.volumes.find((v: any) => v.persistentVolumeClaim).persistentVolumeClaim.claimName).toBe("replay-state");
  });

  it("runs the image's CLI with arguments the real replay parser accepts, and the archive's bucket and prefix", () => {
    expect(c.image).toBe((find(objects, "Deployment") as any).spec.template.spec.containers[0].image);
    expect(c.command).toEqual(["node", "dist/cli/cli.js", "replay"]);
    const env = Object.fromEntries((c.env as Array<{ name: string; value?: string }>).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
    expect(env).toMatchObject({ S3_BUCKET_NAME: "example-sqs-archive", S3_PREFIX: "archive/orders/", AWS_REGION: "eu-west-1" });
    const opts = parseReplayArgs(c.args, env, Date.parse("2026-12-01T00:00:00Z"));
    if (opts === "help") throw new Error("help");
    expect(opts.to).toBe(TARGET);
    expect(opts.filterTexts).toEqual(["smoke-test!=*", "tenant=acme"]);
    expect(opts.rate).toBe(200);
    expect(opts.bucket).toBe("example-sqs-archive");
    expect(opts.prefix).toBe("archive/orders/");
    expect(opts.checkpoint).toMatch(/^\/var\/lib\/sqs-archiver\/replay-[0-9a-f]{8}\.checkpoint$/);
  });

  it("is selected by neither the archiver's Service, PodDisruptionBudget, Deployment nor NetworkPolicy", () => {
    const labels = job.spec.template.metadata.labels as Record<string, string>;
    expect(labels["app.kubernetes.io/component"]).toBe("replay");
    expect(matches((find(objects, "Service") as any).spec.selector, labels)).toBe(false);
    expect(matches((find(objects, "PodDisruptionBudget") as any).spec.selector.matchLabels, labels)).toBe(false);
    expect(matches((find(objects, "Deployment") as any).spec.selector.matchLabels, labels)).toBe(false);
    expect(matches((find(objects, "NetworkPolicy") as any).spec.podSelector.matchLabels, labels)).toBe(false);
  });

  it("a changed replay is a new Job (Jobs are immutable); the same values keep the same name", () => {
    const again = find(helmTemplate(["-f", FULL_VALUES, ...replayArgs]), "Job");
    expect(again.metadata.name).toBe(job.metadata.name);
    const other = find(helmTemplate(["-f", FULL_VALUES, ...replayArgs, "--set", "replay.rate=100"]), "Job");
    expect(other.metadata.name).not.toBe(job.metadata.name);
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
  });

  it("is absent by default and refuses to render without --since or --to", () => {
    expect(helmTemplate(["-f", DEFAULT_VALUES]).filter((o) => o.kind === "Job")).toEqual([]);
    const { helm } = ensureTools();
    const r = run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", `replay.enabled=true,replay.to=${TARGET}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("replay.since is required");
  });

  it("its helpers build any other tool's Job or CronJob (what compaction and verification reuse)", async () => {
    const { helm } = ensureTools();
    const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-tools-"));
    try {
      const chart = join(dir, "sqs-archiver");
      cpSync(CHART, chart, { recursive: true });
      writeFileSync(
        join(chart, "templates/verify-under-test.yaml"),
        `{{- $ctx := dict "root" . "tool" "verify" "values" .Values.replay "args" (list "--since" "1d") -}}
{{ include "sqs-archiver.tool.serviceAccount" $ctx }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "sqs-archiver.tool.fullname" $ctx }}
spec:
  schedule: "17 * * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          labels:
            {{- include "sqs-archiver.tool.labels" $ctx | nindent 12 }}
        spec:
          {{- include "sqs-archiver.tool.podSpec" $ctx | nindent 10 }}
`,
      );
      const out = parseYamlDocs(runOk(helm, ["template", "sqs-archiver", chart, "-f", DEFAULT_VALUES, "--set", "replay.checkpoint.enabled=false", "--show-only", "templates/verify-under-test.yaml"]));
      await validateAll(out);
      const cron = find(out, "CronJob") as any;
      const spec = cron.spec.jobTemplate.spec.template.spec;
      expect(spec.containers[0].command).toEqual(["node", "dist/cli/cli.js", "verify"]);
      expect(spec.serviceAccountName).toBe("sqs-archiver-verify");
      expect(restrictedPssProblems(spec, "verify CronJob")).toEqual([]);
      expect(find(out, "ServiceAccount").metadata.name).toBe("sqs-archiver-verify");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("extraEnvFrom, extraVolumes, extraVolumeMounts", () => {
  it("reach the archiver's container and pod", async () => {
    const objects = helmTemplate([
      "-f",
      DEFAULT_VALUES,
      "--set",
      "extraEnvFrom[0].secretRef.name=archiver-proxy,extraVolumes[0].name=ca,extraVolumes[0].configMap.name=corp-ca,extraVolumeMounts[0].name=ca,extraVolumeMounts[0].mountPath=/etc/ssl/corp,extraVolumeMounts[0].readOnly=true",
    ]);
    await validateAll(objects);
    const spec = (find(objects, "Deployment") as any).spec.template.spec;
    const c = spec.containers[0];
    expect(c.envFrom).toContainEqual({ secretRef: { name: "archiver-proxy" } });
    expect(c.envFrom[0].configMapRef).toBeDefined();
    expect(spec.volumes).toContainEqual({ name: "ca", configMap: { name: "corp-ca" } });
    expect(c.volumeMounts).toContainEqual({ name: "ca", mountPath: "/etc/ssl/corp", readOnly: true });
    expect(c.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
  });
});

describe("Grafana dashboard per release", () => {
  const dashboardOf = (release: string, namespace: string) => {
    const cm = helmTemplate(["-f", DEFAULT_VALUES, "--set", "grafanaDashboard.enabled=true"], release, namespace).find((o) => o.metadata.name.endsWith("-dashboard")) as K8sObject & { data: Record<string, string> };
    const [[key, json]] = Object.entries(cm.data) as [[string, string]];
    return { key, dashboard: JSON.parse(json) as { uid: string; title: string } };
  };

  it("has a uid (and sidecar file name) of its own, stable across upgrades, so two releases never overwrite each other", () => {
    const a = dashboardOf("orders", "archive");
    const b = dashboardOf("payments", "archive");
    const c = dashboardOf("orders", "other");
    expect(new Set([a.dashboard.uid, b.dashboard.uid, c.dashboard.uid]).size).toBe(3);
    expect(new Set([a.key, b.key, c.key]).size).toBe(3);
    expect(dashboardOf("orders", "archive").dashboard.uid).toBe(a.dashboard.uid);
    for (const d of [a, b, c]) expect(d.dashboard.uid.length).toBeLessThanOrEqual(40);
    expect(a.dashboard.title).toBe("SQS Archiver (archive/orders-sqs-archiver)");
  });
});

describe("chart README and Artifact Hub metadata", () => {
  it("the README's parameter table is what Bitnami's readme generator makes from values.yaml (CI runs the same check)", () => {
    const r = run(process.execPath, [join(CHART, "../../scripts/chart-readme.mjs"), "--check"]);
    expect(r.stdout + r.stderr).toContain("README.md is up to date");
    expect(r.code).toBe(0);
    const readme = readFileSync(join(CHART, "README.md"), "utf8");
    // Every @param, wrapped descriptions included, is in the table.
    for (const m of readFileSync(join(CHART, "values.yaml"), "utf8").matchAll(/## @param (?:\[[^\]]+\] )?(\S+)/g)) expect(readme, m[1]).toContain(`\`${m[1]}\``);
    expect(readme).toContain("| `keda.scaleOnInFlight`");
    expect(readme).toMatch(/false with archiveFormat ndjson, whose buffered messages are in flight by design/);
    expect(readFileSync(join(CHART, "../../Jenkinsfile-CI"), "utf8")).toContain("node scripts/chart-readme.mjs --check");
  });

  it("Chart.yaml carries Artifact Hub annotations that parse", () => {
    const chart = parseYaml(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { annotations: Record<string, string>; maintainers?: unknown[] };
    const a = chart.annotations;
    expect(a["artifacthub.io/license"]).toBe("Apache-2.0");
    expect(["streaming-messaging", "storage", "integration-delivery"]).toContain(a["artifacthub.io/category"]);
    const links = parseYaml(a["artifacthub.io/links"] as string) as Array<{ name: string; url: string }>;
    expect(links.map((l) => l.name)).toContain("Source");
    const images = parseYaml(a["artifacthub.io/images"] as string) as Array<{ name: string; image: string }>;
    expect(images[0]?.image).toMatch(/sqs-archiver:\d+\.\d+\.\d+$/);
    const changes = parseYaml(a["artifacthub.io/changes"] as string) as Array<{ kind: string; description: string }>;
    for (const c of changes) expect(["added", "changed", "deprecated", "removed", "fixed", "security"]).toContain(c.kind);
    expect(chart.maintainers?.length).toBeGreaterThan(0);
  });
});
