"""Interoperability check with an MCP client nobody on this project wrote: the official
Python SDK. Driven by tests/tests/interop.rs, which starts the sandbox and the servers and
passes their addresses in the environment:

  GA4_MCP        path of the ga4-mcp binary (spawned here over stdio)
  GA4_MCP_ARGS   its arguments, JSON list
  GA4_MCP_HTTP   base URL of a ga4-mcp started with --http (streamable /mcp and legacy /sse)

Exits non-zero with a message on the first mismatch.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

LAST_WEEK = [{"start_date": "7daysAgo", "end_date": "yesterday"}]


def check(cond, message):
    if not cond:
        raise AssertionError(message)


async def exercise(session: ClientSession, label: str) -> None:
    init = await session.initialize()
    check(init.server_info.name == "ga4-mcp", f"{label}: server name {init.server_info.name}")
    tools = await session.list_tools()
    names = {t.name for t in tools.tools}
    check(len(names) == 9 and "run_report" in names, f"{label}: tools {sorted(names)}")
    for tool in tools.tools:
        check(tool.output_schema is not None, f"{label}: {tool.name} lacks an output schema")
    # The SDK validates structured content against the tool's output schema.
    report = await session.call_tool(
        "run_report", {"date_ranges": LAST_WEEK, "dimensions": ["date"], "metrics": ["sessions"]}
    )
    check(not report.is_error, f"{label}: run_report failed: {report.content}")
    check(report.structured_content["row_count"] == 7, f"{label}: {report.structured_content}")
    summaries = await session.call_tool("get_account_summaries", {})
    check(not summaries.is_error, f"{label}: get_account_summaries failed: {summaries.content}")
    bad = await session.call_tool("run_report", {"metrics": ["sessions"]})
    check(bad.is_error, f"{label}: missing date_ranges must be a tool error")
    print(f"{label}: ok (protocol {init.protocol_version})", flush=True)


async def main() -> None:
    params = StdioServerParameters(
        command=os.environ["GA4_MCP"], args=json.loads(os.environ["GA4_MCP_ARGS"]), env={"RUST_LOG": "warn"}
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "stdio")

    base = os.environ["GA4_MCP_HTTP"]
    async with streamable_http_client(f"{base}/mcp") as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await exercise(session, "streamable-http")

    async with sse_client(f"{base}/sse") as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "legacy-sse")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # report any failure as one line plus exit status 1
        print(f"interop failure: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
