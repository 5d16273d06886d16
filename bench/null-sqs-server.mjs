// A do-nothing SQS stand-in for the batched-mode CPU floor (bench/bare-receive.mjs), run as its own process: answers
// every AmazonSQS.ReceiveMessage with 10 canned 1 KiB messages (all system attributes, a correct MD5OfBody) and every
// DeleteMessageBatch with all entries successful. Prints its port on stdout.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { makeBody } from "./lib.mjs";

let seq = 0;
const message = () => {
  const i = seq++;
  const body = makeBody(1024, i);
  return {
    MessageId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    ReceiptHandle: `rh-${i}-${"x".repeat(160)}`,
    MD5OfBody: createHash("md5").update(body, "utf8").digest("hex"),
    Body: body,
    Attributes: {
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.now() - 1000),
    },
  };
};
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const target = String(req.headers["x-amz-target"] ?? "");
    let out = {};
    if (target.endsWith("ReceiveMessage")) out = { Messages: Array.from({ length: 10 }, message) };
    else if (target.endsWith("DeleteMessageBatch")) out = { Successful: JSON.parse(Buffer.concat(chunks).toString("utf8")).Entries.map((e) => ({ Id: e.Id })), Failed: [] };
    const payload = JSON.stringify(out);
    res.writeHead(200, { "content-type": "application/x-amz-json-1.0", "content-length": Buffer.byteLength(payload), "x-amzn-requestid": String(seq) });
    res.end(payload);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
