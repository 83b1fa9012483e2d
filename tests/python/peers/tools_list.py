"""Prints the size of a stdio MCP server's `tools/list` result as compact JSON, in bytes, and
its number of tools: `python tools_list.py COMMAND [ARGS…]`. Run by `bench --peers` with each
Python peer's own interpreter (so it uses that peer's `mcp`)."""

import asyncio
import json
import os
import sys
import tempfile

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    # Third-party code from PyPI: it gets a PATH and an empty home, none of this shell's
    # tokens or keys.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.mkdtemp()}
    params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:], env=env)
    async with stdio_client(params, errlog=open(os.devnull, "w")) as (read, write):
        async with ClientSession(read, write) as session:
            await asyncio.wait_for(session.initialize(), 120)
            result = await asyncio.wait_for(session.list_tools(), 120)
    answer = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    answer.pop("_meta", None)
    print(len(json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()), len(result.tools))


asyncio.run(main())
