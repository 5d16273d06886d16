/**
 * Issue 18, the chart as an SRE operates it: the ServiceMonitor's job label is the one the alerts select, KEDA in
 * batched mode neither counts buffered messages as backlog nor scales past SQS's in-flight limit.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART, ensureTools, find, helmTemplate, run } from "./helpers.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const FULL_VALUES = join(CHART, "ci/full-values.yaml");

interface Relabeling {
  action?: string;
  sourceLabels?: string[];
  targetLabel?: string;
  replacement?: string;
  regex?: string;
  separator?: string;
}

/**
 * The target labels prometheus-operator gives a ServiceMonitor's series: job = the Service name (no spec.jobLabel),
 * namespace, pod; then the endpoint's relabelings (replace action, as Prometheus applies it).
 */
function scrapedLabels(objects: ReturnType<typeof helmTemplate>): Record<string, string> {
  const sm = find(objects, "ServiceMonitor") as any;
  const svc = find(objects, "Service");
  expect(sm.spec.jobLabel, "spec.jobLabel would take job from a Service label").toBeUndefined();
  const labels: Record<string, string> = { job: svc.metadata.name, namespace: svc.metadata.namespace as string, pod: `${svc.metadata.name}-5d8f7c9b4-abcde`, service: svc.metadata.name };
  for (const r of (sm.spec.endpoints[0].relabelings ?? []) as Relabeling[]) {
    expect(r.action ?? "replace").toBe("replace");
    const source = (r.sourceLabels ?? []).map((l) => labels[l] ?? "").join(r.separator ?? ";");
    const m = new RegExp(`^(?:${r.regex ?? "(.*)"})$`).exec(source);
    if (m && r.targetLabel) labels[r.targetLabel] = (r.replacement ?? "$1").replace(/\$(\d)/g, (_, i) => m[Number(i)] ?? "");
  }
  return labels;
}

const rulesOf = (objects: ReturnType<typeof helmTemplate>) =>
  (find(objects, "PrometheusRule") as any).spec.groups.flatMap((g: any) => g.rules) as Array<{ alert: string; expr: string }>;

describe("ServiceMonitor and alert selectors agree on job (item 2)", () => {
  it("with ci/full-values (jobLabel set), the scraped series carry the job every archiver alert selects", () => {
    const objects = helmTemplate(["-f", FULL_VALUES]);
    const labels = scrapedLabels(objects);
    expect(labels.job).toBe("sqs-archiver-metrics");
    for (const r of rulesOf(objects).filter((x) => x.expr.includes("sqs_archiver_"))) {
      for (const m of r.expr.matchAll(/\bjob="([^"]*)"/g)) expect(m[1], r.alert).toBe(labels.job);
      expect(r.expr, r.alert).toContain(`namespace="${labels.namespace}"`);
    }
  });

  it("without jobLabel the Service name is both the job and the selector (no relabeling needed)", () => {
    const objects = helmTemplate(["-f", DEFAULT_VALUES, "--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true"], "orders", "archive");
    const labels = scrapedLabels(objects);
    expect(labels.job).toBe("orders-sqs-archiver");
    const poll = rulesOf(objects).find((r) => r.alert === "SqsArchiverNoSuccessfulPoll");
    expect(poll?.expr).toContain('job="orders-sqs-archiver"');
  });
});

describe("KEDA in batched mode (item 3)", () => {
  const trigger = (args: string[]) => (find(helmTemplate(["-f", DEFAULT_VALUES, "--set", "keda.enabled=true,keda.maxReplicaCount=5", ...args]), "ScaledObject") as any).spec.triggers[0].metadata;

  it("does not count in-flight messages with archiveFormat ndjson (they are buffered by design); does in message mode", () => {
    expect(trigger(["--set", "config.archiveFormat=ndjson"]).scaleOnInFlight).toBe("false");
    expect(trigger([]).scaleOnInFlight).toBe("true");
    // An explicit choice wins either way.
    expect(trigger(["--set", "config.archiveFormat=ndjson,keda.scaleOnInFlight=true"]).scaleOnInFlight).toBe("true");
    expect(trigger(["--set", "keda.scaleOnInFlight=false"]).scaleOnInFlight).toBe("false");
  });

  it("refuses to render when maxReplicaCount x in-flight messages per pod reaches SQS's ~120,000 in-flight limit", () => {
    const { helm } = ensureTools();
    const tpl = (set: string) => run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", set]);
    // Defaults: 10 replicas x 2 x 10,000 = 200,000.
    const r = tpl("keda.enabled=true,config.archiveFormat=ndjson");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("10 replicas x 20000 in-flight messages per pod (2 x config.batchMaxMessages) = 200000 reaches SQS's limit");
    expect(r.stderr).toContain("keda.maxReplicaCount");
    // Exactly at the limit is refused (six pods at 20,000), just below renders.
    expect(tpl("keda.enabled=true,keda.maxReplicaCount=6,config.archiveFormat=ndjson").code).not.toBe(0);
    expect(tpl("keda.enabled=true,keda.maxReplicaCount=5,config.archiveFormat=ndjson").code).toBe(0);
    expect(tpl("keda.enabled=true,keda.maxReplicaCount=10,config.archiveFormat=ndjson,config.batchMaxMessages=5000").code).toBe(0);
    // Without KEDA the replica count is the maximum.
    const fixed = tpl("replicaCount=6,config.archiveFormat=ndjson");
    expect(fixed.code).not.toBe(0);
    expect(fixed.stderr).toContain("replicaCount");
    // Message mode holds concurrency x maxMessagesPerPoll per pod: 10 replicas x 80 is far from the limit.
    expect(tpl("keda.enabled=true").code).toBe(0);
  });
});
