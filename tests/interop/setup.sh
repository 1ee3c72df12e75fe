#!/bin/sh
# Installs the pinned npm packages the interop tests use (never fails the build):
# each tests/interop/*/install.sh prints "ok" or "unavailable: <reason>"; the result goes to
# build/interop/<name>.status, which the C tests read to run or to skip loudly.
mkdir -p build/interop
for s in tests/interop/*/install.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$(dirname "$s")")
    out=$(bash "$s" 2>build/interop/"$name".log | tail -n 1)
    [ -n "$out" ] || out="unavailable: $s printed nothing (see build/interop/$name.log)"
    echo "$out" > build/interop/"$name".status
    echo "interop $name: $out"
done
exit 0
