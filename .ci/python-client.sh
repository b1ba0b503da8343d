#!/usr/bin/env bash
# The official Python mcp SDK against the release binary: stdio and HTTP, and
# HTTPS and mTLS with a throwaway test CA (written by the test-pki helper of
# system-tests; no key material lives in the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --quiet -p system-tests --bin test-pki
PKI="$(mktemp -d)"
trap 'rm -rf "$PKI"' EXIT
target/debug/test-pki "$PKI" >/dev/null
.tools/venv/bin/python examples/python_client.py --tollgate target/release/tollgate --tls-dir "$PKI"
