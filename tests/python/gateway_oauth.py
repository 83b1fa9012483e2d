"""The official Python MCP SDK's OAuth client reaches one shop through `agent-host gateway`:
it finds the authorization server from the gateway's 401 (RFC 9728), registers itself
(RFC 7591), runs the authorization-code flow with PKCE against the sandbox's authorization
server (which consents at once), and calls the shop's tools with the JWT it got.
Driven by tests/tests/gateway.rs, which passes:

  GATEWAY     the gateway's public URL (its --public-url, where it listens)
  LOGIN_HINT  the sandbox user to sign in as; the broker allows it one shop
  PROPERTY    that shop's GA4 property id
  OTHER       another shop's property id, which this user must not reach

Exits non-zero with a message on the first mismatch.
"""

import asyncio
import os
import sys
from urllib.parse import parse_qs, urlencode, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


def check(cond, message):
    if not cond:
        raise AssertionError(message)


class MemoryStorage:
    """What a desktop host would keep on disk: the registration and the tokens."""

    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


class Browser:
    """Stands in for the person's browser: follows the authorization URL (with the user to sign
    in as) and hands the code the authorization server redirected with to the SDK."""

    def __init__(self, login_hint: str):
        self.login_hint = login_hint
        self.result: AuthorizationCodeResult | None = None
        self.visits = 0

    async def redirect(self, authorization_url: str) -> None:
        self.visits += 1
        url = f"{authorization_url}&{urlencode({'login_hint': self.login_hint})}"
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            answer = await http.get(url)
        check(answer.status_code == 302, f"authorization: HTTP {answer.status_code} {answer.text}")
        query = parse_qs(urlparse(answer.headers["location"]).query)
        check("code" in query, f"authorization refused: {query}")
        self.result = AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )

    async def callback(self) -> AuthorizationCodeResult:
        check(self.result is not None, "no redirect came back")
        return self.result


async def session_round(base: str, provider: OAuthClientProvider, prop: str, other: str) -> int:
    async with httpx2.AsyncClient(auth=provider, timeout=60) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                tools = await session.list_tools()
                details = await session.call_tool("get_property_details", {})
                check(not details.is_error, f"get_property_details failed: {details.content}")
                check(prop in str(details.structured_content), f"not the shop's property: {details.structured_content}")
                foreign = await session.call_tool("get_property_details", {"property_id": other})
                check(foreign.is_error, f"another shop's property was read: {foreign.content}")
                check("is not this shop's" in str(foreign.content), f"refused for another reason: {foreign.content}")
                return len(tools.tools)


async def main() -> None:
    base, hint = os.environ["GATEWAY"], os.environ["LOGIN_HINT"]
    prop, other = os.environ["PROPERTY"], os.environ["OTHER"]
    storage, browser = MemoryStorage(), Browser(hint)
    metadata = OAuthClientMetadata(
        client_name="berryboo e2e (Python SDK)",
        redirect_uris=["http://127.0.0.1:33418/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    provider = OAuthClientProvider(base, metadata, storage, browser.redirect, browser.callback)
    count = await session_round(base, provider, prop, other)
    check(browser.visits == 1, f"{browser.visits} authorizations for one session")
    check(storage.tokens is not None and storage.tokens.refresh_token, "no refresh token kept")

    # A host restarting with what it kept: no new registration or consent.
    registered = storage.client.client_id
    provider = OAuthClientProvider(base, metadata, storage, browser.redirect, browser.callback)
    await session_round(base, provider, prop, other)
    check(browser.visits == 1, "the kept token was not reused")
    check(storage.client.client_id == registered, "the client registered again")
    print(f"gateway oauth: ok ({count} tools, client {registered[:8]}…)", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # one line plus exit status 1
        print(f"gateway oauth failure: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
