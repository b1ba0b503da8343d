"""Check tollgate against the official MCP Python SDK, used as a real client.

This script shows that the official `mcp` 2.x client can connect to tollgate
in both protocol eras over both transports, list its tools and call one:

* transport: stdio (the SDK starts `tollgate stdio` itself) and Streamable
  HTTP (the script starts `tollgate serve --listen 127.0.0.1:0` and reads the
  URL from its stderr);
* mode: the SDK default (`mode="auto"`: probes `server/discover` and quietly
  falls back to the legacy `initialize` handshake if the probe is rejected)
  and forced legacy (`mode="legacy"`: 2025 `initialize` handshake only).

For each of the four combinations it lists the tools (they must include
`whoami` and `server.info`), calls `whoami`, and checks that the server saw
the expected era (`modern` in default mode, `legacy` in legacy mode) and the
right transport. Then it answers a confirmation: it issues a spare platform
key and calls `key.revoke_all`, which asks "Revoke ...?" through elicitation;
the `confirm` callback below answers it. Under 2026-07-28 the question comes
as an `input_required` result that the SDK retries with the answer; under
2025 as an `elicitation/create` request on the open exchange. The tool must
have named the spare key in its question and revoked it. If default mode ends up legacy, it does NOT pass: it sends a
`server/discover` probe by hand and prints what tollgate answered and why the
SDK turned it down.

Run it from the repository root, after `cargo build`:

    .tools/venv/bin/python examples/python_client.py
    .tools/venv/bin/python examples/python_client.py --tollgate target/debug/tollgate

With `--tls-dir DIR` (holding `ca.pem`, `server.pem`, `server.key`,
`client.pem`, `client.key`, as `target/debug/test-pki DIR` writes them) it
also starts `tollgate serve` with TLS and `--client-ca`, and runs both modes
over `https` (the test CA trusted, bearer key) and `mtls` (also presenting
the client certificate): eight combinations in all.

It needs only the `mcp` package and the standard library. It prints one line
per combination, runs all of them, and exits non-zero if any of them failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import mcp.types as types
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types.version import LATEST_MODERN_VERSION, MODERN_PROTOCOL_VERSIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRED_TOOLS = {"whoami", "server.info"}
EXPECTED_ERA = {"default": "modern", "legacy": "legacy"}
SDK_MODE = {"default": "auto", "legacy": "legacy"}
COMBO_TIMEOUT_S = 10.0
# What whoami reports for each transport this script drives (mTLS is HTTPS on the wire).
WIRE_TRANSPORT = {"mtls": "https"}
STARTUP_TIMEOUT_S = 10.0


class CheckFailed(Exception):
    """One combination did not behave as expected."""


# --------------------------------------------------------------------------- HTTP server


class HttpServer:
    """`tollgate serve --listen 127.0.0.1:0`, with its URL read from stderr."""

    def __init__(self, binary: Path, extra: list[str] | None = None) -> None:
        self.binary = binary
        self.extra = extra or []
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.stderr_lines: list[str] = []

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--listen", "127.0.0.1:0", *self.extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:
            # Keep reading for the server's whole life so a full pipe never blocks it.
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr_lines.append(line.rstrip("\n"))
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CheckFailed(f"tollgate serve printed no 'listening on' line within {STARTUP_TIMEOUT_S}s")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise CheckFailed(
                    f"tollgate serve exited (code {self.proc.wait()}) before listening; stderr:\n"
                    + "\n".join(self.stderr_lines)
                )
            m = re.search(r"listening on (https?://\S+)", line)
            if m:
                self.url = m.group(1)
                return self.url

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


# --------------------------------------------------------------------------- checks


def _transport(transport: str, binary: Path, url: str, errlog: Any) -> Any:
    """A fresh SDK transport context manager for one connection."""
    if transport == "stdio":
        # tollgate stdio reads TOLLGATE_DATA_DIR and TOLLGATE_API_KEY (set by main()).
        params = StdioServerParameters(command=str(binary), args=["stdio"], env=dict(os.environ))
        return stdio_client(params, errlog=errlog)
    headers = {"Authorization": f"Bearer {os.environ['TOLLGATE_API_KEY']}"}
    if transport in ("https", "mtls"):
        return streamable_http_client(url, http_client=_tls_client(headers, mtls=transport == "mtls"))
    return streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))


TLS_DIR: Path | None = None


def _tls_client(headers: dict[str, str], mtls: bool) -> Any:
    """An SDK HTTP client that trusts only the test CA (and presents the client certificate for mTLS)."""
    import ssl

    import httpx2

    assert TLS_DIR is not None
    context = ssl.create_default_context(cafile=str(TLS_DIR / "ca.pem"))
    if mtls:
        context.load_cert_chain(str(TLS_DIR / "client.pem"), str(TLS_DIR / "client.key"))
    base = create_mcp_http_client(headers=headers)
    return httpx2.AsyncClient(headers=headers, timeout=base.timeout, verify=context)


async def diagnose_discover(transport: str, binary: Path, url: str, errlog: Any) -> str:
    """Send one `server/discover` by hand and explain why the SDK's auto mode would not take it."""
    lines = [f"manual probe: server/discover at {LATEST_MODERN_VERSION}"]
    try:
        async with asyncio.timeout(COMBO_TIMEOUT_S):
            async with _transport(transport, binary, url, errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    try:
                        raw = await session.send_discover(LATEST_MODERN_VERSION)
                    except MCPError as e:
                        lines.append(
                            f"  tollgate answered a JSON-RPC error: code={e.error.code} "
                            f"message={e.error.message!r} data={e.error.data!r}"
                        )
                        lines.append(
                            "  the SDK falls back to initialize on every error except -32022 whose "
                            "`supported` list has no handshake-era version (mcp/client/_probe.py)"
                        )
                        return "\n".join(lines)
                    lines.append(f"  tollgate answered result: {raw!r}")
                    try:
                        result = types.DiscoverResult.model_validate(raw)
                    except Exception as ve:  # pydantic.ValidationError
                        lines.append(f"  the SDK cannot parse it as DiscoverResult, so it falls back:\n{ve}")
                        return "\n".join(lines)
                    mutual = [v for v in MODERN_PROTOCOL_VERSIONS if v in result.supported_versions]
                    if not mutual:
                        lines.append(
                            f"  supportedVersions {result.supported_versions} shares no modern version with "
                            f"the SDK {list(MODERN_PROTOCOL_VERSIONS)}, so it falls back"
                        )
                    else:
                        lines.append("  the result parses and has a mutual modern version (fallback cause unknown)")
    except Exception as e:  # the diagnosis must never hide the original failure
        lines.append(f"  probe itself failed: {type(e).__name__}: {e}")
    return "\n".join(lines)


class Confirmer:
    """An elicitation callback that accepts every confirmation and remembers the questions."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(getattr(params, "message", ""))
        return types.ElicitResult(action="accept", content={"confirm": True})


async def confirm_revocation(client: Client, confirmer: Confirmer, label: str) -> None:
    """Issue a spare key, then revoke every other key, confirming through the callback."""
    issued = await client.call_tool("key.issue", {"role": "platform_admin", "label": f"spare {label}"})
    spare = (issued.structured_content or {}).get("key_id")
    if issued.is_error or not spare:
        raise CheckFailed(f"{label}: key.issue failed: {issued.content!r}")
    result = await client.call_tool("key.revoke_all", {})
    if result.is_error:
        raise CheckFailed(f"{label}: key.revoke_all returned isError: {result.content!r}")
    revoked = (result.structured_content or {}).get("revoked", [])
    if spare not in revoked:
        raise CheckFailed(f"{label}: key.revoke_all revoked {revoked!r}, not the spare key {spare}")
    if not any(spare in q for q in confirmer.questions):
        raise CheckFailed(f"{label}: no confirmation named {spare}; asked {confirmer.questions!r}")


async def check(transport: str, mode: str, binary: Path, url: str, errlog: Any) -> str:
    """Connect, list tools, call whoami and check it. Returns the summary line."""
    label = f"{transport}/{mode}"
    want_era = EXPECTED_ERA[mode]
    async with asyncio.timeout(COMBO_TIMEOUT_S):
        confirmer = Confirmer()
        client = Client(
            _transport(transport, binary, url, errlog),
            mode=SDK_MODE[mode],
            read_timeout_seconds=COMBO_TIMEOUT_S,
            elicitation_callback=confirmer,
        )
        async with client:
            negotiated = client.protocol_version
            sdk_era = "modern" if client.session.discover_result is not None else "legacy"
            if sdk_era != want_era:
                msg = f"{label}: the SDK connected {sdk_era} (negotiated {negotiated}), expected {want_era}"
                if mode == "default":
                    msg += "\n" + await diagnose_discover(transport, binary, url, errlog)
                raise CheckFailed(msg)

            listed = await client.list_tools()
            names = sorted(t.name for t in listed.tools)
            missing = REQUIRED_TOOLS - set(names)
            if missing:
                raise CheckFailed(f"{label}: tools/list lacks {sorted(missing)}; got {names}")

            result = await client.call_tool("whoami", {})
            if result.is_error:
                raise CheckFailed(f"{label}: whoami returned isError: {result.content!r}")
            who = result.structured_content
            if not isinstance(who, dict):
                raise CheckFailed(f"{label}: whoami has no structuredContent: {result!r}")

            problems = []
            if who.get("era") != want_era:
                problems.append(f"era={who.get('era')!r}, expected {want_era!r}")
            if who.get("transport") != WIRE_TRANSPORT.get(transport, transport):
                problems.append(f"transport={who.get('transport')!r}, expected {transport!r}")
            if who.get("protocol_version") != negotiated:
                problems.append(
                    f"protocol_version={who.get('protocol_version')!r}, but the SDK negotiated {negotiated!r}"
                )
            server = who.get("server") or {}
            info = client.server_info
            if info is not None and (server.get("name"), server.get("version")) != (info.name, info.version):
                problems.append(f"server={server!r}, but the SDK saw {info.name!r} {info.version!r}")
            if problems:
                raise CheckFailed(f"{label}: whoami {who!r}: " + "; ".join(problems))
            await confirm_revocation(client, confirmer, label)

    return (
        f"{label}: era={who['era']} protocol={who['protocol_version']} tools={len(names)} "
        f"confirmation answered ({len(confirmer.questions)} question) OK"
    )


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


async def run_all(binary: Path, url: str, errlog: Any, transports: tuple[str, ...] = ("stdio", "http")) -> int:
    failures = 0
    for transport in transports:
        for mode in ("default", "legacy"):
            label = f"{transport}/{mode}"
            try:
                print(await check(transport, mode, binary, url, errlog), flush=True)
            except Exception as exc:
                # The SDK's task groups wrap whatever is raised inside `async with client`
                # in (nested) exception groups: report the innermost errors.
                failures += 1
                for e in _leaves(exc):
                    if isinstance(e, CheckFailed):
                        print(f"FAIL {e}", flush=True)
                    elif isinstance(e, TimeoutError):
                        print(f"FAIL {label}: no answer within {COMBO_TIMEOUT_S}s", flush=True)
                    elif isinstance(e, MCPError):
                        print(
                            f"FAIL {label}: tollgate answered a JSON-RPC error: code={e.error.code} "
                            f"message={e.error.message!r} data={e.error.data!r}",
                            flush=True,
                        )
                    else:
                        print(f"FAIL {label}: {type(e).__name__}: {e}", flush=True)
                        traceback.print_exception(e)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tollgate",
        type=Path,
        default=REPO_ROOT / "target" / "debug" / "tollgate",
        help="path to the tollgate binary (default: target/debug/tollgate in the repo)",
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="also run over HTTPS and mTLS with the CA, server and client certificates in this directory",
    )
    args = parser.parse_args()
    global TLS_DIR
    TLS_DIR = args.tls_dir.resolve() if args.tls_dir else None
    binary = args.tollgate.resolve()
    if not binary.is_file():
        print(f"FAIL tollgate binary not found at {binary} (run `cargo build`)", file=sys.stderr)
        return 2

    # A fresh data dir and its platform-admin key; both servers use them through the environment.
    data_dir = Path(tempfile.mkdtemp(prefix="tollgate-pyclient-")) / "data"
    init = subprocess.run([str(binary), "init", "--json", "--data-dir", str(data_dir)], capture_output=True, text=True)
    if init.returncode != 0:
        print(f"FAIL tollgate init: {init.stderr.strip()}", file=sys.stderr)
        return 1
    os.environ["TOLLGATE_DATA_DIR"] = str(data_dir)
    os.environ["TOLLGATE_API_KEY"] = json.loads(init.stdout)["api_key"]

    server = HttpServer(binary)
    tls_server = None
    if TLS_DIR is not None:
        tls_server = HttpServer(
            binary,
            [
                "--tls-cert", str(TLS_DIR / "server.pem"),
                "--tls-key", str(TLS_DIR / "server.key"),
                "--client-ca", str(TLS_DIR / "ca.pem"),
            ],
        )  # fmt: skip
    total = 4 if tls_server is None else 8
    with tempfile.TemporaryFile("w+") as stdio_errlog:
        try:
            try:
                url = server.start()
                tls_url = tls_server.start() if tls_server is not None else ""
            except CheckFailed as e:
                print(f"FAIL {e}", file=sys.stderr)
                return 1
            failures = asyncio.run(run_all(binary, url, stdio_errlog))
            if tls_server is not None:
                failures += asyncio.run(run_all(binary, tls_url, stdio_errlog, ("https", "mtls")))
        finally:
            server.stop()
            if tls_server is not None:
                tls_server.stop()
        if failures:
            stdio_errlog.seek(0)
            stdio_err = stdio_errlog.read().strip()
            if stdio_err:
                print("--- stderr of `tollgate stdio` ---\n" + stdio_err, file=sys.stderr)
            if server.stderr_lines:
                print("--- stderr of `tollgate serve` ---\n" + "\n".join(server.stderr_lines), file=sys.stderr)
            if tls_server is not None and tls_server.stderr_lines:
                print("--- stderr of `tollgate serve` (TLS) ---\n" + "\n".join(tls_server.stderr_lines), file=sys.stderr)
            print(f"FAIL {failures} of {total} combinations failed", file=sys.stderr)
            return 1
    shutil.rmtree(data_dir.parent, ignore_errors=True)
    print(f"all {total} combinations OK")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
