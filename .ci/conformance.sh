#!/usr/bin/env bash
# Runs both MCP conformance suites against the built tollgate binary:
#   0.1.16 (2025 protocol) over HTTP and over stdio (bridged by supergateway),
#   0.2.0-alpha.12 (2026-07-28 requirement set) over HTTP.
# Each run is checked against its baseline in .ci/conformance/*.yml (expected failures,
# with the reason for each); prints every suite's summary. Needs .ci/tools.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TOLLGATE_BIN:-$ROOT/target/release/tollgate}"
source "$ROOT/.tools/env.sh"
OUT="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT

# free_port: asks the kernel for an unused loopback port.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL: until the server answers /healthz (at most 20 s).
wait_http() { for _ in $(seq 200); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server at $1 did not start" >&2; return 1; }

# suite NAME CLI BASELINE URL [EXTRA...]: runs one suite, prints its summary, returns its status.
suite() {
  local name="$1" cli="$2" baseline="$3" url="$4"; shift 4
  echo "=== conformance: $name ==="
  local status=0
  timeout 1200 "$NODE" "$cli" server --url "$url" --expected-failures "$baseline" "$@" >"$OUT/$name.log" 2>&1 || status=$?
  sed 's/\x1b\[[0-9;]*m//g' "$OUT/$name.log" | sed -n '/=== SUMMARY ===/,$p'
  echo "=== conformance: $name: $([ $status -eq 0 ] && echo PASS || echo "FAIL (exit $status)") ==="
  return $status
}

# One data dir per server process (conformance mode acts as the local admin without a key).
"$BIN" init --data-dir "$OUT/http-data" --json >/dev/null
"$BIN" init --data-dir "$OUT/stdio-data" --json >/dev/null

P1=$(free_port)
"$BIN" serve --conformance --data-dir "$OUT/http-data" --listen "127.0.0.1:$P1" 2>"$OUT/serve.log" & PIDS+=($!)
wait_http "http://127.0.0.1:$P1/healthz"

P2=$(free_port)
"$NODE" "$SUPERGATEWAY" --stdio "$BIN stdio --conformance --data-dir $OUT/stdio-data" --outputTransport streamableHttp --stateful \
  --port "$P2" --logLevel none --healthEndpoint /healthz >"$OUT/supergateway.log" 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$P2/healthz"

rc=0
suite legacy-http "$CONF_LEGACY" "$ROOT/.ci/conformance/legacy-http.yml" "http://127.0.0.1:$P1/mcp" || rc=1
suite legacy-stdio "$CONF_LEGACY" "$ROOT/.ci/conformance/legacy-stdio.yml" "http://127.0.0.1:$P2/mcp" || rc=1
suite modern-http "$CONF_MODERN" "$ROOT/.ci/conformance/modern-http.yml" "http://127.0.0.1:$P1/mcp" --requirements 2026-07-28 || rc=1

echo "=== audit chains after the suites ==="
kill -TERM "${PIDS[0]}" 2>/dev/null && wait "${PIDS[0]}" 2>/dev/null || true
"$BIN" audit verify --data-dir "$OUT/http-data" || rc=1
exit $rc
