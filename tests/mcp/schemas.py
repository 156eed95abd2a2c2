"""Drive toolgate's /mcp with the official MCP Python SDK against tools that
declare `response.output_schema`: the SDK checks every `structuredContent`
against the listed `outputSchema` (the wrapped one of a string result too)
and raises when they disagree; an answer outside the schema is an error result.

Usage: schemas.py URL   (the agent key in TOOLGATE_KEY)
"""

import asyncio
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
    """A field under its 2.x name or its 1.x one."""
    return getattr(obj, new) if hasattr(obj, new) else getattr(obj, old)


async def main(url: str) -> None:
    headers = {"Authorization": f"Bearer {os.environ['TOOLGATE_KEY']}"}
    async with connect(url, headers) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            create, dump = tools["create_item"], tools["dump"]
            assert field(create, "output_schema", "outputSchema")["type"] == "object", create
            assert field(dump, "output_schema", "outputSchema")["required"] == ["result"], dump
            hints = create.annotations
            assert field(hints, "destructive_hint", "destructiveHint") is False, hints
            assert field(hints, "open_world_hint", "openWorldHint") is True, hints
            assert field(hints, "read_only_hint", "readOnlyHint") is False, hints
            assert field(create, "input_schema", "inputSchema")["properties"]["kind"] == {"enum": ["a", "b"]}, create

            # The SDK validates these results against the listed outputSchema.
            done = await session.call_tool("create_item", {"name": "n", "kind": "b"})
            assert not field(done, "is_error", "isError"), done
            assert field(done, "structured_content", "structuredContent")["method"] == "POST", done
            text = await session.call_tool("dump", {})
            assert not field(text, "is_error", "isError"), text
            assert isinstance(field(text, "structured_content", "structuredContent")["result"], str), text

            bad = await session.call_tool("bad_answer", {})
            assert field(bad, "is_error", "isError"), bad
            assert bad.meta["dev.toolgate/error"]["code"] == "upstream_error", bad
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
