// The two small servers the conformance run needs beside toolgate:
//
// - an upstream for the suite's test tools (toolgate calls it with its
//   credential, which this server checks): GET /simple-text answers a fixed
//   text, GET /error answers 500 (the tool's failure), POST /echo echoes;
// - a relay in front of toolgate's /mcp that adds `Authorization: Bearer
//   <agent key>`: the suite's client sends no credential, while toolgate
//   requires one. Everything else (method, path, Host, Origin, body, the
//   streamed answer) passes through unchanged.
//
// Usage: node servers.mjs UPSTREAM_PORT RELAY_PORT TOOLGATE_PORT
// (UPSTREAM_SECRET and TOOLGATE_KEY in the environment)

import http from "node:http";

const [upstreamPort, relayPort, toolgatePort] = process.argv.slice(2).map(Number);
const secret = process.env.UPSTREAM_SECRET;
const key = process.env.TOOLGATE_KEY;
if (!secret || !key || !toolgatePort) {
  console.error("usage: UPSTREAM_SECRET=… TOOLGATE_KEY=… node servers.mjs UPSTREAM_PORT RELAY_PORT TOOLGATE_PORT");
  process.exit(2);
}

const json = (res, status, body) => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
};

http
  .createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${secret}`) return json(res, 401, { error: "bad credential" });
      if (req.method === "GET" && req.url === "/simple-text")
        return json(res, 200, { text: "This is a simple text response for testing." });
      if (req.method === "GET" && req.url === "/error")
        return json(res, 500, { error: "This tool intentionally returns an error for testing" });
      if (req.method === "POST" && req.url === "/echo") return json(res, 200, { received: JSON.parse(body || "null") });
      json(res, 404, { error: "no such route" });
    });
  })
  .listen(upstreamPort, "127.0.0.1");

http
  .createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${key}` };
    const out = http.request(
      { host: "127.0.0.1", port: toolgatePort, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", (e) => json(res, 502, { error: `toolgate unreachable: ${e.code}` }));
    req.pipe(out);
  })
  .listen(relayPort, "127.0.0.1");

console.error(`upstream on ${upstreamPort}, relay on ${relayPort} -> toolgate on ${toolgatePort}`);
