import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  batchIdHash,
  buildBatchKey,
  createCompressor,
  createDecompressor,
  hourPrefixes,
  parseArchiveKey,
} from "../../src/archive/format.js";
import { buildKey } from "../../src/archive/key.js";

const ids = ["5fea7756-0ea4-451a-a703-a558b933e274", "0a1b2c3d-0000-4000-8000-000000000001", "ffffffff-0000-4000-8000-000000000002"];
const sent = Date.UTC(2025, 2, 4, 5, 6, 7, 890);

async function roundTrip(compression: "gzip" | "zstd" | "none", data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
  const c = createCompressor(compression);
  const d = createDecompressor(compression);
  if (c && d) await pipeline(Readable.from([data]), c, d, sink);
  else await pipeline(Readable.from([data]), sink);
  return Buffer.concat(chunks);
}

describe("ndjson batch keys", () => {
  it("name the hour of the first SentTimestamp, the first ms, a 16-hex hash and the codec's extension", () => {
    const key = buildBatchKey("arch/", sent, ids, "gzip");
    expect(key).toMatch(/^arch\/2025\/03\/04\/05\/1741064767890-[0-9a-f]{16}\.ndjson\.gz$/);
    expect(buildBatchKey("arch/", sent, ids, "zstd")).toMatch(/\.ndjson\.zst$/);
    expect(buildBatchKey("arch/", sent, ids, "none")).toMatch(/-[0-9a-f]{16}\.ndjson$/);
  });

  it("depend on the set of ids, not their order, so a rebuilt batch lands on the same key", () => {
    expect(batchIdHash(ids)).toBe(batchIdHash([...ids].reverse()));
    expect(batchIdHash(ids)).not.toBe(batchIdHash(ids.slice(1)));
  });

  it("parse back, and are told apart from message-layout keys", () => {
    expect(parseArchiveKey("arch/", buildBatchKey("arch/", sent, ids, "zstd"))).toEqual({
      layout: "ndjson",
      hour: "2025-03-04T05:00:00Z",
      compression: "zstd",
      firstSentTimestampMs: sent,
      hash: batchIdHash(ids),
    });
    expect(parseArchiveKey("arch/", buildKey("arch/", ids[0] as string, sent))).toEqual({ layout: "message", hour: "2025-03-04T05:00:00Z", messageId: ids[0] });
    expect(parseArchiveKey("arch/", "arch/2025/03/04/05/readme.txt")).toBeNull();
    expect(parseArchiveKey("other/", buildBatchKey("arch/", sent, ids, "gzip"))).toBeNull();
  });
});

describe("hourPrefixes", () => {
  it("lists every UTC hour the half-open window touches, and no other", () => {
    const since = Date.UTC(2024, 11, 31, 22, 30);
    const until = Date.UTC(2025, 0, 1, 1, 0);
    expect(hourPrefixes("p/", since, until)).toEqual(["p/2024/12/31/22/", "p/2024/12/31/23/", "p/2025/01/01/00/"]);
    expect(hourPrefixes("p/", until, until)).toEqual([]);
  });
});

describe("codecs", () => {
  const data = Buffer.from(`${JSON.stringify({ body: "\u0000\"😀\n".repeat(1000) })}\n`.repeat(50), "utf8");
  it.each(["gzip", "zstd", "none"] as const)("%s round-trips bytes exactly", async (c) => {
    expect((await roundTrip(c, data)).equals(data)).toBe(true);
  });

  it("produce streams the standard tools read (gzip, zstd frames)", async () => {
    for (const [c, dec] of [["gzip", gunzipSync], ["zstd", zstdDecompressSync]] as const) {
      const chunks: Buffer[] = [];
      await pipeline(Readable.from([data]), createCompressor(c) as NonNullable<ReturnType<typeof createCompressor>>, new Writable({ write: (x: Buffer, _e, cb) => (chunks.push(x), cb()) }));
      expect(dec(Buffer.concat(chunks)).equals(data)).toBe(true);
    }
  });
});
