"""Drive a held call over toolgate's /mcp with the official MCP Python SDK:
the call waits while an approver decides through the REST API, its
progress reaching the SDK's progress callback; approved, it gives the
executed call's result; denied, an error result with `approval_denied`.

Usage: approvals.py BASE_URL   (the agent key in TOOLGATE_KEY, an approver's
key in TOOLGATE_APPROVER_KEY)
"""

import asyncio
import json
import os
import sys

import httpx
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


async def decide(base: str, verb: str, after_progress: asyncio.Event) -> str:
    """Wait for the held action and for a progress notification, then decide it."""
    approver = {"Authorization": f"Bearer {os.environ['TOOLGATE_APPROVER_KEY']}"}
    async with httpx.AsyncClient(base_url=base, headers=approver) as http:
        # A deadline, not a count of tries: on a loaded machine each poll is slow.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            listed = (await http.get("/v1/pending-actions")).json()
            if listed.get("actions"):
                break
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("no action was held")
            await asyncio.sleep(0.05)
        action_id = listed["actions"][0]["action_id"]
        await asyncio.wait_for(after_progress.wait(), 30)
        r = await http.post(f"/v1/pending-actions/{action_id}/{verb}", json={"reason": "checked"})
        assert r.status_code == 200, r.text
        return action_id


async def main(base: str) -> None:
    headers = {"Authorization": f"Bearer {os.environ['TOOLGATE_KEY']}"}
    async with connect(f"{base}/mcp", headers) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            names = [t.name for t in (await session.list_tools()).tools]
            assert "toolgate_action_status" in names, names

            for verb in ["approve", "deny"]:
                seen = []
                progressed = asyncio.Event()

                async def on_progress(progress, total, message):
                    seen.append((progress, total, message))
                    progressed.set()

                deciding = asyncio.create_task(decide(base, verb, progressed))
                result = await session.call_tool(
                    "held", {"note": verb}, progress_callback=on_progress
                )
                action_id = await deciding
                assert seen, "no progress reached the callback"
                assert all(f"waiting for approval (action {action_id})" in m for _, _, m in seen), seen
                if verb == "approve":
                    assert not field(result, "is_error", "isError"), result
                    structured = field(result, "structured_content", "structuredContent")
                    assert structured["body"] == {"note": "approve"}, structured
                    assert json.loads(result.content[0].text) == structured, result
                else:
                    assert field(result, "is_error", "isError"), result
                    assert result.meta["dev.toolgate/error"]["code"] == "approval_denied", result

            # The outcome, read again through the status tool.
            status = await session.call_tool("toolgate_action_status", {"action_id": action_id})
            assert field(status, "is_error", "isError"), status
            assert status.meta["dev.toolgate/error"]["code"] == "approval_denied", status
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
