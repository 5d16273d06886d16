/**
 * infra/cloudformation/sqs-archiver.yaml, checked offline:
 *  - parsed with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, !If, ...);
 *  - every resource validated against the AWS resource specification that AWS CDK ships (@aws-cdk/aws-service-spec):
 *    known type, known property names at every depth, required properties present, enum values allowed, !GetAtt
 *    attributes that exist;
 *  - every !Ref / ${...} / !GetAtt / condition points at something defined;
 *  - what the guarantees depend on: DLQ + redrive, TLS-only and no-delete bucket policy, encryption, lifecycle,
 *    Object Lock/versioning options, and a role whose policy equals src/aws/aws-actions.ts and iam/*.json.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadAwsServiceSpec } from "@aws-cdk/aws-service-spec";
import { beforeAll, describe, expect, it } from "vitest";
import { Scalar, YAMLMap, YAMLSeq, parse, type ScalarTag, type CollectionTag } from "yaml";
import { IAM_ACTIONS, KMS_ACTIONS } from "../../src/aws/aws-actions.js";
import { CFN_TEMPLATE, ROOT } from "./helpers.js";

type Json = any;

/** CloudFormation YAML short forms, turned into their long JSON forms ({ "Fn::Sub": ... }). */
function cfnTags(): Array<ScalarTag | CollectionTag> {
  const fns: Record<string, string> = {
    Ref: "Ref",
    Condition: "Condition",
    Sub: "Fn::Sub",
    GetAtt: "Fn::GetAtt",
    If: "Fn::If",
    Equals: "Fn::Equals",
    Not: "Fn::Not",
    And: "Fn::And",
    Or: "Fn::Or",
    Join: "Fn::Join",
    Select: "Fn::Select",
    Split: "Fn::Split",
    FindInMap: "Fn::FindInMap",
    Base64: "Fn::Base64",
    Cidr: "Fn::Cidr",
    GetAZs: "Fn::GetAZs",
    ImportValue: "Fn::ImportValue",
  };
  const tags: Array<ScalarTag | CollectionTag> = [];
  for (const [short, long] of Object.entries(fns)) {
    const wrap = (value: unknown) => {
      if (long === "Fn::GetAtt" && typeof value === "string") return { [long]: value.split(".") };
      return { [long]: value };
    };
    tags.push({ tag: `!${short}`, identify: () => false, resolve: (str: string) => wrap(str) } as ScalarTag);
    tags.push({ tag: `!${short}`, collection: "seq", identify: () => false, resolve: (seq: YAMLSeq) => wrap(seq.toJSON()) } as unknown as CollectionTag);
    tags.push({ tag: `!${short}`, collection: "map", identify: () => false, resolve: (map: YAMLMap) => wrap(map.toJSON()) } as unknown as CollectionTag);
  }
  void Scalar;
  return tags;
}

const text = readFileSync(CFN_TEMPLATE, "utf8");
const template = parse(text, { customTags: cfnTags() }) as Json;
const INTRINSIC = /^(Ref|Condition|Fn::[A-Za-z]+)$/;
const isIntrinsic = (v: Json) => v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && INTRINSIC.test(Object.keys(v)[0] as string);

/** Every intrinsic call in a subtree, with its path. */
function intrinsics(node: Json, path = ""): Array<{ fn: string; arg: Json; path: string }> {
  if (Array.isArray(node)) return node.flatMap((n, i) => intrinsics(n, `${path}[${i}]`));
  if (!node || typeof node !== "object") return [];
  const out: Array<{ fn: string; arg: Json; path: string }> = [];
  if (isIntrinsic(node)) {
    const fn = Object.keys(node)[0] as string;
    out.push({ fn, arg: node[fn], path });
  }
  for (const [k, v] of Object.entries(node)) out.push(...intrinsics(v, `${path}.${k}`));
  return out;
}

/** Resolve Fn::If to both branches' values (for checks that must hold whichever branch applies). */
function branches(v: Json): Json[] {
  if (v && typeof v === "object" && "Fn::If" in v) {
    const [, a, b] = v["Fn::If"] as Json[];
    return [...branches(a), ...branches(b)];
  }
  if (v && typeof v === "object" && v.Ref === "AWS::NoValue") return [];
  return [v];
}

describe("CloudFormation template infra/cloudformation/sqs-archiver.yaml", () => {
  let db: any;
  beforeAll(async () => {
    db = await loadAwsServiceSpec();
  });

  const resources = template.Resources as Record<string, { Type: string; Properties?: Json; Condition?: string }>;
  const parameters = template.Parameters as Record<string, Json>;
  const conditions = template.Conditions as Record<string, Json>;

  it("is a deployable template: version, description, small enough for `aws cloudformation deploy` without S3", () => {
    expect(template.AWSTemplateFormatVersion).toBe("2010-09-09");
    expect(template.Description.length).toBeLessThanOrEqual(1024);
    expect(Buffer.byteLength(text)).toBeLessThan(51_200);
    expect(Object.keys(resources).length).toBeGreaterThanOrEqual(7);
  });

  it("every resource matches the AWS resource specification (types, properties at every depth, required, enums)", () => {
    const problems: string[] = [];
    const checkValue = (type: Json, value: Json, where: string): void => {
      if (value === undefined || isIntrinsic(value)) {
        // Fn::If: check both branches against the same type.
        if (value && "Fn::If" in value) for (const b of branches(value)) checkValue(type, b, where);
        return;
      }
      switch (type.type) {
        case "ref": {
          const def = db.get("typeDefinition", type.reference.$ref);
          checkProps(def.properties, value, where);
          return;
        }
        case "array":
          if (!Array.isArray(value)) return void problems.push(`${where}: expected a list`);
          value.forEach((v: Json, i: number) => checkValue(type.element, v, `${where}[${i}]`));
          return;
        case "map":
          if (typeof value !== "object") return void problems.push(`${where}: expected a map`);
          for (const [k, v] of Object.entries(value)) checkValue(type.element, v, `${where}.${k}`);
          return;
        case "union": {
          // Accept when any member type accepts it (json/string unions: policy documents).
          const before = problems.length;
          for (const t of type.types) {
            const mark = problems.length;
            checkValue(t, value, where);
            if (problems.length === mark) {
              problems.length = before;
              return;
            }
          }
          return;
        }
        case "string":
          if (typeof value === "object") return void problems.push(`${where}: expected a string`);
          if (type.allowedValues && typeof value === "string" && !type.allowedValues.includes(value)) {
            problems.push(`${where}: ${value} is not one of ${type.allowedValues.join(", ")}`);
          }
          return;
        case "boolean":
          if (typeof value === "object") problems.push(`${where}: expected a boolean`);
          return;
        case "integer":
        case "number":
          if (typeof value === "object") problems.push(`${where}: expected a number`);
          return;
        default:
          return; // json, date-time, tag
      }
    };
    const checkProps = (spec: Record<string, Json>, value: Json, where: string): void => {
      if (!value || typeof value !== "object" || Array.isArray(value)) return void problems.push(`${where}: expected an object`);
      for (const [k, v] of Object.entries(value)) {
        const p = spec[k];
        if (!p) {
          problems.push(`${where}.${k}: unknown property`);
          continue;
        }
        checkValue(p.type, v, `${where}.${k}`);
      }
      for (const [k, p] of Object.entries(spec)) if (p.required && !(k in value)) problems.push(`${where}.${k}: required property missing`);
    };
    for (const [name, r] of Object.entries(resources)) {
      const spec = db.lookup("resource", "cloudFormationType", "equals", r.Type);
      if (spec.length !== 1) {
        problems.push(`${name}: unknown resource type ${r.Type}`);
        continue;
      }
      checkProps(spec[0].properties, r.Properties ?? {}, name);
    }
    expect(problems).toEqual([]);
  });

  it("every reference resolves: Ref, ${} in Sub, GetAtt attributes, conditions", () => {
    const pseudo = new Set(["AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName", "AWS::NoValue"]);
    const names = new Set([...Object.keys(parameters), ...Object.keys(resources), ...pseudo]);
    const problems: string[] = [];
    const all = intrinsics({ Resources: resources, Outputs: template.Outputs, Conditions: conditions, Rules: template.Rules });
    for (const { fn, arg, path } of all) {
      if (fn === "Ref" && !names.has(arg)) problems.push(`${path}: Ref ${arg}`);
      if (fn === "Condition" && !(arg in conditions)) problems.push(`${path}: condition ${arg}`);
      if (fn === "Fn::If" && !(arg[0] in conditions)) problems.push(`${path}: condition ${arg[0]}`);
      if (fn === "Fn::GetAtt") {
        const [res, attr] = arg as [string, string];
        const r = resources[res];
        if (!r) problems.push(`${path}: GetAtt ${res}`);
        else if (!(attr in db.lookup("resource", "cloudFormationType", "equals", r.Type)[0].attributes)) problems.push(`${path}: ${r.Type} has no attribute ${attr}`);
      }
      if (fn === "Fn::Sub") {
        const [str, vars] = typeof arg === "string" ? [arg, {}] : (arg as [string, Record<string, Json>]);
        for (const m of str.matchAll(/\$\{([^}!]+)\}/g)) {
          const ref = m[1] as string;
          const base = ref.split(".")[0] as string;
          if (!(ref in vars) && !names.has(ref) && !(ref.includes(".") && base in resources)) problems.push(`${path}: \${${ref}}`);
        }
      }
    }
    for (const [name, r] of Object.entries(resources)) if (r.Condition && !(r.Condition in conditions)) problems.push(`${name}: condition ${r.Condition}`);
    expect(problems).toEqual([]);
    // Every parameter is used somewhere (no dead knobs).
    const used = new Set(all.filter((x) => x.fn === "Ref").map((x) => x.arg as string));
    for (const x of all.filter((y) => y.fn === "Fn::Sub")) {
      const str = typeof x.arg === "string" ? x.arg : x.arg[0];
      for (const m of String(str).matchAll(/\$\{([^}.!]+)\}/g)) used.add(m[1] as string);
    }
    expect(Object.keys(parameters).filter((p) => !used.has(p))).toEqual([]);
  });

  it("the queue redrives to its DLQ, which only it may use; both deny non-TLS access", () => {
    const q = resources.Queue as Json;
    const dlq = resources.DeadLetterQueue as Json;
    expect(q.Type).toBe("AWS::SQS::Queue");
    expect(q.Properties.RedrivePolicy.deadLetterTargetArn).toEqual({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] });
    expect(q.Properties.RedrivePolicy.maxReceiveCount).toEqual({ Ref: "MaxReceiveCount" });
    expect(parameters.MaxReceiveCount.MinValue).toBeGreaterThanOrEqual(1);
    expect(dlq.Properties.MessageRetentionPeriod).toBe(1209600);
    expect(dlq.Properties.RedriveAllowPolicy.redrivePermission).toBe("byQueue");
    for (const r of [q, dlq]) {
      expect(r.DeletionPolicy).toBe("RetainExceptOnCreate");
      expect(r.Properties.SqsManagedSseEnabled).toBe(true);
    }
    const qp = (resources.QueuePolicy as Json).Properties;
    expect(qp.Queues).toEqual([{ Ref: "Queue" }, { Ref: "DeadLetterQueue" }]);
    expect(qp.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Action: "sqs:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    );
  });

  it("the bucket is private, encrypted, retained, TLS-only, denies deletes, and tiers large objects to cheaper storage", () => {
    const b = resources.ArchiveBucket as Json;
    expect(b.DeletionPolicy).toBe("RetainExceptOnCreate");
    expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    const sse = b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault;
    expect(branches(sse.SSEAlgorithm).sort()).toEqual(["AES256", "aws:kms"]);
    const lc = b.Properties.LifecycleConfiguration;
    expect(lc.TransitionDefaultMinimumObjectSize).toBe("all_storage_classes_128K");
    const rules = lc.Rules.flatMap(branches) as Json[];
    const tiers = rules.flatMap((r) => (r.Transitions ?? []).flatMap(branches)).map((t: Json) => t.StorageClass);
    expect(tiers).toEqual(["STANDARD_IA", "GLACIER_IR"]);
    expect(rules.some((r) => r.AbortIncompleteMultipartUpload)).toBe(true);
    // Optional WORM: Object Lock (which needs versioning) and versioning, by parameter.
    expect(parameters.ObjectLockMode.AllowedValues).toEqual(["NONE", "GOVERNANCE", "COMPLIANCE"]);
    expect(parameters.ObjectLockMode.Default).toBe("NONE");
    expect(conditions.UseVersioning).toEqual({ "Fn::Or": [{ "Fn::Equals": [{ Ref: "EnableVersioning" }, "true"] }, { Condition: "UseObjectLock" }] });
    expect(branches(b.Properties.ObjectLockConfiguration)[0].Rule.DefaultRetention.Mode).toEqual({ Ref: "ObjectLockMode" });

    const statements = (resources.ArchiveBucketPolicy as Json).Properties.PolicyDocument.Statement as Json[];
    const tls = statements.find((s) => s.Sid === "DenyInsecureTransport");
    expect(tls).toMatchObject({ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    const del = statements.find((s) => s.Sid === "DenyArchiveDeletion");
    expect(del).toMatchObject({ Effect: "Deny", Principal: "*" });
    expect(del.Action).toEqual(expect.arrayContaining(["s3:DeleteObject", "s3:DeleteObjectVersion"]));
  });

  describe("issue 18: overwrites, versioned expiry, failed first create", () => {
    /** The template as CloudFormation would resolve it for the given parameters (conditions, Fn::If, NoValue). */
    function resolved(params: Record<string, string>): Json {
      const values: Record<string, string> = {};
      for (const [k, p] of Object.entries(parameters)) values[k] = params[k] ?? String(p.Default ?? "");
      const memo: Record<string, boolean> = {};
      const cond = (name: string): boolean => (memo[name] ??= evalCond(conditions[name]));
      const val = (v: Json): Json => (v && typeof v === "object" && "Ref" in v && v.Ref in values ? values[v.Ref] : v);
      const evalCond = (c: Json): boolean => {
        if ("Fn::Equals" in c) return String(val(c["Fn::Equals"][0])) === String(val(c["Fn::Equals"][1]));
        if ("Fn::Not" in c) return !evalCond(c["Fn::Not"][0]);
        if ("Fn::Or" in c) return c["Fn::Or"].some(evalCond);
        if ("Fn::And" in c) return c["Fn::And"].every(evalCond);
        if ("Condition" in c) return cond(c.Condition);
        throw new Error(`condition ${JSON.stringify(c)}`);
      };
      const NONE = Symbol("NoValue");
      const walk = (n: Json): Json => {
        if (Array.isArray(n)) return n.map(walk).filter((x) => x !== NONE);
        if (!n || typeof n !== "object") return n;
        if (n.Ref === "AWS::NoValue") return NONE;
        if (typeof n.Ref === "string" && n.Ref in values) return values[n.Ref];
        if ("Fn::If" in n) return walk(cond(n["Fn::If"][0]) ? n["Fn::If"][1] : n["Fn::If"][2]);
        const out: Json = {};
        for (const [k, v] of Object.entries(n)) {
          const w = walk(v);
          if (w !== NONE) out[k] = w;
        }
        return out;
      };
      return walk(template.Resources);
    }
    const rulesFor = (params: Record<string, string>) => resolved(params).ArchiveBucket.Properties.LifecycleConfiguration.Rules as Json[];

    it("the bucket policy denies PutObject without If-None-Match on the archive and compacted prefixes (item 4)", () => {
      const statements = (resources.ArchiveBucketPolicy as Json).Properties.PolicyDocument.Statement as Json[];
      const overwrite = statements.find((st) => st.Effect === "Deny" && [st.Action].flat().includes("s3:PutObject"));
      expect(overwrite, "a Deny on s3:PutObject").toBeDefined();
      expect(overwrite.Principal).toBe("*");
      expect(overwrite.Condition).toEqual({ Null: { "s3:if-none-match": "true" } });
      expect(overwrite.Resource).toEqual([{ "Fn::Sub": "${ArchiveBucket.Arn}/${ArchivePrefix}*" }, { "Fn::Sub": "${ArchiveBucket.Arn}/${CompactedPrefix}*" }]);
      expect(parameters.CompactedPrefix.Default).toMatch(/\/$/);
      // The archiver's own writes carry If-None-Match: * (src/sinks/s3-writer.ts), so the Deny never applies to them.
      expect(readFileSync(join(ROOT, "src/sinks/s3-writer.ts"), "utf8")).toContain('IfNoneMatch: "*"');
    });

    it("expiry on a versioned or Object Lock bucket also deletes noncurrent versions and expired delete markers (item 5)", () => {
      for (const p of [{ EnableVersioning: "true" }, { ObjectLockMode: "GOVERNANCE" }] as Array<Record<string, string>>) {
        const rules = rulesFor({ ...p, ExpirationDays: "365" });
        const archive = rules.find((r) => r.Id === "archive-storage-classes");
        expect(archive.ExpirationInDays, JSON.stringify(p)).toBe("365");
        expect(archive.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: "30" });
        const markers = rules.find((r) => r.ExpiredObjectDeleteMarker === true);
        expect(markers, JSON.stringify(p)).toMatchObject({ Status: "Enabled", Prefix: "sqs-messages/" });
        expect(markers.ExpirationInDays, "S3 refuses ExpiredObjectDeleteMarker with ExpirationInDays").toBeUndefined();
      }
      // Unversioned: expiry deletes, nothing else is needed; no expiry: no version rules either.
      expect(rulesFor({ ExpirationDays: "365" }).some((r) => r.NoncurrentVersionExpiration || r.ExpiredObjectDeleteMarker)).toBe(false);
      expect(rulesFor({ EnableVersioning: "true" }).some((r) => r.NoncurrentVersionExpiration || r.ExpiredObjectDeleteMarker)).toBe(false);
      expect(parameters.ExpirationDays.Description).toContain("delete marker");
    });

    it("nothing a failed first create made is retained, so a re-run is not blocked by leftovers (item 6)", () => {
      const retained = Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.DeletionPolicy);
      expect(retained.map(([k]) => k).sort()).toEqual(["ArchiveBucket", "DeadLetterQueue", "Queue"]);
      for (const [k, r] of retained) {
        expect(r.DeletionPolicy, k).toBe("RetainExceptOnCreate");
        expect(r.UpdateReplacePolicy, k).toBe("Retain");
      }
    });
  });

  describe("the archiver role", () => {
    const role = resources.ArchiverRole as Json;
    const statements = (role.Properties.Policies[0].PolicyDocument.Statement as Json[]).flatMap(branches);
    const actionsOf = (s: Json) => (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[];
    const iamPolicy = (f: string) => JSON.parse(readFileSync(join(ROOT, "iam", f), "utf8")) as { Statement: Json[] };

    it("grants exactly IAM_ACTIONS (+ KMS_ACTIONS with a key), like iam/policy*.json, statement by statement", () => {
      expect(statements.flatMap(actionsOf).sort()).toEqual([...IAM_ACTIONS, ...KMS_ACTIONS].sort());
      const file = iamPolicy("policy-sse-kms.json");
      expect(statements.map((s) => [s.Sid, actionsOf(s).sort()])).toEqual(file.Statement.map((s) => [s.Sid, actionsOf(s).sort()]));
      const kms = statements.find((s) => actionsOf(s).includes("kms:GenerateDataKey"));
      expect(kms.Resource).toEqual({ Ref: "KmsKeyArn" });
      expect(Object.keys(kms.Condition.StringEquals)).toEqual(["kms:ViaService"]);
      // The KMS statement exists only when a key is given.
      const kmsIf = (role.Properties.Policies[0].PolicyDocument.Statement as Json[]).find((s) => s["Fn::If"]);
      expect(kmsIf["Fn::If"][0]).toBe("UseKms");
    });

    it("scopes resources like iam/policy.json: the one queue, the bucket ARN for ListBucket, bucket/prefix* for PutObject", () => {
      const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s.Resource]));
      expect(bySid.ConsumeTheArchivedQueue).toEqual({ "Fn::GetAtt": ["Queue", "Arn"] });
      expect(bySid.CheckTheBucketAtStartUp).toEqual({ "Fn::GetAtt": ["ArchiveBucket", "Arn"] });
      expect(bySid.WriteArchivesUnderThePrefixOnly).toEqual({ "Fn::Sub": "${ArchiveBucket.Arn}/${ArchivePrefix}*" });
      const file = iamPolicy("policy.json");
      expect(file.Statement.find((s) => s.Sid === "CheckTheBucketAtStartUp").Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}");
    });

    it("trusts one service account, by IRSA (same document as iam/trust-policy-irsa.json) or EKS Pod Identity", () => {
      const [irsa, podIdentity] = branches(role.Properties.AssumeRolePolicyDocument);
      const irsaDoc = JSON.parse(
        (irsa["Fn::Sub"] as string).replaceAll("${AWS::Partition}", "${AWS_PARTITION}").replaceAll("${AWS::AccountId}", "${AWS_ACCOUNT_ID}")
          .replaceAll("${OidcProvider}", "${OIDC_PROVIDER}").replaceAll("${Namespace}", "${NAMESPACE}").replaceAll("${ServiceAccount}", "${SERVICE_ACCOUNT}"),
      );
      expect(irsaDoc).toEqual(iamPolicy("trust-policy-irsa.json"));
      const file = iamPolicy("trust-policy-pod-identity.json").Statement[0];
      const s = podIdentity.Statement[0];
      expect(s.Principal).toEqual(file.Principal);
      expect(s.Action).toEqual(file.Action);
      expect(Object.keys(s.Condition.StringEquals).sort()).toEqual(Object.keys(file.Condition.StringEquals).sort());
      expect((resources.PodIdentityAssociation as Json).Condition).toBe("UsePodIdentity");
      expect(Object.keys(template.Rules)).toEqual(expect.arrayContaining(["IrsaNeedsTheOidcProvider", "PodIdentityNeedsTheCluster"]));
    });
  });

  it("outputs feed the Helm values (each names its value; HelmSetValues sets only keys the chart's schema knows)", () => {
    const outputs = template.Outputs as Record<string, { Description: string; Value: Json }>;
    for (const [name, key] of [
      ["QueueUrl", "config.sqsQueueUrl"],
      ["BucketName", "config.s3BucketName"],
      ["ArchivePrefix", "config.s3Prefix"],
      ["AwsRegion", "config.awsRegion"],
      ["RoleArn", "serviceAccount.roleArn"],
      ["DeadLetterQueueName", "prometheusRule.dlq.queueName"],
    ]) {
      expect(outputs[name as string]?.Description, name).toContain(key);
    }
    const parts = (outputs.HelmSetValues?.Value["Fn::Join"][1] as Json[]).map((p) => (typeof p["Fn::Sub"] === "string" ? p["Fn::Sub"] : p["Fn::Sub"][0]) as string);
    const keys = parts.map((p) => p.split("=")[0] as string);
    const schema = JSON.parse(readFileSync(join(ROOT, "helm/sqs-archiver/values.schema.json"), "utf8"));
    for (const key of keys) {
      const path = key.split(".");
      let node = schema;
      for (const seg of path) node = node?.properties?.[seg];
      expect(node, key).toBeDefined();
    }
    expect(keys).toEqual(expect.arrayContaining(["config.sqsQueueUrl", "config.s3BucketName", "serviceAccount.roleArn"]));
  });
});
