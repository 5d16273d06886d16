/**
 * The chart's alert rules as Prometheus loads them: rendered with the real helm, unwrapped from the PrometheusRule
 * into a rule file, plus what the tests need to reason about them (durations, the labels each scrape setup gives).
 */
import { spawnSync } from "node:child_process";
import { stringify } from "yaml";
import { find, helmTemplate, type K8sObject } from "./helpers.js";

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RenderedRules {
  objects: K8sObject[];
  groups: Array<{ name: string; rules: Rule[] }>;
  rules: Rule[];
  /** The rule file Prometheus and promtool read (what prometheus-operator generates from the PrometheusRule). */
  file: string;
}

export function renderRules(args: readonly string[], release = "sqs-archiver", namespace = "sqs-archiver"): RenderedRules {
  const objects = helmTemplate(args, release, namespace);
  const pr = find(objects, "PrometheusRule") as K8sObject & { spec: { groups: RenderedRules["groups"] } };
  const groups = pr.spec.groups;
  return { objects, groups, rules: groups.flatMap((g) => g.rules), file: stringify({ groups }) };
}

/** Seconds in a Prometheus duration such as 1h30m, 10m, 15s. */
export function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };
  let total = 0;
  for (const m of duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * (units[m[2] as string] as number);
  if (total === 0 && duration !== "0s") throw new Error(`not a duration: ${duration}`);
  return total;
}

/** Prometheus's humanizeDuration for whole seconds (the only form the chart's annotations use). */
export function humanizeDuration(v: number): string {
  if (v === 0) return "0s";
  const s = Math.floor(v % 60);
  const m = Math.floor(v / 60) % 60;
  const h = Math.floor(v / 3600) % 24;
  const d = Math.floor(v / 86_400);
  if (d > 0) return `${d}d ${h}h ${m}m ${s}s`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** An annotation as Prometheus expands it for an alert with these labels and value ($labels.x, $value | humanizeDuration). */
export function expand(template: string, labels: Record<string, string>, value: number): string {
  return template
    .replace(/\{\{ \$labels\.([A-Za-z_][A-Za-z0-9_]*) \}\}/g, (_, name: string) => labels[name] ?? "")
    .replace(/\{\{ \$value \| humanizeDuration \}\}/g, () => humanizeDuration(value))
    .replace(/\{\{ \$value \}\}/g, () => String(value));
}

/** Absolute path of a Prometheus binary (promtool, prometheus), or undefined. */
export function which(name: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const path = String(r.stdout ?? "").trim();
  return r.status === 0 && path ? path : undefined;
}
