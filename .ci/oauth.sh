#!/usr/bin/env bash
# OAuth 2.1 with a real authorization server and a real client (issue 17,
# Done-when 1): oidc-provider (installed by .ci/tools.sh under .tools/oidc)
# and the official Python mcp SDK's user flow (authorization code + PKCE +
# dynamic registration, its login driven headless over HTTP) and
# client-credentials flow against the release binary, over HTTP and over
# HTTPS with a throwaway test CA (no key material lives in the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=/dev/null
source .tools/env.sh
cargo build --quiet -p system-tests --bin test-pki
PKI="$(mktemp -d)"
trap 'rm -rf "$PKI"' EXIT
target/debug/test-pki "$PKI" >/dev/null
"$PY" examples/oauth_client.py --tollgate "${TOLLGATE_BIN:-target/release/tollgate}" --tls-dir "$PKI"
