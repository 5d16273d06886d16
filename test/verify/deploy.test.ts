/**
 * Running verify in the cluster: the Helm Job (verify.enabled) and the kustomize component render, validate against
 * the Kubernetes schemas, meet the restricted Pod Security Standard, and run the command the CLI tests exercise with
 * the archiver's own configuration.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Job } from "kubernetes-models/batch/v1/Job";
import { afterAll, describe, expect, it } from "vitest";
import { CHART, K8S, find, helmTemplate, kustomize, restrictedPssProblems, runOk, ensureTools, type K8sObject } from "../deploy/helpers.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const jobs = (objs: K8sObject[]) => objs.filter((o) => o.kind === "Job");

function checkJob(job: any, configMap: string): void {
  new Job(job).validate();
  const pod = job.spec.template.spec;
  expect(restrictedPssProblems(pod, "verify Job")).toEqual([]);
  expect(pod.restartPolicy).toBe("Never");
  expect(job.spec.backoffLimit).toBe(0);
  const c = pod.containers[0];
  expect(c.args.slice(0, 3)).toEqual(["node", "dist/main.js", "verify"]);
  expect(c.args).toContain("--since");
  expect(c.envFrom[0].configMapRef.name).toBe(configMap);
  expect(c.env.find((e: any) => e.name === "AWS_REGION").valueFrom.configMapKeyRef.name).toBe(configMap);
}

describe("verify as a Helm Job (verify.enabled)", () => {
  it("is off by default", () => {
    expect(jobs(helmTemplate(["-f", DEFAULT_VALUES]))).toEqual([]);
  });

  it("renders a valid, restricted Job per revision with the archiver's ConfigMap, image and service account", () => {
    const objs = helmTemplate(["-f", DEFAULT_VALUES, "--set", "verify.enabled=true", "--set-json", 'verify.args=["--since","2h","--json"]'], "orders", "archive");
    const job = find(objs, "Job") as any;
    expect(job.metadata.name).toBe("orders-sqs-archiver-verify-1");
    const cm = find(objs, "ConfigMap");
    checkJob(job, cm.metadata.name);
    const dep = find(objs, "Deployment") as any;
    expect(job.spec.template.spec.containers[0].image).toBe(dep.spec.template.spec.containers[0].image);
    expect(job.spec.template.spec.serviceAccountName).toBe(dep.spec.template.spec.serviceAccountName);
    expect(job.spec.template.spec.containers[0].args).toEqual(["node", "dist/main.js", "verify", "--since", "2h", "--json"]);
    const own = find(helmTemplate(["-f", DEFAULT_VALUES, "--set", "verify.enabled=true,verify.serviceAccountName=archive-verify"]), "Job") as any;
    expect(own.spec.template.spec.serviceAccountName).toBe("archive-verify");
  });

  it("the schema rejects unknown verify settings", () => {
    const { helm } = ensureTools();
    expect(() => runOk(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", "verify.bogus=1"])).toThrow();
  });
});

describe("verify as a kustomize component (k8s/components/verify)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-verify-overlay-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = relative(dir, K8S);
  writeFileSync(
    join(dir, "kustomization.yaml"),
    ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "namespace: archive-prod", "resources:", `  - ${base}`, "components:", `  - ${base}/components/verify`, ""].join("\n"),
  );

  it("adds a valid, restricted Job and its read-only service account, wired to the generated ConfigMap", () => {
    const objs = kustomize(dir);
    const job = find(objs, "Job", "sqs-archiver-verify") as any;
    checkJob(job, find(objs, "ConfigMap").metadata.name);
    expect(job.metadata.namespace).toBe("archive-prod");
    const sa = find(objs, "ServiceAccount", "sqs-archiver-verify") as any;
    expect(sa.metadata.annotations["eks.amazonaws.com/role-arn"]).toContain("sqs-archiver-verify");
    expect(job.spec.template.spec.serviceAccountName).toBe("sqs-archiver-verify");
    expect(find(objs, "Deployment").metadata.name).toBe("sqs-archiver");
  });
});
