import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHART, K8S, ROOT, ensureTools, requireSystemTool, run, runOk } from "./helpers.js";

const SOURCES_CONFIG = join(ROOT, "test/deploy/yamllint.yaml");
const RENDERED_CONFIG = join(ROOT, "test/deploy/yamllint-rendered.yaml");

function yamllint(config: string, paths: string[]): void {
  const bin = requireSystemTool("yamllint");
  const r = run(bin, ["--strict", "--format", "parsable", "-c", config, ...paths]);
  expect(r.stdout + r.stderr, `yamllint ${paths.join(" ")}`).toBe("");
  expect(r.code).toBe(0);
}

describe("yamllint", () => {
  const out = mkdtempSync(join(tmpdir(), "sqs-archiver-yamllint-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("passes on k8s/, the chart's values and metadata, CI values, environment values and the CloudFormation template", () => {
    yamllint(SOURCES_CONFIG, [
      K8S,
      join(ROOT, "infra/cloudformation"),
      join(CHART, "Chart.yaml"),
      join(CHART, "values.yaml"),
      join(CHART, "ci"),
      join(ROOT, "helm/environments"),
    ]);
  });

  it("passes on the rendered chart (defaults and every feature) and the rendered kustomize base", () => {
    const { helm, kubectl } = ensureTools();
    const files: Record<string, string> = {
      "helm-minimal.yaml": runOk(helm, ["template", "sqs-archiver", CHART, "-f", join(CHART, "ci/default-values.yaml")]),
      "helm-full.yaml": runOk(helm, ["template", "sqs-archiver", CHART, "-f", join(CHART, "ci/full-values.yaml")]),
      "kustomize.yaml": runOk(kubectl, ["kustomize", K8S]),
    };
    for (const env of readdirSync(join(ROOT, "helm/environments"))) {
      files[`helm-${env}`] = runOk(helm, ["template", "sqs-archiver", CHART, "-f", join(ROOT, "helm/environments", env)]);
    }
    for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
    yamllint(RENDERED_CONFIG, Object.keys(files).map((f) => join(out, f)));
  });
});
