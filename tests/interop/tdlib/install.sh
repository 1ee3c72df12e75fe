#!/usr/bin/env bash
# Installs the pinned prebuilt TDLib (npm @prebuilt-tdlib/linux-x64-glibc 0.1008067.0, which is
# TDLib 1.8.67's libtdjson.so) into tests/interop/tdlib/node_modules.
#   bash tests/interop/tdlib/install.sh
# Prints `ok` and exits 0 when libtdjson.so is there at the pinned version; prints
# `unavailable: <reason>` and exits 3 otherwise (no npm, not x86-64 glibc Linux, the registry
# cannot be reached).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 3

unavailable() {
    echo "unavailable: $*"
    exit 3
}

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || unavailable "prebuilt TDLib is for x86-64 Linux only ($(uname -sm))"
command -v npm >/dev/null 2>&1 || unavailable "npm not found"
[ -f package-lock.json ] || unavailable "package-lock.json missing"

lock_hash=$( (sha256sum package-lock.json 2>/dev/null || shasum -a 256 package-lock.json) | cut -d' ' -f1)
stamp=node_modules/.libmtproto-lock.sha256
pkg=node_modules/@prebuilt-tdlib/linux-x64-glibc

check() {
    [ -s "$pkg/libtdjson.so" ] &&
        grep -q '"version": "0.1008067.0"' "$pkg/package.json" &&
        grep -q '"version": "1.8.67"' "$pkg/package.json"
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

check || unavailable "installed package is not @prebuilt-tdlib/linux-x64-glibc 0.1008067.0 (TDLib 1.8.67)"
echo ok
