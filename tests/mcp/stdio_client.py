"""Drive `toolgate mcp stdio` with the official MCP Python SDK's stdio
client: the SDK launches the bridge, which forwards to a toolgate's /mcp.
Lists the tools, calls one, checks a schema error comes back as an error
result and an unknown tool as a JSON-RPC error; then closes the session
(the SDK closes the bridge's stdin).

Usage: stdio_client.py TOOLGATE_BINARY URL   (the agent key in TOOLGATE_KEY)
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def field(obj, new, old):
    """A result field under its 2.x name or its 1.x one."""
    return getattr(obj, new) if hasattr(obj, new) else getattr(obj, old)


async def main(binary: str, url: str) -> None:
    server = StdioServerParameters(
        command=binary,
        args=["mcp", "stdio", "--url", url],
        # Only what the bridge needs: the key.
        env={"TOOLGATE_KEY": os.environ["TOOLGATE_KEY"]},
    )
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            version = field(init, "protocol_version", "protocolVersion")
            assert version.startswith("2025-"), init
            await session.send_ping()

            listed = await session.list_tools()
            names = [t.name for t in listed.tools]
            assert names == sorted(names), names
            assert "echo" in names and "admin_only" not in names, names

            done = await session.call_tool("echo", {"id": "a1", "q": "hi"})
            assert not field(done, "is_error", "isError"), done
            structured = field(done, "structured_content", "structuredContent")
            assert structured is not None, done
            assert json.loads(done.content[0].text) == structured, done

            bad = await session.call_tool("echo", {"id": "a1", "n": 77})
            assert field(bad, "is_error", "isError"), bad
            assert bad.meta["dev.toolgate/error"]["code"] == "schema_violation", bad
            assert "/n" in bad.content[0].text, bad

            try:
                await session.call_tool("no_such_tool", {})
            except Exception as e:  # the JSON-RPC error, forwarded by the bridge
                assert getattr(e, "error", None) is not None and e.error.code == -32602, repr(e)
            else:
                raise AssertionError("an unknown tool was called")
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
