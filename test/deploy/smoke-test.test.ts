/**
 * Issue 18 item 7: the CD smoke test is safe by default. It finds its message in either archive layout (one
 * <MessageId>.json, or inside an ndjson batch that appears up to BATCH_MAX_SECONDS later), is not sent to production
 * unless asked, runs under a role per environment, and replay can leave its messages out.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../src/archive/envelope.js";
import { matchesFilters, parseFilter } from "../../src/replay/filter.js";
import { ROOT, requireSystemTool, run } from "./helpers.js";

const SMOKE = join(ROOT, "scripts/smoke-test.sh");
const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
const MID = "6f1c2a8e-0000-4000-8000-00000000abcd";

const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, "bin");
const objects = join(dir, "objects");
mkdirSync(bin);
mkdirSync(objects);
const log = join(dir, "calls.log");

const envelopeLine = (messageId: string) =>
  `${JSON.stringify({ schemaVersion: 1, messageId, queueUrl: QUEUE, body: '{"smokeTest":true}', md5OfBody: "x", attributes: {}, messageAttributes: {}, sentAt: "", archivedAt: "" })}\n`;
const hour = () => new Date().toISOString().slice(0, 13).replace(/-/g, "/").replace("T", "/");

/**
 * Fake aws: send-message answers MID; list-objects-v2 lists the files in objects/ (named like batch keys); s3 cp
 * prints one. Every call is logged with the credentials it ran under. Fake kubectl: the ConfigMap says FAKE_FORMAT.
 */
writeFileSync(
  join(bin, "aws"),
  `#!/usr/bin/env bash
echo "aws $* [key=\${AWS_ACCESS_KEY_ID:-} token=\${AWS_SESSION_TOKEN:-}]" >> "${log}"
case "$1 $2" in
  "sts assume-role") printf 'ASIAEXAMPLE\\tsecret\\tsession-token\\n' ;;
  "sqs send-message") echo "${MID}" ;;
  "s3api list-objects-v2")
    prefix=""; while (($#)); do [ "$1" = --prefix ] && prefix=$2; shift; done
    ls "${objects}" | sed "s|^|$prefix|" | paste -sd '\\t' ;;
  "s3 cp") for a in "$@"; do case $a in s3://*) cat "${objects}/\${a##*/}" ;; esac; done ;;
  "s3 ls") exit 1 ;;
  *) echo "fake aws: unexpected $*" >&2; exit 97 ;;
esac
`,
);
writeFileSync(
  join(bin, "kubectl"),
  `#!/usr/bin/env bash\necho "kubectl $*" >> "${log}"\ncase "$*" in\n  "get deployment "*) echo sqs-archiver-5h8k2 ;;\n  *ARCHIVE_FORMAT*) echo "\${FAKE_FORMAT:-message}" ;;\n  *BATCH_MAX_SECONDS*) echo 0 ;;\n  *) echo ok ;;\nesac\n`,
);
chmodSync(join(bin, "aws"), 0o755);
chmodSync(join(bin, "kubectl"), 0o755);

function smoke(args: readonly string[], env: Record<string, string> = {}) {
  writeFileSync(log, "");
  const r = run("bash", [SMOKE, ...args], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, LANG: "C.UTF-8", ...env }, timeout: 120_000 });
  return { ...r, calls: readFileSync(log, "utf8").split("\n").filter(Boolean) };
}
const put = (files: Record<string, Buffer | string>) => {
  rmSync(objects, { recursive: true, force: true });
  mkdirSync(objects);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(objects, name), content);
};

describe("scripts/smoke-test.sh", () => {
  it("is shellcheck-clean", () => {
    const r = run(requireSystemTool("shellcheck"), ["--external-sources", "--severity=style", SMOKE]);
    expect(r.stdout + r.stderr).toBe("");
  });

  it("in batched mode finds the message inside an ndjson batch (gzip, zstd, none), not at <MessageId>.json", () => {
    const now = Date.now();
    for (const [name, content] of [
      [`${now}-00000000000000aa.ndjson.gz`, gzipSync(envelopeLine(MID))],
      [`${now}-00000000000000bb.ndjson.zst`, zstdCompressSync(Buffer.from(envelopeLine(MID)))],
      [`${now}-00000000000000cc.ndjson`, envelopeLine(MID)],
    ] as const) {
      // A batch without the message is read and passed over.
      put({ [`${now - 5}-0000000000000000.ndjson.gz`]: gzipSync(envelopeLine("someone-else")), [name]: content });
      const r = smoke(["--skip-probes", "--queue-url", QUEUE, "--bucket", "acme-archive", "--region", "eu-west-1", "--format", "ndjson", "--batch-max-seconds", "0"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`Archived: message ${MID} in s3://acme-archive/sqs-messages/${hour()}/${name}`);
      // Only batches opened since BATCH_MAX_SECONDS (+ a minute) before the send are listed.
      const list = r.calls.find((c) => c.startsWith("aws s3api list-objects-v2")) as string;
      const after = Number(/--start-after sqs-messages\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/(\d+)/.exec(list)?.[1]);
      expect(now - after).toBeGreaterThanOrEqual(59_000);
      expect(now - after).toBeLessThan(120_000);
      expect(r.calls.some((c) => c.startsWith("aws s3 ls"))).toBe(false);
    }
  });

  it("reads the format from the Deployment's ConfigMap when not told (kustomize hashes its name)", () => {
    put({ [`${Date.now()}-00000000000000aa.ndjson.gz`]: gzipSync(envelopeLine(MID)) });
    const r = smoke(["--skip-probes", "--namespace", "archive", "--service", "sqs-archiver", "--queue-url", QUEUE, "--bucket", "acme-archive", "--region", "eu-west-1"], { FAKE_FORMAT: "ndjson" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.calls).toContain("kubectl get configmap sqs-archiver-5h8k2 --namespace archive --output jsonpath={.data.ARCHIVE_FORMAT}");
    expect(r.stderr).toContain(`Archived: message ${MID} in s3://acme-archive/`);
  });

  it("waits at least BATCH_MAX_SECONDS + 60 s in batched mode, whatever --timeout says", () => {
    const r = smoke(["--skip-probes", "--queue-url", QUEUE, "--bucket", "b-1", "--region", "eu-west-1", "--format", "ndjson", "--batch-max-seconds", "600", "--timeout", "10", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("for up to 660s");
  });

  it("--role-arn: every aws call after assume-role runs with that role's session", () => {
    put({ [`${Date.now()}-00000000000000aa.ndjson`]: envelopeLine(MID) });
    const r = smoke(["--skip-probes", "--queue-url", QUEUE, "--bucket", "acme-archive", "--region", "eu-west-1", "--format", "ndjson", "--batch-max-seconds", "0", "--role-arn", "arn:aws:iam::123456789012:role/sqs-archiver-smoke-dev"], {
      AWS_ACCESS_KEY_ID: "AKIAAGENT",
    });
    expect(r.code, r.stderr).toBe(0);
    const [first, ...rest] = r.calls;
    expect(first).toMatch(/^aws sts assume-role --role-arn arn:aws:iam::123456789012:role\/sqs-archiver-smoke-dev /);
    expect(rest.length).toBeGreaterThan(0);
    for (const c of rest) expect(c).toContain("[key=ASIAEXAMPLE token=session-token]");
  });

  it("marks its message with the smoke-test attribute that replay --filter 'smoke-test!=*' excludes", () => {
    const r = smoke(["--skip-probes", "--queue-url", QUEUE, "--bucket", "b-1", "--region", "eu-west-1", "--format", "message", "--dry-run"]);
    expect(r.stdout).toContain("--message-attributes 'smoke-test={DataType=String,StringValue=sqs-archiver}'");
    const env = (attrs: Envelope["messageAttributes"]) => ({ messageId: "m", attributes: { SenderId: "AIDA" }, messageAttributes: attrs }) as unknown as Envelope;
    const smokeMsg = env({ "smoke-test": { DataType: "String", StringValue: "sqs-archiver" } });
    const real = env({ tenant: { DataType: "String", StringValue: "acme" } });
    const exclude = [parseFilter("smoke-test!=*")];
    expect(matchesFilters(smokeMsg, exclude)).toBe(false);
    expect(matchesFilters(real, exclude)).toBe(true);
    expect(matchesFilters(smokeMsg, [parseFilter("smoke-test!=sqs-archiver")])).toBe(false);
    expect(matchesFilters(smokeMsg, [parseFilter("smoke-test!=other")])).toBe(true);
    // Combined with an ordinary filter: both must hold.
    expect(matchesFilters(real, [...exclude, parseFilter("tenant=acme")])).toBe(true);
    expect(matchesFilters(real, [...exclude, parseFilter("tenant=globex")])).toBe(false);
  });
});

describe("Jenkinsfile-CD smoke test", () => {
  const cd = readFileSync(join(ROOT, "Jenkinsfile-CD"), "utf8");
  const stage = cd.slice(cd.indexOf("stage('Smoke test')"), cd.indexOf("post {", cd.indexOf("stage('Smoke test')")));

  it("sends no test message to production unless asked (auto: dev and staging only)", () => {
    expect(cd).toMatch(/choice\(name: 'SEND_TEST_MESSAGE', choices: \['auto', 'true', 'false'\]/);
    // Run the stage's shell logic for each environment with the default parameter.
    const script = /sh '''([\s\S]*?)'''/.exec(stage)?.[1] as string;
    for (const [environment, sends] of [["dev", true], ["staging", true], ["production", false]] as const) {
      const fake = join(dir, "scripts");
      mkdirSync(fake, { recursive: true });
      writeFileSync(join(fake, "smoke-test.sh"), `#!/usr/bin/env bash\necho "$*" > "${dir}/smoke-args"\n`);
      chmodSync(join(fake, "smoke-test.sh"), 0o755);
      const r = run("sh", ["-c", script], { cwd: dir, env: { PATH: "/usr/bin:/bin", SEND_TEST_MESSAGE: "auto", ENVIRONMENT: environment, NAMESPACE: "sqs-archiver", RELEASE: "sqs-archiver", SMOKE_TEST_ROLE_ARN: `arn:aws:iam::1:role/smoke-${environment}` } });
      expect(r.code, r.stderr).toBe(0);
      const args = readFileSync(join(dir, "smoke-args"), "utf8");
      expect(args.includes("--skip-message"), environment).toBe(!sends);
      expect(args).toContain(`--role-arn arn:aws:iam::1:role/smoke-${environment}`);
    }
  });

  it("uses a smoke-test role per environment", () => {
    expect(stage).toContain('SMOKE_TEST_ROLE_ARN = credentials("sqs-archiver-smoke-test-role-${params.ENVIRONMENT}")');
    const policy = JSON.parse(readFileSync(join(ROOT, "iam/policy-smoke-test.json"), "utf8")) as { Statement: Array<{ Action: string }> };
    expect(policy.Statement.map((s) => s.Action).sort()).toEqual(["s3:GetObject", "s3:ListBucket", "sqs:SendMessage"]);
  });
});
