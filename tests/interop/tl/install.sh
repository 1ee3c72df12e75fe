#!/usr/bin/env bash
# Installs the pinned mtcute packages (the TL oracle) into tests/interop/tl/node_modules.
#   bash tests/interop/tl/install.sh
# Prints `ok` and exits 0 when both pinned copies load; prints `unavailable: <reason>` and exits 3
# when node/npm are missing or the packages cannot be installed (e.g. the registry is unreachable).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 3

unavailable() {
    echo "unavailable: $*"
    exit 3
}

command -v node >/dev/null 2>&1 || unavailable "node not found"
command -v npm >/dev/null 2>&1 || unavailable "npm not found"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || unavailable "node does not run"
[ "${node_major:-0}" -ge 18 ] 2>/dev/null || unavailable "node $(node --version) is too old (need >= 18)"
[ -f package-lock.json ] || unavailable "package-lock.json missing"

lock_hash=$( (sha256sum package-lock.json 2>/dev/null || shasum -a 256 package-lock.json) | cut -d' ' -f1)
stamp=node_modules/.libmtproto-lock.sha256

check() {
    node --input-type=module -e "
        import { loadLayer } from './oracle.mjs'
        for (const l of [228, 227]) await loadLayer(l)
    " >/dev/null 2>&1
}

if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ] || ! check; then
    log=$(mktemp)
    if ! timeout 300 npm ci --ignore-scripts --no-audit --no-fund >"$log" 2>&1; then
        reason=$(grep -m1 -E 'ERR!|error' "$log" | sed 's/^npm *//' | cut -c1-200)
        rm -f "$log"
        if ! timeout 30 npm ping >/dev/null 2>&1; then
            unavailable "npm registry unreachable${reason:+ ($reason)}"
        fi
        unavailable "npm ci failed${reason:+: $reason}"
    fi
    rm -f "$log"
    echo "$lock_hash" >"$stamp"
fi

check || unavailable "installed packages do not load (@mtcute/core 0.31.0 / mtcute-core-227 0.30.3)"
echo ok
