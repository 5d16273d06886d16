/**
 * Compaction's deployment artefacts agree with the code: the Helm CronJob and the kustomize component run
 * `sqs-archiver compact` with arguments the CLI accepts, their own ServiceAccount, a spill emptyDir where the CLI
 * spills, restricted pod security, and no label the Service selects; the alerts load in promtool.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseCompactArgs } from "../../src/cli/compact-args.js";
import { CHART, K8S, find, helmTemplate, kinds, kustomize, requireSystemTool, restrictedPssProblems, run, validateAll, type K8sObject } from "./helpers.js";
import { expand } from "./prom-rules.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const jobPod = (cj: K8sObject) => (cj as any).spec.jobTemplate.spec.template.spec;

/** The CronJob's arguments as the CLI parses them, with the container's environment (ConfigMap + env). */
function parsedArgs(cj: K8sObject, config: Record<string, string>) {
  const c = jobPod(cj).containers[0];
  expect(c.args[0]).toBe("compact");
  const env: Record<string, string> = { ...config };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const o = parseCompactArgs(c.args.slice(1), env, Date.UTC(2026, 10, 24, 12));
  if (o === "help") throw new Error("help");
  return { o, c };
}

function checkCommon(objects: K8sObject[], cj: K8sObject, saName: string) {
  const pod = jobPod(cj);
  expect(restrictedPssProblems(pod, "CronJob")).toEqual([]);
  expect(pod.serviceAccountName).toBe(saName);
  expect(find(objects, "ServiceAccount", saName)).toBeDefined();
  expect(pod.restartPolicy).toBe("Never");
  // The Service never routes to a compaction pod.
  const svc = find(objects, "Service") as any;
  const labels = (cj as any).spec.jobTemplate.spec.template.metadata.labels;
  expect(Object.entries(svc.spec.selector).every(([k, v]) => labels[k] === v)).toBe(false);
}

describe("Helm: compaction.enabled", () => {
  const objects = helmTemplate(["-f", DEFAULT_VALUES, "--set", "compaction.enabled=true,prometheusRule.enabled=true,compaction.serviceAccount.roleArn=arn:aws:iam::123456789012:role/compact"]);
  const cj = find(objects, "CronJob");

  it("is off by default", () => {
    expect(helmTemplate(["-f", DEFAULT_VALUES]).filter((o) => o.kind === "CronJob")).toEqual([]);
  });

  it("validates, runs compact with arguments the CLI accepts, spills into its emptyDir, under its own role", async () => {
    await validateAll(objects);
    checkCommon(objects, cj, "sqs-archiver-compact");
    const cm = find(objects, "ConfigMap", "sqs-archiver") as any;
    const { o, c } = parsedArgs(cj, cm.data);
    expect(o.settleMs).toBe(600_000);
    expect(o.since.relative).toBe(true);
    expect(o.memoryLimit).toBe("512MB");
    expect(o.spillDir).toBe("/spill");
    expect(c.volumeMounts).toContainEqual({ name: "spill", mountPath: "/spill" });
    expect(jobPod(cj).volumes).toContainEqual({ name: "spill", emptyDir: { sizeLimit: "8Gi" } });
    expect((cj as any).spec.schedule).toBe("20 * * * *");
    expect(find(objects, "ServiceAccount", "sqs-archiver-compact").metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe("arn:aws:iam::123456789012:role/compact");
    // Memory: the DuckDB limit plus the process's own, under the container limit.
    expect(c.resources.limits.memory).toBe("1280Mi");
  });

  it("window, settle, toPrefix and resources come from values; the schema rejects a bad window", () => {
    const custom = find(helmTemplate(["-f", DEFAULT_VALUES, "--set", "compaction.enabled=true,compaction.window=72h,compaction.settle=30m,compaction.toPrefix=lake/orders/"]), "CronJob");
    const { o } = parsedArgs(custom, { S3_BUCKET_NAME: "acme-orders-archive", S3_PREFIX: "sqs-messages/", AWS_REGION: "eu-west-1" });
    expect(o.settleMs).toBe(1_800_000);
    expect(o.toPrefix).toBe("lake/orders/");
    expect(o.until.ms - o.since.ms).toBe(72 * 3_600_000);
    expect(() => helmTemplate(["-f", DEFAULT_VALUES, "--set", "compaction.enabled=true,compaction.window=yesterday"])).toThrow();
  });

  it("alerts on a failed Job and on falling behind; promtool loads them", () => {
    const pr = objects.filter((x) => x.kind === "PrometheusRule").find((x) => x.metadata.name === "sqs-archiver-compact") as any;
    const rules = pr.spec.groups.flatMap((g: any) => g.rules);
    expect(rules.map((r: any) => r.alert)).toEqual(["SqsArchiverCompactionFailed", "SqsArchiverCompactionBehind"]);
    expect(rules[0].expr).toContain('kube_job_status_failed{namespace="sqs-archiver", job_name=~"sqs-archiver-compact-[0-9]+"}');
    expect(rules[1].expr).toContain('kube_cronjob_status_last_successful_time{namespace="sqs-archiver", cronjob="sqs-archiver-compact"}');
    expect(rules[1].expr).toMatch(/> 10800$/);
    const runbooks = readFileSync(join(K8S, "../docs/runbooks.md"), "utf8");
    for (const r of rules) {
      expect(r.annotations.runbook_url).toBe(`https://github.com/example/sqs-archiver/blob/main/docs/runbooks.md#${r.alert.toLowerCase()}`);
      const section = runbooks.split(/^## /m).find((x) => x.startsWith(`${r.alert}\n`)) ?? "";
      for (const part of ["Meaning", "Confirm", "Act"]) expect(section, `${r.alert} ${part}`).toContain(`**${part}**`);
    }
    const dir = mkdtempSync(join(tmpdir(), "compact-rules-"));
    try {
      writeFileSync(join(dir, "rules.yaml"), stringify({ groups: pr.spec.groups }));
      const r = run(requireSystemTool("promtool"), ["check", "rules", join(dir, "rules.yaml")]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("promtool test rules: the compaction alerts fire when they should and stay silent on the near miss", () => {
  const objects = helmTemplate(["-f", DEFAULT_VALUES, "--set", "compaction.enabled=true,prometheusRule.enabled=true"]);
  const pr = objects.filter((x) => x.kind === "PrometheusRule").find((x) => x.metadata.name === "sqs-archiver-compact") as any;
  const rules = pr.spec.groups.flatMap((g: any) => g.rules) as Array<{ alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }>;
  /** The alert as Prometheus produces it: its labels, and its annotations expanded with them. */
  const alert = (i: number, labels: Record<string, string>) => {
    const all = { ...labels, ...rules[i]?.labels };
    return { exp_labels: all, exp_annotations: Object.fromEntries(Object.entries(rules[i]?.annotations ?? {}).map(([k, v]) => [k, expand(v, all, 0)])) };
  };
  const behind = Number(/> (\d+)$/.exec(rules[1]?.expr ?? "")?.[1]);
  const kjs = (job: string) => `kube_job_status_failed{namespace="sqs-archiver", job_name="${job}"}`;
  const kcs = (cronjob: string) => `kube_cronjob_status_last_successful_time{namespace="sqs-archiver", cronjob="${cronjob}"}`;
  const late = `${Math.ceil((behind + 15 * 60) / 60)}m`;

  it("each scenario passes in promtool", () => {
    const tests = [
      {
        name: "a failed compaction Job pages once it has stayed failed for 5m",
        interval: "1m",
        input_series: [{ series: kjs("sqs-archiver-compact-29412345"), values: "1x30" }],
        alert_rule_test: [
          { eval_time: "3m", alertname: "SqsArchiverCompactionFailed", exp_alerts: [] },
          { eval_time: "10m", alertname: "SqsArchiverCompactionFailed", exp_alerts: [alert(0, { namespace: "sqs-archiver", job_name: "sqs-archiver-compact-29412345" })] },
        ],
      },
      {
        name: "another release's failed Job, or ours succeeding, stays silent",
        interval: "1m",
        input_series: [
          { series: kjs("payments-sqs-archiver-compact-29412345"), values: "1x30" },
          { series: kjs("sqs-archiver-compact-29412346"), values: "0x30" },
        ],
        alert_rule_test: [{ eval_time: "20m", alertname: "SqsArchiverCompactionFailed", exp_alerts: [] }],
      },
      {
        name: "no successful run for longer than maxHoursBehind pages",
        interval: "1m",
        input_series: [{ series: kcs("sqs-archiver-compact"), values: `0x${Math.ceil(behind / 60) + 30}` }],
        alert_rule_test: [{ eval_time: late, alertname: "SqsArchiverCompactionBehind", exp_alerts: [alert(1, { namespace: "sqs-archiver", cronjob: "sqs-archiver-compact" })] }],
      },
      {
        name: "a CronJob that keeps succeeding stays silent",
        interval: "1m",
        input_series: [{ series: kcs("sqs-archiver-compact"), values: `0+60x${Math.ceil(behind / 60) + 30}` }],
        alert_rule_test: [{ eval_time: late, alertname: "SqsArchiverCompactionBehind", exp_alerts: [] }],
      },
    ];
    const dir = mkdtempSync(join(tmpdir(), "compact-promtool-"));
    try {
      writeFileSync(join(dir, "rules.yaml"), stringify({ groups: pr.spec.groups }));
      writeFileSync(join(dir, "tests.yaml"), stringify({ rule_files: [join(dir, "rules.yaml")], evaluation_interval: "1m", tests }));
      const r = run(requireSystemTool("promtool"), ["test", "rules", join(dir, "tests.yaml")]);
      expect(r.stdout + r.stderr, "promtool test rules").toContain("SUCCESS");
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("kustomize: components/compaction", () => {
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-compact-overlay-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = relative(dir, K8S);
  writeFileSync(
    join(dir, "kustomization.yaml"),
    ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:", `  - ${base}`, "components:", `  - ${base}/components/compaction`, ""].join("\n"),
  );
  const objects = kustomize(dir);

  it("adds the CronJob and its ServiceAccount, valid, with the same contract as the chart", async () => {
    expect(kinds(objects)).toEqual(["ConfigMap", "CronJob", "Deployment", "Namespace", "Service", "ServiceAccount", "ServiceAccount"]);
    await validateAll(objects);
    const cj = find(objects, "CronJob");
    checkCommon(objects, cj, "sqs-archiver-compact");
    const cm = objects.find((x) => x.kind === "ConfigMap") as any;
    // The generated ConfigMap name carries a hash: the CronJob's reference is rewritten to it.
    expect(jobPod(cj).containers[0].envFrom[0].configMapRef.name).toBe(cm.metadata.name);
    const { o } = parsedArgs(cj, { ...cm.data, S3_BUCKET_NAME: "acme-orders-archive", SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders" });
    expect(o.aws.s3Region).toBe("eu-west-1");
    expect(o.spillDir).toBe("/spill");
    const pkg = JSON.parse(readFileSync(join(K8S, "../package.json"), "utf8")) as { version: string };
    expect(jobPod(cj).containers[0].image).toBe(`sqs-archiver:${pkg.version}`);
    expect(jobPod(cj).containers[0].image).toBe((find(objects, "Deployment") as any).spec.template.spec.containers[0].image);
  });
});
