"""Drive toolgate's /mcp with the official MCP Python SDK: list the tools,
call one, and check a schema error comes back as an error result.

Usage: client.py URL [legacy|modern]   (the agent key in TOOLGATE_KEY)

`legacy` (the default) opens a 2025 session with initialize; `modern` speaks
the stateless 2026-07-28 revision, starting with server/discover.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession

try:  # the 1.x SDK
    from mcp.client.streamable_http import streamablehttp_client

    def connect(url, headers):
        return streamablehttp_client(url, headers=headers)

except ImportError:  # 2.x: the headers go on the HTTP client
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    def connect(url, headers):
        return streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))


def field(obj, new, old):
    """A result field under its 2.x name or its 1.x one."""
    return getattr(obj, new) if hasattr(obj, new) else getattr(obj, old)


async def main(url: str, era: str) -> None:
    headers = {"Authorization": f"Bearer {os.environ['TOOLGATE_KEY']}"}
    async with connect(url, headers) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            if era == "modern":
                await session.discover()
                assert session.protocol_version == "2026-07-28", session.protocol_version
            else:
                await session.initialize()
                assert session.protocol_version != "2026-07-28", session.protocol_version
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
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "legacy"))
