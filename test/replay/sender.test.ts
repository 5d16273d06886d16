import type { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { MAX_BATCH_BYTES } from "../../src/replay/message.js";
import { RateLimiter } from "../../src/replay/rate-limiter.js";
import { Sender, type Outgoing } from "../../src/replay/sender.js";

describe("sender: FIFO order, one request in flight per group, retries", () => {
  interface Item extends Outgoing {
    n: number;
  }
  function items(groups: string[], perGroup: number): Item[] {
    const out: Item[] = [];
    for (let i = 0; i < perGroup; i++) {
      for (const g of groups) {
        out.push({ messageId: `${g}-${i}`, key: "k", line: i, n: i, re: { entry: { MessageBody: `${g}-${i}`, MessageGroupId: g }, size: 10, provenance: false, group: g } });
      }
    }
    return out;
  }

  it("sends each group in order, never two requests for one group at once, and retries throttled entries", async () => {
    const inFlightGroups = new Map<string, number>();
    const received: string[] = [];
    let calls = 0;
    let violations = 0;
    const sqs = {
      async send(cmd: SendMessageBatchCommand) {
        calls++;
        const entries = cmd.input.Entries ?? [];
        const groups = [...new Set(entries.map((e) => e.MessageGroupId as string))];
        for (const g of groups) {
          if ((inFlightGroups.get(g) ?? 0) > 0) violations++;
          inFlightGroups.set(g, (inFlightGroups.get(g) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 5));
        for (const g of groups) inFlightGroups.set(g, (inFlightGroups.get(g) ?? 1) - 1);
        // Every 7th call throttles its last entry once; SQS keeps order only if the sender retries before moving on.
        const fail = calls % 7 === 0 ? entries.at(-1) : undefined;
        const ok = entries.filter((e) => e !== fail);
        received.push(...ok.map((e) => e.MessageBody as string));
        return {
          Successful: ok.map((e) => ({ Id: e.Id, MessageId: "x", MD5OfMessageBody: "" })),
          Failed: fail ? [{ Id: fail.Id, Code: "ThrottlingException", SenderFault: false, Message: "slow down" }] : [],
        };
      },
    } as unknown as SQSClient;
    const sent: string[] = [];
    const failed: string[] = [];
    const sender = new Sender<Item>(sqs, "https://sqs.eu-west-1.amazonaws.com/1/q.fifo", true, 4, new RateLimiter(0), {
      sent: (its) => sent.push(...its.map((i) => i.messageId)),
      failed: (it) => failed.push(it.messageId),
      fatal: () => undefined,
    });
    const groups = ["a", "b", "c", "d", "e", "f"];
    sender.addOrdered(items(groups, 15));
    sender.flush();
    await sender.idle();
    expect(violations).toBe(0);
    expect(failed).toEqual([]);
    expect(sent).toHaveLength(90);
    for (const g of groups) {
      // Retried entries arrive later than the rest of their batch, but never before an earlier message of the group.
      const order = received.filter((b) => b.startsWith(`${g}-`)).map((b) => Number(b.split("-")[1]));
      expect(order).toEqual(Array.from({ length: 15 }, (_, i) => i));
    }
    // Groups were interleaved into shared batches (fewer requests than messages / 10 per group would need).
    expect(calls).toBeLessThan(60);
  });

  it("standard target: batches of 10 within 1 MiB; a refused batch is retried entry by entry", async () => {
    const batches: number[] = [];
    const sqs = {
      async send(cmd: SendMessageBatchCommand) {
        const entries = cmd.input.Entries ?? [];
        if (entries.some((e) => e.MessageBody === "poison") && entries.length > 1) {
          throw Object.assign(new Error("bad"), { name: "InvalidMessageContents", $metadata: { httpStatusCode: 400 } });
        }
        batches.push(entries.length);
        if (entries[0]?.MessageBody === "poison") return { Successful: [], Failed: [{ Id: "m0", Code: "InvalidMessageContents", SenderFault: true, Message: "no" }] };
        return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
      },
    } as unknown as SQSClient;
    const failed: string[] = [];
    let sent = 0;
    const sender = new Sender<Outgoing>(sqs, "https://sqs.eu-west-1.amazonaws.com/1/q", false, 2, new RateLimiter(0), {
      sent: (its) => (sent += its.length),
      failed: (it, reason) => failed.push(`${it.messageId}:${reason}`),
      fatal: () => undefined,
    });
    for (let i = 0; i < 25; i++) {
      await sender.add({ messageId: `m${i}`, key: "k", line: i, re: { entry: { MessageBody: i === 13 ? "poison" : `b${i}` }, size: i === 3 ? MAX_BATCH_BYTES : 10, provenance: false } });
    }
    sender.flush();
    await sender.idle();
    expect(sent).toBe(24);
    expect(failed).toEqual(["m13:InvalidMessageContents"]);
    expect(batches.every((n) => n <= 10)).toBe(true);
    expect(batches).toContain(1);
  });
});
