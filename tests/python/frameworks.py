"""Every tool schema, as the four servers serve it over stdio, goes through the converters of
the agent frameworks that reuse MCP servers (issue 17), unchanged on our side:

  - OpenAI Agents SDK: an Agent over MCPServerStdio with convert_schemas_to_strict must get
    every tool strict (it falls back to non-strict silently otherwise);
  - google-genai: FunctionDeclaration(parameters=...) must accept the schema, and its MCP
    adapter (mcp_to_gemini_tool) must convert it keeping every enum value;
  - pydantic-ai: the OpenAI transformer in strict mode must not move any keyword into a
    description (what strict mode cannot say) and the Gemini transformer must accept it;
  - LangChain: langchain-mcp-adapters' tools through convert_to_openai_tool must keep every
    property and enum value.

Then calls go through LangChain's tools and the Agents SDK's server with the arguments a
strict-mode model sends (every property present at every level, null where it has nothing to
say), which the server must take.

Driven by tests/tests/frameworks.rs, which starts the sandbox and passes

  SERVERS  JSON list of {"name", "command", "args", "tools", "calls": [{"tool", "arguments"}]}

The packages are pinned in tests/python/frameworks-requirements.txt (they need an `mcp` older
than interop.py's, so they live in their own virtual environment). Prints one line per server
and exits non-zero with every mismatch found.
"""

import asyncio
import copy
import json
import logging
import os
import sys

from agents import Agent, RunContextWrapper
from agents.mcp import MCPServerStdio
from google.genai import types as genai
from google.genai._mcp_utils import mcp_to_gemini_tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_mcp_adapters.tools import load_mcp_tools
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from pydantic_ai.profiles.google import GoogleJsonSchemaTransformer
from pydantic_ai.profiles.openai import OpenAIJsonSchemaTransformer

FAILURES: list[str] = []


def fail(server: str, tool: str, framework: str, why: str) -> None:
    FAILURES.append(f"{server} {tool} [{framework}]: {why}")


def keyword_values(schema, keys) -> set:
    """Every value, as text, of the keywords `keys` anywhere in a JSON schema (a list's items
    one by one)."""
    out = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in keys:
                    out.update(map(str, value) if isinstance(value, list) else [str(value)])
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return out


def enum_values(schema) -> set:
    """Every enum value anywhere in a JSON schema."""
    return keyword_values(schema, ("enum", "const"))


def descriptions(schema) -> set:
    """Every description anywhere in a JSON schema."""
    return keyword_values(schema, ("description",))


def resolve(schema, root=None, depth=0):
    """`schema` with its `$ref`s to `#/$defs/…` replaced by their targets, to a depth, so a
    converter that cuts a reference short shows as lost properties."""
    root = schema if root is None else root
    if depth > 8:
        return {}
    if isinstance(schema, list):
        return [resolve(s, root, depth) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/$defs/"):
        target = root.get("$defs", {}).get(schema["$ref"].split("/")[-1], {})
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return resolve(merged, root, depth + 1)
    return {k: resolve(v, root, depth) for k, v in schema.items() if k != "$defs"}


def property_paths(schema, path="", out=None) -> set:
    """Every property path in a JSON schema (`date_ranges[].start_date`)."""
    out = set() if out is None else out
    if isinstance(schema, dict):
        for name, sub in (schema.get("properties") or {}).items():
            out.add(f"{path}.{name}")
            property_paths(sub, f"{path}.{name}", out)
        if isinstance(schema.get("items"), dict):
            property_paths(schema["items"], f"{path}[]", out)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key) or []:
                property_paths(sub, path, out)
    return out


def genai_enum_values(schema: genai.Schema | None, out=None) -> set:
    out = set() if out is None else out
    if schema is None:
        return out
    out.update(schema.enum or [])
    for sub in [schema.items, *(schema.any_of or []), *(schema.properties or {}).values()]:
        genai_enum_values(sub, out)
    return out


def check_schema(server: str, tool) -> None:
    """The offline converters, on one tool as the MCP client received it."""
    name, schema = tool.name, tool.inputSchema
    for framework, convert in [
        ("google-genai FunctionDeclaration", lambda s: genai.FunctionDeclaration(name=name, parameters=s)),
        ("pydantic-ai Gemini", lambda s: GoogleJsonSchemaTransformer(s).walk()),
    ]:
        try:
            convert(copy.deepcopy(schema))
        except Exception as e:  # the converter's own words
            fail(server, name, framework, f"{type(e).__name__}: {e}")
    try:
        declaration = mcp_to_gemini_tool(tool).function_declarations[0]
        lost = enum_values(schema) - genai_enum_values(declaration.parameters)
        if lost:
            fail(server, name, "google-genai mcp_to_gemini_tool", f"enum values dropped: {sorted(lost)}")
    except Exception as e:
        fail(server, name, "google-genai mcp_to_gemini_tool", f"{type(e).__name__}: {e}")
    try:
        strict = OpenAIJsonSchemaTransformer(copy.deepcopy(schema), strict=True).walk()
        # In strict mode the transformer moves what OpenAI cannot enforce into descriptions
        # ("… (minLength=3)"): every description must come out as it went in.
        changed = descriptions(strict) - descriptions(schema)
        if changed:
            fail(server, name, "pydantic-ai OpenAI strict", f"keywords moved into descriptions: {sorted(changed)}")
    except Exception as e:
        fail(server, name, "pydantic-ai OpenAI strict", f"{type(e).__name__}: {e}")


def strict_arguments(schema: dict, given):
    """What a strict-mode model sends: every property, at every level, `null` (or an empty
    list, or false) where the call has nothing to say."""
    if isinstance(given, list):
        return [strict_arguments(schema.get("items", {}), g) for g in given]
    if not isinstance(given, dict):
        return given
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if branches:
        schema = branches[0]
    out = {}
    for name, sub in (schema.get("properties") or {}).items():
        if name in given:
            out[name] = strict_arguments(sub, given[name])
        elif any(b.get("type") == "null" for b in sub.get("anyOf", [])):
            out[name] = None
        elif sub.get("type") == "array":
            out[name] = []
        elif sub.get("type") == "boolean":
            out[name] = False
        else:
            raise AssertionError(f"no strict-mode value for required property {name}")
    return out


async def check_server(spec: dict) -> None:
    server = spec["name"]
    params = StdioServerParameters(command=spec["command"], args=spec["args"], env=dict(os.environ))

    # LangChain, through its MCP adapter, over the official SDK's stdio client.
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = (await session.list_tools()).tools
            if sorted(t.name for t in listed) != sorted(spec["tools"]):
                fail(server, "*", "tools/list", f"tools {sorted(t.name for t in listed)}")
            for tool in listed:
                check_schema(server, tool)
            for tool in await load_mcp_tools(session):
                source = next(t for t in listed if t.name == tool.name)
                parameters = convert_to_openai_tool(tool)["function"]["parameters"]
                lost = property_paths(resolve(source.inputSchema)) - property_paths(resolve(parameters))
                if lost:
                    fail(server, tool.name, "LangChain convert_to_openai_tool", f"properties lost: {sorted(lost)}")
                lost = enum_values(source.inputSchema) - enum_values(parameters)
                if lost:
                    fail(server, tool.name, "LangChain convert_to_openai_tool", f"enum values lost: {sorted(lost)}")
            # Without error handling, a tool error raises instead of becoming the answer.
            tools = await load_mcp_tools(session, handle_tool_errors=False)
            for call in spec["calls"]:
                source = next(t for t in listed if t.name == call["tool"])
                tool = next(t for t in tools if t.name == call["tool"])
                try:
                    await tool.ainvoke(strict_arguments(source.inputSchema, call["arguments"]))
                except Exception as e:
                    fail(server, call["tool"], "LangChain tool call", f"strict-mode arguments refused: {e}")

    # The Agents SDK, with its own stdio server class, as an agent configures it.
    mcp = MCPServerStdio(
        params={"command": spec["command"], "args": spec["args"], "env": dict(os.environ)},
        client_session_timeout_seconds=60,
    )
    async with mcp:
        agent = Agent(name="shop", mcp_servers=[mcp], mcp_config={"convert_schemas_to_strict": True})
        tools = await agent.get_mcp_tools(RunContextWrapper(context=None))
        for tool in tools:
            if not tool.strict_json_schema:
                fail(server, tool.name, "OpenAI Agents SDK strict", "fell back to a non-strict schema")
        for call in spec["calls"]:
            strict_schema = next(t.params_json_schema for t in tools if t.name == call["tool"])
            result = await mcp.call_tool(call["tool"], strict_arguments(strict_schema, call["arguments"]))
            if result.isError:
                fail(server, call["tool"], "OpenAI Agents SDK call", f"strict-mode arguments refused: {result.content}")
    called = ", ".join(c["tool"] for c in spec["calls"])
    print(f"{server}: {len(tools)} tools converted, called {called}", flush=True)


async def main() -> None:
    logging.disable(logging.CRITICAL)
    for spec in json.loads(os.environ["SERVERS"]):
        await check_server(spec)
    if FAILURES:
        print("\n".join(FAILURES), file=sys.stderr)
        sys.exit(1)
    print("frameworks: ok", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
