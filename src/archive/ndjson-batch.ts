import type { Transform } from "node:stream";
import type { ArchiveCompression } from "../config.js";
import { CONTENT_ENCODINGS, createCompressor, NDJSON_CONTENT_TYPE, NDJSON_EXTENSIONS } from "./format.js";

/** Lines are handed to the compressor in chunks of about this size: one threadpool hop per chunk, not per message. */
const CHUNK_BYTES = 64 * 1024;

/**
 * One NDJSON object being built: lines are compressed as they arrive (on libuv's threadpool), so an open batch holds
 * compressed bytes, not message bodies. Every byte the builder keeps alive is charged through `onCharge`: a line's
 * uncompressed bytes from append() until the compressor has consumed them (its write callback), then the compressed
 * output. The compressor's backpressure is respected: while its buffer is full, chunks wait here (still charged)
 * instead of piling up inside the stream. `compressedBytes` lags the input by at most one chunk plus the codec's
 * window, which is why BATCH_MAX_BYTES is a target, not an exact cap.
 */
export class NdjsonObjectBuilder {
  private readonly compressor: Transform | null;
  private out: Buffer[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Chunks waiting for the compressor's 'drain', and their bytes. */
  private readonly queued: Buffer[] = [];
  private queuedBytes = 0;
  /** Bytes written to the compressor and not yet consumed by it. */
  private writingBytes = 0;
  private outBytes = 0;
  private lines = 0;
  private finished: Promise<Buffer> | undefined;
  private ending: (() => void) | undefined;
  private failure: Error | undefined;

  readonly contentType = NDJSON_CONTENT_TYPE;
  readonly extension: string;
  readonly contentEncoding: string | undefined;
  readonly formatMetadata: Readonly<Record<string, string>>;

  constructor(
    compression: ArchiveCompression,
    /** Called with each change of the bytes held (positive: newly held; negative: freed), for the memory budget. */
    private readonly onCharge: (bytes: number) => void = () => undefined,
  ) {
    this.extension = NDJSON_EXTENSIONS[compression];
    this.contentEncoding = CONTENT_ENCODINGS[compression];
    this.formatMetadata = { "archive-format": "ndjson", compression };
    this.compressor = createCompressor(compression);
    this.compressor?.on("data", (chunk: Buffer) => this.collect(chunk));
    this.compressor?.on("error", (err: Error) => (this.failure = err));
    this.compressor?.on("drain", () => this.pump());
  }

  get lineCount(): number {
    return this.lines;
  }

  /** Compressed bytes so far plus what is waiting to be compressed (counted uncompressed: an upper bound). */
  get estimatedBytes(): number {
    return this.outBytes + this.pendingBytes + this.queuedBytes + this.writingBytes;
  }

  /** Bytes of output held in memory. */
  get outputBytes(): number {
    return this.outBytes;
  }

  append(line: string): void {
    if (this.finished) throw new Error("batch already finished");
    const bytes = Buffer.byteLength(line, "utf8") + 1;
    this.pending.push(line, "\n");
    this.pendingBytes += bytes;
    this.lines++;
    this.onCharge(bytes);
    if (this.pendingBytes >= CHUNK_BYTES) this.drainPending();
  }

  /**
   * Ends the stream and returns the whole object. The output chunks are dropped once concatenated, so only the object
   * itself (charged as the output) stays alive during the PUT.
   */
  finish(): Promise<Buffer> {
    this.finished ??= new Promise<Buffer>((resolve, reject) => {
      this.drainPending();
      const done = () => {
        const body = this.out.length === 1 ? (this.out[0] as Buffer) : Buffer.concat(this.out, this.outBytes);
        this.out = [];
        resolve(body);
      };
      if (!this.compressor) {
        done();
        return;
      }
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.compressor.once("error", reject);
      this.compressor.once("end", done);
      this.ending = () => this.compressor?.end();
      this.pump();
    });
    return this.finished;
  }

  private drainPending(): void {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(""), "utf8");
    // The chunk replaces the pending strings it was made from: its size was charged as theirs (the UTF-8 length).
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.compressor) {
      this.onCharge(-chunk.length);
      this.collect(chunk);
      return;
    }
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    this.pump();
  }

  /** Writes queued chunks while the compressor accepts them; ends the stream once finish() asked and all are in. */
  private pump(): void {
    const c = this.compressor;
    if (!c) return;
    while (this.queued.length > 0 && !c.writableNeedDrain) {
      const chunk = this.queued.shift() as Buffer;
      this.queuedBytes -= chunk.length;
      this.writingBytes += chunk.length;
      c.write(chunk, () => {
        // The codec has consumed this input: it lives on only as compressed output, charged by collect().
        this.writingBytes -= chunk.length;
        this.onCharge(-chunk.length);
      });
    }
    if (this.queued.length === 0 && this.ending) {
      const end = this.ending;
      this.ending = undefined;
      end();
    }
  }

  private collect(chunk: Buffer): void {
    this.out.push(chunk);
    this.outBytes += chunk.length;
    this.onCharge(chunk.length);
  }
}
