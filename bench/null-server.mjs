// A do-nothing S3 stand-in for the bare PutObject loop (bench/bare-put.mjs), run as its own process: reads each request
// body and answers 200 with an ETag, nothing else. Prints its port on stdout.
import { createServer } from "node:http";

let n = 0;
const server = createServer((req, res) => {
  req.on("data", () => undefined);
  req.on("end", () => {
    n++;
    res.writeHead(200, { ETag: `"${n.toString(16).padStart(32, "0")}"`, "Content-Length": "0", "x-amz-request-id": String(n) });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
