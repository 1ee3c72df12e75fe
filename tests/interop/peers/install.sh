#!/usr/bin/env bash
# Installs the pinned third-party MTProto clients (GramJS `telegram` 2.26.22, `@mtcute/node`
# 0.30.3) into tests/interop/peers/node_modules.
#   bash tests/interop/peers/install.sh
# Prints `ok` and exits 0 when both load at their pinned versions; prints
# `unavailable: <reason>` and exits 3 when node/npm are missing or the packages cannot be
# installed (e.g. the registry is unreachable).
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

# Both clients load, at the pinned versions (@mtcute/node's native sqlite is not needed: the
# scripts use MemoryStorage, so `--ignore-scripts` leaves it unbuilt on purpose).
check() {
    node --input-type=module -e "
        import { readFileSync } from 'node:fs'
        import { createRequire } from 'node:module'
        const v = (n) => JSON.parse(readFileSync('node_modules/' + n + '/package.json', 'utf8')).version
        const want = { 'telegram': '2.26.22', '@mtcute/node': '0.30.3', '@mtcute/core': '0.30.3' }
        for (const [n, ver] of Object.entries(want)) if (v(n) !== ver) throw new Error(n + ' ' + v(n))
        const m = await import('@mtcute/node')
        if (typeof m.TelegramClient !== 'function' || typeof m.SessionConnection !== 'function') throw new Error('mtcute')
        const t = createRequire(import.meta.url)('telegram')
        if (typeof t.TelegramClient !== 'function') throw new Error('telegram')
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

check || unavailable "installed packages do not load (telegram 2.26.22 / @mtcute/node 0.30.3)"
echo ok
