// Drive toolgate's /mcp with the official MCP TypeScript SDK
// (StreamableHTTPClientTransport, the key as a bearer header): list the
// tools, call one, check a schema error is an error result and an unknown
// tool a JSON-RPC error, call `leak` (an upstream that echoes its
// credential) and print what the model would see, then end the session.
//
// Usage: node client.mjs URL   (the agent key in TOOLGATE_KEY)
// Prints one JSON line: {"ok": true, "leak": {"text": …, "structuredContent": …}}.

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

const url = new URL(process.argv[2]);
const headers = { Authorization: `Bearer ${process.env.TOOLGATE_KEY}` };
const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
const client = new Client({ name: "toolgate-it", version: "0" });
await client.connect(transport);
assert.ok(transport.sessionId, "initialize gave a session id");
assert.equal(client.getServerVersion().name, "toolgate");
assert.ok(client.getServerCapabilities().tools, "the tools capability");

const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
assert.deepEqual(names, [...names].sort(), "sorted by name");
assert.ok(names.includes("echo") && !names.includes("admin_only"), names.join(","));
const echo = tools.find((t) => t.name === "echo");
assert.equal(echo.inputSchema.type, "object");

const done = await client.callTool({ name: "echo", arguments: { id: "a1", q: "hi" } });
assert.notEqual(done.isError, true, JSON.stringify(done));
assert.deepEqual(JSON.parse(done.content[0].text), done.structuredContent);

const bad = await client.callTool({ name: "echo", arguments: { id: "a1", n: 77 } });
assert.equal(bad.isError, true, JSON.stringify(bad));
assert.equal(bad._meta["dev.toolgate/error"].code, "schema_violation");
assert.match(bad.content[0].text, /\/n/);

await assert.rejects(
  client.callTool({ name: "no_such_tool", arguments: {} }),
  (e) => e instanceof McpError && e.code === ErrorCode.InvalidParams,
);

const leak = await client.callTool({ name: "leak", arguments: {} });
assert.notEqual(leak.isError, true, JSON.stringify(leak));

// Ending the session: toolgate forgets it.
const sessionId = transport.sessionId;
await transport.terminateSession();
await client.close();
const after = await fetch(url, {
  method: "POST",
  headers: {
    ...headers,
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "Mcp-Session-Id": sessionId,
  },
  body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping" }),
});
assert.equal(after.status, 404, "an ended session is gone");

console.log(
  JSON.stringify({
    ok: true,
    leak: { text: leak.content[0].text, structuredContent: leak.structuredContent },
  }),
);
