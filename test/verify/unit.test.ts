/** The pure parts of verification: the checks, the ledger, the parse mode, the text and HTML renderings. */
import { describe, expect, it } from "vitest";
import { md5Hex, type Envelope } from "../../src/archive/envelope.js";
import { batchIdHash, parseArchiveKey, type ParsedArchiveKey } from "../../src/archive/format.js";
import { BadContentError, checkEnvelope, parseEnvelope } from "../../src/archive/parse.js";
import { batchHashMismatch, countMismatch, keyIdMismatch, wrongHour } from "../../src/verify/checks.js";
import { escapeHtml, renderHtml } from "../../src/verify/html.js";
import { contentDigest, HourLedger } from "../../src/verify/ledger.js";
import { commitCountMismatch, compareCompactedHour, rawSourcesExist } from "../../src/verify/compacted.js";
import type { CommitRecord } from "../../src/archive/compacted.js";
import { codeOfBadContent, PROBLEM_CODES } from "../../src/verify/problems.js";
import { emptyFigures, REPORT_VERSION, zeroCounts, type VerifyReport } from "../../src/verify/report.js";
import { hourTable, humanVerdict, problemLines } from "../../src/verify/text.js";

const SENT = Date.UTC(2026, 11, 1, 10, 15, 0);
const env = (over: Partial<Envelope> = {}): Envelope => ({
  schemaVersion: 1,
  messageId: "11111111-2222-3333-4444-555555555555",
  queueUrl: "https://sqs.eu-west-1.amazonaws.com/1/q",
  body: "hello",
  md5OfBody: md5Hex("hello"),
  attributes: { SentTimestamp: String(SENT) },
  messageAttributes: {},
  sentAt: new Date(SENT).toISOString(),
  archivedAt: new Date(SENT + 5).toISOString(),
  ...over,
});
const key = (k: string) => parseArchiveKey("p/", k) as ParsedArchiveKey;

describe("verification checks", () => {
  it("WRONG_HOUR: SentTimestamp outside the key's hour", () => {
    expect(wrongHour(env(), key("p/2026/12/01/10/11111111-2222-3333-4444-555555555555.json"))).toBeUndefined();
    expect(wrongHour(env(), key("p/2026/12/01/11/11111111-2222-3333-4444-555555555555.json"))).toContain("not in the key's hour 2026-12-01T11:00:00Z");
  });

  it("KEY_ID_MISMATCH: only for a message-layout key that names an id", () => {
    expect(keyIdMismatch(env(), key("p/2026/12/01/10/11111111-2222-3333-4444-555555555555.json"))).toBeUndefined();
    expect(keyIdMismatch(env(), key("p/2026/12/01/10/aaaa.json"))).toContain("aaaa");
    expect(keyIdMismatch(env(), { layout: "message", hour: "2026-12-01T10:00:00Z", messageId: "by_hand", byHand: true })).toBeUndefined();
    expect(keyIdMismatch(env(), key(`p/2026/12/01/10/${SENT}-0123456789abcdef.ndjson`))).toBeUndefined();
  });

  it("BATCH_HASH_MISMATCH: the key's hash against the sorted ids; not checkable when an id is missing", () => {
    const ids = ["b", "a", "c"];
    const good = key(`p/2026/12/01/10/${SENT}-${batchIdHash(["c", "a", "b"])}.ndjson.gz`);
    expect(batchHashMismatch(good, ids)).toBeUndefined();
    expect(batchHashMismatch(good, ["a", "b"])).toContain(batchIdHash(["a", "b"]));
    expect(batchHashMismatch(good, undefined)).toBeUndefined();
  });

  it("COUNT_MISMATCH: message-count metadata against the lines held; no metadata, no check", () => {
    expect(countMismatch({ "message-count": "3" }, 3)).toBeUndefined();
    expect(countMismatch({ "message-count": "3" }, 2)).toContain("holds 2");
    expect(countMismatch({ "message-count": "x" }, 0)).toContain('"x"');
    expect(countMismatch({}, 7)).toBeUndefined();
  });

  it("bad content reasons map to problem codes", () => {
    expect(codeOfBadContent(new BadContentError("NOT_JSON", ""))).toBe("MALFORMED_LINE");
    expect(codeOfBadContent(new BadContentError("NOT_ENVELOPE", ""))).toBe("MALFORMED_LINE");
    expect(codeOfBadContent(new BadContentError("SCHEMA_VERSION", ""))).toBe("UNKNOWN_SCHEMA");
    expect(codeOfBadContent(new BadContentError("MD5_MISMATCH", ""))).toBe("MD5_MISMATCH");
    expect(codeOfBadContent(new BadContentError("READ_FAILED", ""))).toBe("CORRUPT_OBJECT");
  });
});

describe("checkEnvelope (verification's parse mode) and parseEnvelope (replay's, unchanged)", () => {
  it("an MD5 mismatch is reported with the envelope; parseEnvelope still throws", () => {
    const text = JSON.stringify(env({ body: "edited" }));
    const r = checkEnvelope(text);
    expect(r.env.body).toBe("edited");
    expect(r.md5Mismatch?.reason).toBe("MD5_MISMATCH");
    expect(r.md5Mismatch?.messageId).toBe(env().messageId);
    expect(() => parseEnvelope(text)).toThrow(BadContentError);
  });

  it("another schemaVersion still names its message id", () => {
    try {
      checkEnvelope(JSON.stringify({ ...env(), schemaVersion: 2 }));
      expect.unreachable();
    } catch (err) {
      expect((err as BadContentError).reason).toBe("SCHEMA_VERSION");
      expect((err as BadContentError).messageId).toBe(env().messageId);
    }
  });
});

describe("HourLedger", () => {
  it("same id and content is a duplicate; different body or MD5 is a conflict naming the first object", () => {
    const l = new HourLedger();
    const a = env();
    expect(l.add(a.messageId, contentDigest(a, false), 3).kind).toBe("new");
    expect(l.add(a.messageId, contentDigest(a, false), 4).kind).toBe("duplicate");
    const b = env({ body: "other", md5OfBody: md5Hex("other") });
    expect(l.add(b.messageId, contentDigest(b, false), 5)).toEqual({ kind: "conflict", firstObject: 3 });
    // The same body under a declared MD5 it does not match differs from the clean copy.
    const tampered = env({ body: "other" });
    expect(contentDigest(tampered, true)).not.toBe(contentDigest(a, false));
    // No md5OfBody: the body's own MD5 identifies it, equal to a copy that declares it.
    expect(contentDigest(env({ md5OfBody: "" }), false)).toBe(contentDigest(a, false));
    expect(l.distinct).toBe(1);
  });
});

describe("compacted hour against the raw hour", () => {
  const commit = (keys: string[], rowsOut: number) => ({ sources: keys.map((key) => ({ key, etag: "e", size: 1, rows: 1 })), rowsOut }) as unknown as CommitRecord;

  it("missing raw ids, extra compacted ids only while the raw sources exist, the commit's row count", () => {
    const raw = new HourLedger();
    raw.add("a", 1, 0);
    raw.add("b", 1, 1);
    const compacted = new Map([["a", "g1"], ["x", "g1"]]);
    expect(compareCompactedHour(raw, compacted, true)).toEqual({ missing: [{ id: "b", firstObject: 1 }], extra: [{ id: "x", key: "g1" }] });
    expect(compareCompactedHour(raw, compacted, false).extra).toEqual([]);
    expect(rawSourcesExist([commit(["k1", "k2"], 2)], new Set(["k1", "k2", "k3"]))).toBe(true);
    expect(rawSourcesExist([commit(["k1", "gone"], 2)], new Set(["k1"]))).toBe(false);
    expect(rawSourcesExist([], new Set(["k1"]))).toBe(false);
    expect(commitCountMismatch(commit([], 3), 3)).toBeUndefined();
    expect(commitCountMismatch(commit([], 3), 2)).toContain("rowsOut 3");
    expect(commitCountMismatch(undefined, 2)).toBeUndefined();
  });
});

const report = (over: Partial<VerifyReport> = {}): VerifyReport => ({
  reportVersion: REPORT_VERSION,
  tool: "sqs-archiver verify",
  version: "1.0.0",
  generatedAt: "2026-12-01T12:00:00.000Z",
  bucket: "b",
  prefix: "p/",
  since: "2026-12-01T10:00:00.000Z",
  until: "2026-12-01T12:00:00.000Z",
  ok: false,
  exitCode: 1,
  totals: { objects: 3, messages: 30, distinctIds: 28, duplicates: 2, bytes: 999, problems: 1 },
  hours: [
    { hour: "2026-12-01T10:00:00Z", objects: 2, messages: 20, distinctIds: 18, duplicates: 2, bytes: 600, problems: 1 },
    { hour: "2026-12-01T11:00:00Z", ...emptyFigures(), objects: 1, messages: 10, distinctIds: 10, bytes: 399 },
  ],
  problemCounts: { ...zeroCounts(), MALFORMED_LINE: 1 },
  problems: [{ code: "MALFORMED_LINE", key: "p/2026/12/01/10/<img src=x onerror=alert(1)>.ndjson", hour: "2026-12-01T10:00:00Z", line: 2, detail: 'not JSON ("</td><script>")\u001b[31m' }],
  problemsOmitted: 0,
  ignoredKeys: 0,
  s3Requests: { listObjectsV2: 2, getObject: 3 },
  durationMs: 1234,
  ...over,
});

describe("renderings", () => {
  it("terminal: a row per hour and a total, problems with code and key, control characters neutralised", () => {
    const r = report();
    const table = hourTable(r);
    expect(table).toHaveLength(4);
    expect(table[1]).toMatch(/^2026-12-01 10:00\s+2\s+20\s+18\s+2\s+600\s+1$/);
    expect(table[3]).toMatch(/^total\s+3\s+30\s+28\s+2\s+999\s+1$/);
    const p = problemLines(r).join("\n");
    expect(p).toContain("MALFORMED_LINE");
    expect(p).toContain(":2");
    expect(p).not.toContain("\u001b");
    expect(humanVerdict(r)).toContain("1 problems (MALFORMED_LINE 1)");
    expect(humanVerdict(report({ ok: true, problems: [], problemCounts: zeroCounts() }))).toContain("OK");
  });

  it("HTML escapes archive content, forbids scripts and requests, and carries the figures", () => {
    const html = renderHtml(report());
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('data-messages="20"');
    expect(html).toContain('data-duplicates="2"');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("every problem code is documented in docs/verify.md", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(new URL("../../docs/verify.md", import.meta.url), "utf8");
    for (const c of PROBLEM_CODES) expect(doc).toContain(`\`${c}\``);
  });
});
