/**
 * The PrometheusRule as an SRE reads it: every alert can fire in the configurations the chart offers (ServiceMonitor or
 * annotation-based scraping), none pages on a trickle or an idle queue, aggregations keep `namespace` for routing,
 * nothing stays silent when there is no target at all, and every alert links its section of docs/runbooks.md.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART, ROOT, ensureTools, find, helmTemplate, run } from "./helpers.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const PRODUCTION = join(ROOT, "helm/environments/production.yaml");

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function rules(args: string[], release = "sqs-archiver", namespace = "sqs-archiver"): Rule[] {
  const pr = find(helmTemplate(["-f", DEFAULT_VALUES, "--set", "prometheusRule.enabled=true", ...args], release, namespace), "PrometheusRule") as any;
  return pr.spec.groups.flatMap((g: any) => g.rules as Rule[]);
}
const byName = (rs: Rule[], name: string) => {
  const r = rs.find((x) => x.alert === name);
  if (!r) throw new Error(`no alert ${name} in ${rs.map((x) => x.alert).join(", ")}`);
  return r;
};
/** Label matchers inside the {...} selectors of an expression. */
const selectors = (expr: string) => [...expr.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] as string);

describe("PrometheusRule alerts", () => {
  it("without a ServiceMonitor or jobLabel, selectors do not require a job label annotation scraping never sets", () => {
    const rs = rules(["--set", "serviceMonitor.enabled=false"]);
    for (const r of rs.filter((x) => x.expr.includes("sqs_archiver_"))) {
      for (const sel of selectors(r.expr)) expect(sel, r.alert).not.toMatch(/\bjob=/);
    }
    // The release is told apart by its pod names instead (another release in the namespace has another prefix).
    expect(byName(rs, "SqsArchiverNotReady").expr).toContain('namespace="sqs-archiver", pod=~"sqs-archiver-[a-z0-9]+-[a-z0-9]+"');
  });

  it("with a ServiceMonitor, selectors use the job it sets (the Service name); jobLabel overrides both", () => {
    const sm = rules(["--set", "serviceMonitor.enabled=true"], "orders", "archive");
    expect(byName(sm, "SqsArchiverNotReady").expr).toContain('namespace="archive", job="orders-sqs-archiver"');
    const custom = rules(["--set", "serviceMonitor.enabled=false,prometheusRule.jobLabel=kubernetes-pods"]);
    expect(byName(custom, "SqsArchiverNotReady").expr).toContain('job="kubernetes-pods"');
  });

  it("NoSuccessfulPoll tolerates the configured gap between polls, so an idle queue with a long POLL_INTERVAL is quiet", () => {
    const threshold = (args: string[]) => Number(/> (\d+)$/.exec(byName(rules(args), "SqsArchiverNoSuccessfulPoll").expr)?.[1]);
    expect(threshold([])).toBe(300 + 20 + 0);
    // One successful (empty) receive every waitTimeSeconds + pollIntervalSeconds = 1820 s: the alert must not fire.
    expect(threshold(["--set", "config.pollIntervalSeconds=1800"])).toBeGreaterThan(20 + 1800);
  });

  it("failures never page at a zero threshold: warning by default, and the schema rejects 0", () => {
    const prod = find(helmTemplate(["-f", PRODUCTION]), "PrometheusRule") as any;
    const prodRules: Rule[] = prod.spec.groups.flatMap((g: any) => g.rules);
    const failures = byName(prodRules, "SqsArchiverFailuresRising");
    expect(failures.labels.severity).toBe("warning");
    expect(Number(/> ([0-9.]+)$/.exec(failures.expr)?.[1])).toBeGreaterThan(0);
    expect(byName(prodRules, "SqsArchiverNotReady").labels.severity).toBe("critical");
    const { helm } = ensureTools();
    const zero = run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", "prometheusRule.enabled=true,prometheusRule.failures.rateThreshold=0"]);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toMatch(/rateThreshold/);
  });

  it("every aggregation keeps namespace, or the alert carries the archiver's namespace as a label", () => {
    const rs = rules(["--set", "prometheusRule.dlq.queueName=orders-dlq"], "sqs-archiver", "ops");
    for (const r of rs) {
      const bys = [...r.expr.matchAll(/\b(?:max|min|sum|avg|count) by \(([^)]*)\)/g)].map((m) => m[1] as string);
      const bare = /\b(?:max|min|sum|avg|count)\s*\(/.test(r.expr);
      expect(bare, `${r.alert}: aggregation without "by"`).toBe(false);
      const keepsNamespace = bys.length > 0 && bys.every((b) => b.split(/,\s*/).includes("namespace"));
      // absent() returns one series labelled with the selector's equality matchers.
      const absentWithNamespace = /^absent\(/.test(r.expr) && r.expr.includes('namespace="ops"');
      if (!keepsNamespace && !absentWithNamespace) expect(r.labels.namespace, r.alert).toBe("ops");
    }
  });

  it("absent() guards: no archiver series at all, and no CloudWatch series for the queue", () => {
    const rs = rules([]);
    const absent = byName(rs, "SqsArchiverAbsent");
    // The release, not the namespace: another release in it must not keep this one's absence quiet (issue 18 item 9).
    expect(absent.expr).toBe('absent(sqs_archiver_build_info{namespace="sqs-archiver", pod=~"sqs-archiver-[a-z0-9]+-[a-z0-9]+"})');
    expect(absent.labels.severity).toBe("warning");
    expect(byName(rs, "SqsArchiverQueueMetricsAbsent").expr).toBe(
      'absent(aws_sqs_approximate_age_of_oldest_message_maximum{dimension_QueueName="orders"})',
    );
    // KEDA scaled to zero means no pods on an empty queue: absence is expected, so no absent alert.
    const zero = rules(["--set", "keda.enabled=true,keda.minReplicaCount=0"]);
    expect(zero.map((r) => r.alert)).not.toContain("SqsArchiverAbsent");
  });

  it("MessageAgeHigh watches the queue's oldest message (CloudWatch), not only messages already archived", () => {
    const r = byName(rules(["--set", "prometheusRule.messageAgeSeconds=600"]), "SqsArchiverMessageAgeHigh");
    expect(r.expr).toBe(
      'max by (dimension_QueueName) (aws_sqs_approximate_age_of_oldest_message_maximum{dimension_QueueName="orders"}) > 600',
    );
    const off = rules(["--set", "prometheusRule.cloudwatch.enabled=false,prometheusRule.dlq.queueName=orders-dlq"]).map((x) => x.alert);
    expect(off).not.toContain("SqsArchiverMessageAgeHigh");
    expect(off).not.toContain("SqsArchiverDeadLetterQueueNotEmpty");
  });

  it("every alert links its own section of docs/runbooks.md by default", () => {
    const runbooks = readFileSync(join(ROOT, "docs/runbooks.md"), "utf8");
    const anchors = new Set([...runbooks.matchAll(/^## (\S+)/gm)].map((m) => (m[1] as string).toLowerCase()));
    const rs = rules(["--set", "prometheusRule.dlq.queueName=orders-dlq"]);
    expect(rs.length).toBeGreaterThanOrEqual(7);
    for (const r of rs) {
      expect(r.annotations.runbook_url, r.alert).toBe(`https://github.com/example/sqs-archiver/blob/main/docs/runbooks.md#${r.alert.toLowerCase()}`);
      expect(anchors, r.alert).toContain(r.alert.toLowerCase());
      const section = runbooks.split(/^## /m).find((s) => s.startsWith(`${r.alert}\n`)) ?? "";
      for (const part of ["Meaning", "Confirm", "Act"]) expect(section, `${r.alert} ${part}`).toContain(`**${part}**`);
    }
    // A different base URL (an internal wiki mirror) is one setting.
    const custom = rules(["--set", "prometheusRule.runbookUrl=https://wiki.example.com/sqs-archiver"]);
    expect(byName(custom, "SqsArchiverAbsent").annotations.runbook_url).toBe("https://wiki.example.com/sqs-archiver#sqsarchiverabsent");
  });
});
