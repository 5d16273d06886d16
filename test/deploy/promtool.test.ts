/**
 * The chart's alerts proven with `promtool test rules` (Prometheus's own rule engine), not by matching strings: for
 * every alert, input series that must make it fire (labels and expanded annotations exactly as Prometheus produces
 * them) and near-miss series that must keep it silent, for both ways the chart can be scraped: annotation-based
 * (kubernetes-pods job) and prometheus-operator's ServiceMonitor (job = the Service name, or relabelled to
 * prometheusRule.jobLabel). Another release's pods in the same namespace never fire or silence this release's alerts.
 * promtool comes from Debian's `prometheus` package (.ci/run installs it).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CHART, find, requireSystemTool, run } from "./helpers.js";
import { expand, renderRules, seconds, type Rule } from "./prom-rules.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const FULL_VALUES = join(CHART, "ci/full-values.yaml");
const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-promtool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Setup {
  name: string;
  args: string[];
  release: string;
  namespace: string;
  /** Target labels of this release's pod, and of another release's pod in the same namespace, as scraped. */
  ours: Record<string, string>;
  other: Record<string, string>;
}

/** prometheus-operator's target labels for a ServiceMonitor: job = Service name, then the endpoint's relabelings. */
function serviceMonitorLabels(args: string[], release: string, namespace: string, pod: string): Record<string, string> {
  const objects = renderRules(args, release, namespace).objects;
  const svc = find(objects, "Service").metadata.name;
  const labels: Record<string, string> = { job: svc, namespace, service: svc, endpoint: "http", pod, instance: "10.0.1.23:8080", container: "sqs-archiver" };
  for (const r of ((find(objects, "ServiceMonitor") as any).spec.endpoints[0].relabelings ?? []) as Array<{ targetLabel: string; replacement: string; sourceLabels?: string[] }>) {
    expect(r.sourceLabels ?? [], "only constant relabelings are modelled here").toEqual([]);
    labels[r.targetLabel] = r.replacement;
  }
  return labels;
}

const annotationLabels = (namespace: string, pod: string) => ({ job: "kubernetes-pods", namespace, pod, instance: "10.0.1.23:8080", container: "sqs-archiver" });
const dlq = ["--set", "prometheusRule.dlq.queueName=orders-dlq"];

const SETUPS: Setup[] = [
  {
    name: "annotation-based scraping (chart defaults)",
    args: ["-f", DEFAULT_VALUES, "--set", "prometheusRule.enabled=true", ...dlq],
    release: "sqs-archiver",
    namespace: "sqs-archiver",
    ours: annotationLabels("sqs-archiver", "sqs-archiver-5d8f7c9b4-x7k2p"),
    other: annotationLabels("sqs-archiver", "payments-sqs-archiver-66b9c7d5f-q2w3e"),
  },
  (() => {
    const args = ["-f", DEFAULT_VALUES, "--set", "prometheusRule.enabled=true,serviceMonitor.enabled=true", ...dlq];
    return {
      name: "ServiceMonitor (job = the Service name)",
      args,
      release: "orders",
      namespace: "archive",
      ours: serviceMonitorLabels(args, "orders", "archive", "orders-sqs-archiver-5d8f7c9b4-x7k2p"),
      other: serviceMonitorLabels(args, "payments", "archive", "payments-sqs-archiver-66b9c7d5f-q2w3e"),
    };
  })(),
  (() => {
    const args = ["-f", FULL_VALUES];
    return {
      name: "ServiceMonitor with prometheusRule.jobLabel (ci/full-values)",
      args,
      release: "sqs-archiver",
      namespace: "sqs-archiver",
      ours: serviceMonitorLabels(args, "sqs-archiver", "sqs-archiver", "sqs-archiver-5d8f7c9b4-x7k2p"),
      // Another release's ServiceMonitor relabels to the same job when it shares the values: only the pod tells it apart.
      other: { ...serviceMonitorLabels(args, "sqs-archiver", "sqs-archiver", "x"), pod: "payments-sqs-archiver-66b9c7d5f-q2w3e", service: "payments-sqs-archiver" },
    };
  })(),
];

const series = (metric: string, labels: Record<string, string>) =>
  `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ")}}`;
const CW = { job: "yace", namespace: "monitoring", instance: "yace:5000" };
const AGE = "aws_sqs_approximate_age_of_oldest_message_maximum";
const VISIBLE = "aws_sqs_approximate_number_of_messages_visible_maximum";

interface InputSeries {
  series: string;
  values: string;
}

interface Scenario {
  /** Series that make the alert fire, the value its expression then has, and the labels it must carry. */
  fire: { input: InputSeries[]; value: number; labels: Record<string, string> };
  /** A near miss that must keep it silent. */
  quiet: { input: InputSeries[]; why: string };
  /** When the condition becomes true in `fire`, in seconds from 0 (the alert fires `for:` later). */
  onset: number;
}

/** Healthy series of one pod: polled every minute, ready, no failures, build info present. */
function healthy(labels: Record<string, string>): InputSeries[] {
  return [
    { series: series("sqs_archiver_last_poll_timestamp_seconds", labels), values: "0+60x90" },
    { series: series("sqs_archiver_ready", labels), values: "1x90" },
    { series: series("sqs_archiver_failures_total", { ...labels, stage: "archive", reason: "SlowDown" }), values: "0x90" },
    { series: series("sqs_archiver_build_info", { ...labels, version: "1.0.0" }), values: "1x90" },
  ];
}
const healthyQueue = (): InputSeries[] => [
  { series: series(AGE, { ...CW, dimension_QueueName: "orders" }), values: "30x90" },
  { series: series(VISIBLE, { ...CW, dimension_QueueName: "orders-dlq" }), values: "0x90" },
];

function scenarios(s: Setup, rules: Rule[]): Record<string, Scenario> {
  const byName = (n: string) => rules.find((r) => r.alert === n) as Rule;
  const noPoll = Number(/> (\d+)$/.exec(byName("SqsArchiverNoSuccessfulPoll").expr)?.[1]);
  const rateThreshold = Number(/> ([\d.]+)$/.exec(byName("SqsArchiverFailuresRising").expr)?.[1]);
  const freshness = Number(/> (\d+)$/.exec(byName("SqsArchiverArchiveFreshness").expr)?.[1]);
  const AGE_GAUGE = "sqs_archiver_oldest_unarchived_message_age_seconds";
  const ns = s.namespace;
  const withoutOurs = (name: string) => healthy(s.ours).filter((x) => !x.series.startsWith(`${name}{`));
  return {
    SqsArchiverNoSuccessfulPoll: {
      // The last successful poll stays at t=0: true once time() passes the threshold.
      fire: { input: [...withoutOurs("sqs_archiver_last_poll_timestamp_seconds"), { series: series("sqs_archiver_last_poll_timestamp_seconds", s.ours), values: "0x90" }], value: NaN, labels: { namespace: ns, pod: s.ours.pod as string } },
      quiet: { input: [...healthy(s.ours), { series: series("sqs_archiver_last_poll_timestamp_seconds", s.other), values: "0x90" }], why: "our pod polls every minute; another release's pod that stopped polling is not ours" },
      onset: (Math.floor(noPoll / 60) + 1) * 60,
    },
    SqsArchiverFailuresRising: {
      // 2 failures/s, far above the threshold; the near miss is a trickle below it, plus another release failing hard.
      fire: { input: [...withoutOurs("sqs_archiver_failures_total"), { series: series("sqs_archiver_failures_total", { ...s.ours, stage: "archive", reason: "SlowDown" }), values: "0+120x90" }], value: 2, labels: { namespace: ns, stage: "archive", reason: "SlowDown" } },
      quiet: {
        input: [
          ...withoutOurs("sqs_archiver_failures_total"),
          { series: series("sqs_archiver_failures_total", { ...s.ours, stage: "archive", reason: "SlowDown" }), values: `0+${Math.floor(rateThreshold * 60 * 0.5)}x90` },
          { series: series("sqs_archiver_failures_total", { ...s.other, stage: "archive", reason: "SlowDown" }), values: "0+600x90" },
        ],
        why: "a trickle of retried failures below the threshold; another release's failures are not ours",
      },
      onset: 60,
    },
    SqsArchiverNotReady: {
      fire: { input: [...withoutOurs("sqs_archiver_ready"), { series: series("sqs_archiver_ready", s.ours), values: "0x90" }], value: 0, labels: { namespace: ns, pod: s.ours.pod as string } },
      quiet: { input: [...healthy(s.ours), { series: series("sqs_archiver_ready", s.other), values: "0x90" }], why: "our pod is ready; another release's pod is not ours" },
      onset: 0,
    },
    SqsArchiverArchiveFreshness: {
      // A message held past the threshold on our pod; the near miss is one younger than it, and another release stuck.
      fire: { input: [...healthy(s.ours), { series: series(AGE_GAUGE, s.ours), values: `${freshness * 2}x90` }], value: freshness * 2, labels: { namespace: ns, pod: s.ours.pod as string } },
      quiet: {
        input: [...healthy(s.ours), { series: series(AGE_GAUGE, s.ours), values: `${Math.floor(freshness / 2)}x90` }, { series: series(AGE_GAUGE, s.other), values: `${freshness * 10}x90` }],
        why: "our oldest unarchived message is younger than the threshold; another release's is not ours",
      },
      onset: 0,
    },
    SqsArchiverAbsent: {
      // Nothing of ours is scraped, while another release in the same namespace is: still absent (issue 18 item 9).
      fire: {
        input: [...healthy(s.other), ...healthyQueue()],
        value: 1,
        labels: Object.fromEntries(Object.entries({ namespace: ns, job: s.ours.job as string }).filter(([k]) => byName("SqsArchiverAbsent").expr.includes(`${k}="`))),
      },
      quiet: { input: [...healthy(s.ours), ...healthyQueue()], why: "our pod is scraped" },
      onset: 0,
    },
    SqsArchiverMessageAgeHigh: {
      fire: { input: [...healthy(s.ours), { series: series(AGE, { ...CW, dimension_QueueName: "orders" }), values: "1000x90" }], value: 1000, labels: { dimension_QueueName: "orders", namespace: ns } },
      quiet: { input: [...healthy(s.ours), { series: series(AGE, { ...CW, dimension_QueueName: "orders" }), values: "600x90" }, { series: series(AGE, { ...CW, dimension_QueueName: "payments" }), values: "5000x90" }], why: "our queue's oldest message is young; another queue's age is not ours" },
      onset: 0,
    },
    SqsArchiverQueueMetricsAbsent: {
      fire: { input: [...healthy(s.ours), { series: series(AGE, { ...CW, dimension_QueueName: "payments" }), values: "30x90" }], value: 1, labels: { dimension_QueueName: "orders", namespace: ns } },
      quiet: { input: [...healthy(s.ours), ...healthyQueue()], why: "the exporter exports our queue" },
      onset: 0,
    },
    SqsArchiverDeadLetterQueueNotEmpty: {
      fire: { input: [...healthy(s.ours), ...healthyQueue().filter((x) => !x.series.startsWith(VISIBLE)), { series: series(VISIBLE, { ...CW, dimension_QueueName: "orders-dlq" }), values: "3x90" }], value: 3, labels: { dimension_QueueName: "orders-dlq", namespace: ns } },
      quiet: { input: [...healthy(s.ours), ...healthyQueue(), { series: series(VISIBLE, { ...CW, dimension_QueueName: "orders" }), values: "500x90" }], why: "the DLQ is empty (the source queue's depth is not the DLQ's)" },
      onset: 0,
    },
  };
}

const minutes = (sec: number) => `${Math.ceil(sec / 60)}m`;

describe.each(SETUPS)("promtool: the chart's alerts with $name", (setup) => {
  const rendered = renderRules(setup.args, setup.release, setup.namespace);
  const rulesFile = join(dir, `${setup.release}-${setup.namespace}-${SETUPS.indexOf(setup)}.rules.yaml`);
  writeFileSync(rulesFile, rendered.file);
  const all = scenarios(setup, rendered.rules);

  it("promtool check rules accepts the rendered rule file", () => {
    const r = run(requireSystemTool("promtool"), ["check", "rules", rulesFile]);
    expect(r.stdout + r.stderr, "promtool check rules").toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it("every rendered alert has a firing and a silent scenario here", () => {
    expect(rendered.rules.map((r) => r.alert).sort()).toEqual(Object.keys(all).sort());
  });

  it("promtool test rules: each alert fires when it should, with its labels and annotations, and stays silent on the near miss", () => {
    const tests: unknown[] = [];
    for (const rule of rendered.rules) {
      const sc = all[rule.alert] as Scenario;
      const forS = seconds(rule.for ?? "0s");
      const firesAt = sc.onset + forS + 120;
      // Pending is not firing: just before onset + for, nothing yet.
      const pendingAt = sc.onset + forS - 60;
      const labels = { ...sc.fire.labels, ...rule.labels };
      const value = Number.isNaN(sc.fire.value) ? firesAt : sc.fire.value;
      const annotations = Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expand(v, labels, value)]));
      tests.push(
        {
          name: `${rule.alert} fires`,
          interval: "1m",
          input_series: sc.fire.input,
          alert_rule_test: [
            ...(forS >= 60 ? [{ eval_time: minutes(pendingAt), alertname: rule.alert, exp_alerts: [] }] : []),
            { eval_time: minutes(firesAt), alertname: rule.alert, exp_alerts: [{ exp_labels: labels, exp_annotations: annotations }] },
          ],
        },
        {
          name: `${rule.alert} stays silent: ${sc.quiet.why}`,
          interval: "1m",
          input_series: sc.quiet.input,
          alert_rule_test: [{ eval_time: minutes(firesAt), alertname: rule.alert, exp_alerts: [] }],
        },
      );
    }
    // All healthy: no alert at all, however long it runs.
    tests.push({
      name: "a healthy release pages nobody",
      interval: "1m",
      input_series: [...healthy(setup.ours), ...healthy(setup.other), ...healthyQueue()],
      alert_rule_test: rendered.rules.map((r) => ({ eval_time: "85m", alertname: r.alert, exp_alerts: [] })),
    });
    const testFile = `${rulesFile}.test.yaml`;
    writeFileSync(testFile, stringify({ rule_files: [rulesFile], evaluation_interval: "1m", tests }));
    const r = run(requireSystemTool("promtool"), ["test", "rules", testFile]);
    expect(r.stdout + r.stderr, `promtool test rules ${testFile}`).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });
});
