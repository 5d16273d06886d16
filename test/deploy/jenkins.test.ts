import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, requireSystemTool, run } from "./helpers.js";

const CI = join(ROOT, "Jenkinsfile-CI");
const CD = join(ROOT, "Jenkinsfile-CD");

function stages(text: string): string[] {
  return [...text.matchAll(/\bstage\('([^']+)'\)/g)].map((m) => m[1] as string);
}

describe("Jenkinsfiles", () => {
  it("parse and lint clean with npm-groovy-lint (recommended-jenkinsfile rules, no errors or warnings)", () => {
    requireSystemTool("java");
    // Run under this Node (24): npm-groovy-lint needs Node >= 22.15, whatever `node` is first on PATH.
    const r = run(
      process.execPath,
      [join(ROOT, "node_modules/npm-groovy-lint/lib/index.js"), "--noserver", "--config", "recommended-jenkinsfile", "--output", "json", "--failon", "none", CI, CD],
      { timeout: 120_000 },
    );
    const json = r.stdout.slice(r.stdout.indexOf("{"));
    const report = JSON.parse(json) as {
      summary: { totalFilesLinted: number; totalFoundErrorNumber: number; totalFoundWarningNumber: number };
      files: Record<string, { errors: Array<{ line: number; rule: string; severity: string; msg: string }> }>;
    };
    const problems = Object.entries(report.files).flatMap(([f, v]) =>
      v.errors.filter((e) => e.severity !== "info").map((e) => `${f}:${e.line} ${e.severity} ${e.rule}: ${e.msg.slice(0, 160)}`),
    );
    expect(problems).toEqual([]);
    expect(report.summary.totalFilesLinted).toBe(2);
    expect(report.summary.totalFoundErrorNumber).toBe(0);
  }, 120_000);

  describe("Jenkinsfile-CI", () => {
    const text = readFileSync(CI, "utf8");

    it("is a declarative pipeline with the stages the issue lists", () => {
      expect(text).toMatch(/^pipeline \{$/m);
      expect(stages(text)).toEqual([
        "Checkout",
        "Install",
        "Dependency audit",
        "Lint",
        "Typecheck",
        "Test",
        "Helm lint and template",
        "Build image",
        "Integration (LocalStack)",
        "Push to ECR",
        "Record tag for CD",
      ]);
    });

    it("installs, lints, typechecks and publishes JUnit results", () => {
      expect(text).toContain("npm ci");
      expect(text).toContain("npm audit --omit=dev");
      expect(text).toContain("npm run lint");
      expect(text).toContain("npm run typecheck");
      expect(text).toContain("npm test -- --reporter=junit --outputFile.junit=reports/junit.xml");
      expect(text).toMatch(/junit testResults: 'reports\/junit\.xml'/);
    });

    it("lints and renders the chart with the bundled helm", () => {
      expect(text).toContain("node scripts/get-tools.mjs");
      expect(text).toContain('helm lint --strict "$chart"');
      expect(text).toContain("helm template");
      expect(existsSync(join(ROOT, "scripts/get-tools.mjs"))).toBe(true);
    });

    it("runs the LocalStack suite only where docker works", () => {
      const stage = text.slice(text.indexOf("stage('Integration (LocalStack)')"), text.indexOf("stage('Push to ECR')"));
      expect(stage).toContain("docker info");
      expect(stage).toContain("ARCHIVER_TEST_BACKEND = 'localstack'");
      expect(stage).toContain("test/integration/localstack.test.ts");
      expect(existsSync(join(ROOT, "test/integration/localstack.test.ts"))).toBe(true);
    });

    it("builds the image, logs in to ECR, pushes the commit tag and records it for CD", () => {
      expect(text).toContain("git rev-parse --short=12 HEAD");
      expect(text).toContain("docker build --pull");
      expect(text).toContain("aws ecr get-login-password");
      expect(text).toContain('docker push "$IMAGE"');
      expect(text).toContain("writeFile file: 'image-tag.txt'");
      expect(text).toContain("archiveArtifacts artifacts: 'image-tag.txt,image.txt'");
      expect(text).toMatch(/build job: env\.CD_JOB[\s\S]*string\(name: 'IMAGE_TAG'[\s\S]*string\(name: 'ENVIRONMENT'/);
    });
  });

  describe("Jenkinsfile-CD", () => {
    const text = readFileSync(CD, "utf8");

    it("is a declarative pipeline with IMAGE_TAG and ENVIRONMENT parameters and the stages the issue lists", () => {
      expect(text).toMatch(/^pipeline \{$/m);
      expect(text).toMatch(/string\(name: 'IMAGE_TAG'/);
      expect(text).toMatch(/choice\(name: 'ENVIRONMENT', choices: \['dev', 'staging', 'production'\]/);
      expect(stages(text)).toEqual([
        "Validate parameters",
        "Verify image in ECR",
        "Approve production",
        "Deploy",
        "Helm upgrade",
        "Rollout status",
        "Smoke test",
      ]);
    });

    it("has a values file for every environment it offers", () => {
      for (const env of ["dev", "staging", "production"]) expect(existsSync(join(ROOT, "helm/environments", `${env}.yaml`)), env).toBe(true);
    });

    it("verifies the image exists in ECR before deploying", () => {
      expect(text).toContain("aws ecr describe-images");
      expect(text).toContain('--image-ids imageTag="$IMAGE_TAG"');
    });

    it("gates production behind a manual approval", () => {
      const stage = text.slice(text.indexOf("stage('Approve production')"), text.indexOf("stage('Deploy')"));
      expect(stage).toContain("params.ENVIRONMENT == 'production'");
      expect(stage).toMatch(/input \{[\s\S]*submitter/);
    });

    it("deploys atomically with helm, waits for the rollout, smoke-tests and rolls back on failure", () => {
      expect(text).toContain('helm upgrade --install "$RELEASE" helm/sqs-archiver');
      expect(text).toContain("--atomic");
      expect(text).toContain("--wait");
      expect(text).toContain('--values "$VALUES_FILE"');
      expect(text).toContain("kubectl rollout status");
      expect(text).toContain("./scripts/smoke-test.sh");
      expect(text).toContain("helm rollback");
    });
  });
});
