/**
 * The compacted layout through the real engine: envelopes -> spill rows -> DuckDB -> zstd Parquet -> rows ->
 * envelopes, exactly; duplicates and earlier generations deduplicated; a conflicting body found; the sort order.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRow, toRow, type CommitRecord } from "../../src/archive/compacted.js";
import { parquetCommit, parquetRows } from "../../src/archive/compacted-read.js";
import { openDuck, type Duck } from "../../src/archive/duckdb.js";
import { md5Hex, type Envelope } from "../../src/archive/envelope.js";
import { buildGeneration, spillLine } from "../../src/compact/sql.js";

const T = Date.UTC(2026, 10, 24, 13, 0, 0);
const e = (id: string, body: string, ms: number, attrs: Record<string, string> = {}, ma: Envelope["messageAttributes"] = {}): Envelope => ({
  schemaVersion: 1,
  messageId: id,
  queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
  body,
  md5OfBody: md5Hex(body),
  attributes: { SentTimestamp: String(ms), ...attrs },
  messageAttributes: ma,
  sentAt: new Date(ms).toISOString(),
  archivedAt: new Date(ms + 10).toISOString(),
});
const commit = (c: object) => ({ tool: "sqs-archiver", schemaVersion: 1, generation: 1, sources: [], ...c }) as unknown as CommitRecord;

describe("compacted layout on DuckDB", () => {
  let dir: string;
  let duck: Duck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "layout-"));
    duck = await openDuck({ dir, memoryLimit: "128MB", threads: 1 });
  });
  afterAll(() => {
    duck.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let rn = 0;
  const spill = (name: string, envs: Envelope[]) => {
    const f = join(dir, name);
    writeFileSync(f, envs.map((x) => spillLine(JSON.stringify(toRow(x, name)), rn++, x.md5OfBody)).join(""));
    return f;
  };
  const read = async (file: string) => {
    const out: Envelope[] = [];
    for await (const r of parquetRows(duck, file)) out.push(fromRow(r));
    return out;
  };

  it("rebuilds every envelope exactly, one per messageId, sorted by SentTimestamp then SequenceNumber", async () => {
    const bin = { b: { DataType: "Binary", BinaryValue: Buffer.from([0, 255, 10]).toString("base64") }, l: { DataType: "String", StringListValues: ["x", "y"] } };
    const envs = [
      e("c", "third \u0000 \t 𝄞", T + 3000, {}, bin),
      e("b", '{"bad json', T + 1000, { MessageGroupId: "g", SequenceNumber: "100000000000000000010" }),
      e("a", "first", T + 1000, { MessageGroupId: "g", SequenceNumber: "99999999999999999999" }),
      e("big", "q".repeat(1_048_576), T + 2000),
    ];
    const s1 = spill("s1.ndjson", envs);
    const s2 = spill("s2.ndjson", [envs[0] as Envelope, envs[2] as Envelope]);
    const out = join(dir, "g1.parquet");
    const built = await buildGeneration(duck, { slices: [[s1, s2]], prior: [], out, workDir: dir }, (c) => commit(c));
    expect(built.counts).toEqual({ rowsIn: 6, rowsOut: 4, duplicatesDropped: 2, alreadyCompacted: 0 });
    const back = await read(out);
    expect(back.map((x) => x.messageId)).toEqual(["a", "b", "big", "c"]);
    for (const x of back) expect(JSON.stringify(x)).toBe(JSON.stringify(envs.find((y) => y.messageId === x.messageId)));
    expect((await parquetCommit(duck, out)).sources).toEqual([]);
  });

  it("a later generation holds only ids not in the earlier ones; a different body under a known id is a conflict", async () => {
    const g1 = join(dir, "p1.parquet");
    await buildGeneration(duck, { slices: [[spill("p1.ndjson", [e("x", "x", T), e("y", "y", T + 1)])]], prior: [], out: g1, workDir: dir }, (c) => commit(c));
    const g2 = join(dir, "p2.parquet");
    const b2 = await buildGeneration(duck, { slices: [[spill("p2.ndjson", [e("y", "y", T + 1), e("z", "z", T + 2)])]], prior: [g1], out: g2, workDir: dir }, (c) => commit(c));
    expect(b2.counts).toEqual({ rowsIn: 2, rowsOut: 1, duplicatesDropped: 0, alreadyCompacted: 1 });
    expect((await read(g2)).map((x) => x.messageId)).toEqual(["z"]);
    const b3 = await buildGeneration(duck, { slices: [[spill("p3.ndjson", [e("x", "not x", T)])]], prior: [g1, g2], out: join(dir, "p3.parquet"), workDir: dir }, (c) => commit(c));
    expect(b3.conflicts).toEqual(["x"]);
  });

  it("time slices sorted one at a time and concatenated in order give one sorted file", async () => {
    const early = Array.from({ length: 3000 }, (_, i) => e(`e${i}`, `early ${i}`, T + 1_000_000 - i * 100));
    const late = Array.from({ length: 3000 }, (_, i) => e(`l${i}`, `late ${i}`, T + 2_000_000 - i * 100));
    const out = join(dir, "sliced.parquet");
    const built = await buildGeneration(duck, { slices: [[spill("early.ndjson", early)], [], [spill("late.ndjson", late)]], prior: [], out, workDir: dir }, (c) => commit(c));
    expect(built.counts.rowsOut).toBe(6000);
    const sent = (await read(out)).map((x) => Date.parse(x.sentAt));
    expect(sent).toHaveLength(6000);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
  });
});
