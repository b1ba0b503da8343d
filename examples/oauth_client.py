"""tollgate as an OAuth 2.1 protected resource, against a real authorization
server (oidc-provider) and the official MCP Python SDK as the client.

It starts `oidc-provider` (installed by .ci/tools.sh under .tools/oidc) and
`tollgate serve --oauth-issuer … --oauth-resource …` on loopback, bootstraps
a tenant with the platform-admin key, and has its tenant admin make two
invites. Then, for each transport (HTTP; and HTTPS with `--tls-dir`):

* **user flow**: the SDK's `OAuthClientProvider` (authorization code + PKCE +
  dynamic client registration). The redirect handler drives the provider's
  development login and consent forms over HTTP (headless) and the callback
  handler hands the SDK the code. The SDK follows tollgate's 401 to the
  resource metadata, finds the authorization server, registers, obtains a
  JWT access token for tollgate's resource, and with it redeems the invite
  (`identity.redeem`); then an SDK `Client` lists the tools and calls
  `whoami`, which must name the OAuth user, its tenant and role.
* **service flow**: the SDK's `ClientCredentialsOAuthProvider` for the
  pre-registered client `svc-1`: the same, as an OAuth client principal.

It also checks strictly that the resource metadata's `resource` is exactly
tollgate's resource URI (the SDK only checks that it is a prefix of the URL).

    .tools/venv/bin/python examples/oauth_client.py --tollgate target/release/tollgate [--tls-dir DIR]

It needs the `mcp` package and the standard library; it prints one line per
flow and exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REPO_ROOT = Path(__file__).resolve().parent.parent
SCOPES = "tollgate:read tollgate:operate tollgate:audit tollgate:admin"
MODERN = "2026-07-28"
REDIRECT_URI = "http://localhost:53682/callback"
TIMEOUT_S = 30.0


class CheckFailed(Exception):
    """A flow did not behave as expected."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose output is drained; `wait_for` returns the first match of a pattern."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, stream: str = "stderr") -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stream == "stderr" else subprocess.STDOUT,
            text=True,
            env=env,
        )
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        self.cond = threading.Condition()

        def drain() -> None:
            assert pipe is not None
            for line in pipe:
                with self.cond:
                    self.lines.append(line.rstrip("\n"))
                    self.cond.notify_all()

        threading.Thread(target=drain, daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if m := re.search(pattern, line):
                        return m
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise CheckFailed(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines))
                self.cond.wait(timeout=0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class HeadlessLogin:
    """The redirect and callback handlers: log in at the provider's development forms over HTTP."""

    def __init__(self, login: str) -> None:
        self.login = login
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(follow_redirects=False, timeout=TIMEOUT_S) as http:
            url = authorization_url
            for _ in range(12):
                if url.startswith(REDIRECT_URI):
                    query = parse_qs(urlparse(url).query)
                    if "code" not in query:
                        raise CheckFailed(f"the provider redirected without a code: {url}")
                    first = lambda k: query.get(k, [None])[0]  # noqa: E731
                    self.result = AuthorizationCodeResult(code=first("code"), state=first("state"), iss=first("iss"))
                    return
                response = await http.get(url)
                if response.status_code in (302, 303):
                    url = urljoin(url, response.headers["location"])
                    continue
                form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                if response.status_code != 200 or form is None:
                    raise CheckFailed(f"unexpected page at {url}: {response.status_code} {response.text[:300]}")
                action = urljoin(url, form.group(1))
                # Its hidden fields (`prompt`: login or consent), and a login and password for the login form.
                fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
                if 'name="login"' in response.text:
                    fields.update(login=self.login, password="any")
                posted = await http.post(action, data=fields)
                if posted.status_code not in (302, 303):
                    raise CheckFailed(f"posting {action} answered {posted.status_code}: {posted.text[:300]}")
                url = urljoin(action, posted.headers["location"])
            raise CheckFailed("the login did not end at the redirect URI")

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise CheckFailed("no authorization code was captured")
        return self.result


def rpc(method: str, params: dict[str, Any]) -> tuple[dict[str, str], str]:
    params = {**params, "_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "oauth-ci", "version": "1"},
    }}  # fmt: skip
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
    }
    if method == "tools/call":
        headers["mcp-name"] = params["name"]
    return headers, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


async def call_tool(http: httpx2.AsyncClient, url: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    headers, body = rpc("tools/call", {"name": name, "arguments": arguments})
    response = await http.post(url, headers=headers, content=body)
    reply = response.json()
    result = reply.get("result") or {}
    if response.status_code != 200 or result.get("isError"):
        raise CheckFailed(f"{name}: HTTP {response.status_code} {reply}")
    return result["structuredContent"]


def http_client(verify: Any, **kwargs: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(timeout=TIMEOUT_S, verify=verify, **kwargs)


async def strict_resource_check(url: str, verify: Any) -> None:
    """The 401's resource_metadata names a document whose `resource` is exactly this resource."""
    async with http_client(verify) as http:
        headers, body = rpc("tools/list", {})
        unauthorized = await http.post(url, headers=headers, content=body)
        challenge = unauthorized.headers.get("www-authenticate", "")
        m = re.search(r'resource_metadata="([^"]+)"', challenge)
        if unauthorized.status_code != 401 or m is None:
            raise CheckFailed(f"no OAuth challenge: {unauthorized.status_code} {challenge!r}")
        document = (await http.get(m.group(1))).json()
        if document.get("resource") != url:
            raise CheckFailed(f"resource metadata names {document.get('resource')!r}, not exactly {url!r}")


async def flow(label: str, url: str, provider: Any, verify: Any, code: str | None, want: dict[str, str]) -> str:
    """Redeem `code` (None: the subject is bound already), then list tools and check whoami."""
    async with asyncio.timeout(TIMEOUT_S):
        # The SDK's auth follows the 401, discovers, obtains a token, and the call is retried with it.
        redeemed = {"principal": "(bound before)"}
        if code is not None:
            async with http_client(verify, auth=provider) as http:
                redeemed = await call_tool(http, url, "identity.redeem", {"code": code})
        async with Client(streamable_http_client(url, http_client=http_client(verify, auth=provider))) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            if "whoami" not in names:
                raise CheckFailed(f"{label}: tools/list lacks whoami: {sorted(names)}")
            who = (await client.call_tool("whoami", {})).structured_content or {}
        got = {k: who.get(k) for k in want}
        if got != want:
            raise CheckFailed(f"{label}: whoami {who!r}, expected {want!r}")
        tokens = await provider.context.storage.get_tokens()
        alg = "?"
        if tokens is not None:
            header = tokens.access_token.split(".")[0]
            alg = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("alg", "?")
        return f"{label}: {alg} token, redeemed as {redeemed['principal']}, listed {len(names)} tools, whoami {got} OK"


async def run(binary: Path, tls_dir: Path | None) -> int:
    node = os.environ.get("NODE") or shutil.which("node") or "node"
    oidc_dir = Path(os.environ.get("OIDC_DIR", REPO_ROOT / ".tools" / "oidc"))
    ports = {"http": free_port(), "https": free_port()}
    resources = {"http": f"http://127.0.0.1:{ports['http']}/mcp", "https": f"https://127.0.0.1:{ports['https']}/mcp"}
    transports = ["http"] + (["https"] if tls_dir else [])
    env = {**os.environ, "OIDC_RESOURCE": " ".join(resources[t] for t in transports)}
    provider = Process([node, str(oidc_dir / "provider.mjs")], env=env, stream="stdout")
    servers: list[Process] = []
    data_dir = Path(tempfile.mkdtemp(prefix="tollgate-oauth-")) / "data"
    failures = 0
    try:
        issuer = provider.wait_for(r"oidc-provider listening on (\S+)").group(1)
        init = subprocess.run([str(binary), "init", "--json", "--data-dir", str(data_dir)], capture_output=True, text=True)
        if init.returncode != 0:
            raise CheckFailed(f"tollgate init: {init.stderr}")
        admin_key = json.loads(init.stdout)["api_key"]
        verify: dict[str, Any] = {"http": True, "https": True}
        for t in transports:
            extra = []
            if t == "https":
                assert tls_dir is not None
                extra = ["--tls-cert", str(tls_dir / "server.pem"), "--tls-key", str(tls_dir / "server.key")]
                import ssl

                verify[t] = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
            server = Process([
                str(binary), "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{ports[t]}",
                "--oauth-issuer", issuer, "--oauth-resource", resources[t], *extra,
            ])  # fmt: skip
            servers.append(server)
            server.wait_for(r"listening on ")
        # One tenant; its admin invites a user (operator) and a service (viewer) per transport.
        first = resources[transports[0]]
        async with http_client(verify[transports[0]], headers={"authorization": f"Bearer {admin_key}"}) as http:
            boot = await call_tool(http, first, "tenant.bootstrap", {"slug": "acme", "display_name": "Acme"})
        tenant, tenant_key = boot["tenant_id"], boot["api_key"]
        for t in transports:
            url = resources[t]
            await strict_resource_check(url, verify[t])
            async with http_client(verify[t], headers={"authorization": f"Bearer {tenant_key}"}) as http:
                user_code = (await call_tool(http, url, "identity.invite", {"role": "operator", "kind": "user"}))["code"]
                # The service is one subject: bound on the first transport, it stays bound on the next.
                svc_code = None
                if t == transports[0]:
                    svc_code = (await call_tool(http, url, "identity.invite", {"role": "viewer", "kind": "client"}))["code"]
            login = HeadlessLogin(f"alice-{t}")
            user = OAuthClientProvider(
                server_url=url,
                client_metadata=OAuthClientMetadata(
                    client_name="tollgate-ci",
                    redirect_uris=[REDIRECT_URI],
                    grant_types=["authorization_code", "refresh_token"],
                    response_types=["code"],
                    token_endpoint_auth_method="none",
                ),
                storage=MemoryStorage(),
                redirect_handler=login.redirect,
                callback_handler=login.callback,
            )
            service = ClientCredentialsOAuthProvider(
                server_url=url,
                storage=MemoryStorage(),
                client_id="svc-1",
                client_secret="svc-1-secret",
                scope=SCOPES,
                issuer=issuer,
            )
            for label, prov, code, want in [
                (f"{t}/user (auth code + PKCE + DCR)", user, user_code,
                 {"principal": f"oauth:default:user:alice-{t}", "tenant": tenant, "role": "operator"}),
                (f"{t}/service (client credentials)", service, svc_code,
                 {"principal": "oauth:default:client:svc-1", "tenant": tenant, "role": "viewer"}),
            ]:  # fmt: skip
                try:
                    print(await flow(label, url, prov, verify[t], code, want), flush=True)
                except Exception as e:  # noqa: BLE001 - report every flow
                    failures += 1
                    print(f"FAIL {label}: {type(e).__name__}: {e}", flush=True)
    except CheckFailed as e:
        print(f"FAIL {e}", flush=True)
        failures += 1
    finally:
        for s in servers:
            s.stop()
        provider.stop()
        if failures:
            for s in servers:
                print("--- tollgate serve ---\n" + "\n".join(s.lines[-30:]), file=sys.stderr)
            print("--- oidc-provider ---\n" + "\n".join(provider.lines[-30:]), file=sys.stderr)
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tollgate", type=Path, default=REPO_ROOT / "target" / "debug" / "tollgate")
    parser.add_argument("--tls-dir", type=Path, help="also run over HTTPS with ca.pem, server.pem, server.key here")
    args = parser.parse_args()
    binary = args.tollgate.resolve()
    if not binary.is_file():
        print(f"FAIL tollgate binary not found at {binary}", file=sys.stderr)
        return 2
    failures = asyncio.run(run(binary, args.tls_dir.resolve() if args.tls_dir else None))
    if failures:
        print(f"FAIL {failures} OAuth flow(s) failed", file=sys.stderr)
        return 1
    print("all OAuth flows OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
