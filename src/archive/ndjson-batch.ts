import type { Transform } from "node:stream";
import type { ArchiveCompression } from "../config.js";
import { createCompressor } from "./format.js";

/** Lines are handed to the compressor in chunks of about this size: one threadpool hop per chunk, not per message. */
const CHUNK_BYTES = 64 * 1024;

/**
 * One NDJSON object being built: lines are compressed as they arrive (on libuv's threadpool), so an open batch holds
 * compressed bytes, not message bodies. `compressedBytes` lags the input by at most one chunk plus the codec's
 * window, which is why BATCH_MAX_BYTES is a target, not an exact cap.
 */
export class NdjsonObjectBuilder {
  private readonly compressor: Transform | null;
  private readonly out: Buffer[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private outBytes = 0;
  private lines = 0;
  private finished: Promise<Buffer> | undefined;
  private failure: Error | undefined;

  constructor(
    compression: ArchiveCompression,
    /** Called with each increment of output size, so the owner can charge it against the memory budget. */
    private readonly onOutput: (bytes: number) => void = () => undefined,
  ) {
    this.compressor = createCompressor(compression);
    this.compressor?.on("data", (chunk: Buffer) => this.collect(chunk));
    this.compressor?.on("error", (err: Error) => (this.failure = err));
  }

  get lineCount(): number {
    return this.lines;
  }

  /** Compressed bytes so far plus what is waiting to be compressed (counted uncompressed: an upper bound). */
  get estimatedBytes(): number {
    return this.outBytes + this.pendingBytes + (this.compressor?.writableLength ?? 0);
  }

  /** Bytes of output held in memory. */
  get outputBytes(): number {
    return this.outBytes;
  }

  append(line: string): void {
    if (this.finished) throw new Error("batch already finished");
    this.pending.push(line, "\n");
    this.pendingBytes += Buffer.byteLength(line, "utf8") + 1;
    this.lines++;
    if (this.pendingBytes >= CHUNK_BYTES) this.drainPending();
  }

  /** Ends the stream and returns the whole object. */
  finish(): Promise<Buffer> {
    this.finished ??= new Promise<Buffer>((resolve, reject) => {
      this.drainPending();
      if (!this.compressor) {
        resolve(Buffer.concat(this.out));
        return;
      }
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.compressor.once("error", reject);
      this.compressor.once("end", () => resolve(Buffer.concat(this.out, this.outBytes)));
      this.compressor.end();
    });
    return this.finished;
  }

  private drainPending(): void {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(""), "utf8");
    this.pending = [];
    this.pendingBytes = 0;
    if (this.compressor) this.compressor.write(chunk);
    else this.collect(chunk);
  }

  private collect(chunk: Buffer): void {
    this.out.push(chunk);
    this.outBytes += chunk.length;
    this.onOutput(chunk.length);
  }
}
