"""The official Python MCP SDK reaches one shop through `agent-host gateway` with a shop key.
Driven by tests/tests/gateway.rs, which passes:

  GATEWAY   base URL of the gateway
  SHOP_KEY  a shop key (bbk_…) for the shop whose GA4 property is PROPERTY
  PROPERTY  that property's id
  OTHER     another shop's property id, which this key must not reach

Exits non-zero with a message on the first mismatch.
"""

import asyncio
import os
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


def check(cond, message):
    if not cond:
        raise AssertionError(message)


async def main() -> None:
    base, key = os.environ["GATEWAY"], os.environ["SHOP_KEY"]
    prop, other = os.environ["PROPERTY"], os.environ["OTHER"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                init = await session.initialize()
                check(init.server_info.name == "berryboo-gateway", f"server {init.server_info.name}")
                tools = await session.list_tools()
                names = {t.name for t in tools.tools}
                check("run_report" in names, f"tools {sorted(names)}")
                details = await session.call_tool("get_property_details", {})
                check(not details.is_error, f"get_property_details failed: {details.content}")
                check(prop in str(details.structured_content), f"not the shop's property: {details.structured_content}")
                foreign = await session.call_tool("get_property_details", {"property_id": other})
                check(foreign.is_error, f"another shop's property was read: {foreign.content}")
                print(f"gateway: ok (protocol {init.protocol_version}, {len(names)} tools)", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # one line plus exit status 1
        print(f"gateway failure: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
