#!/bin/sh
# Summarises the skip records that tests wrote to MTP_SKIP_LOG during `make test` (see
# tap_skip_group in tests/testutil.c): one line per skipped group of checks, with its count and
# reason, e.g. "SKIPPED 40 checks: GramJS/mtcute interop (build/tests/test_interop_peers): …".
# Under CI=true an interop skip fails the run (exit 1) unless its reason is that the npm
# registry cannot be reached.
#   sh tests/skips.sh LOGFILE
log=${1:?usage: tests/skips.sh LOGFILE}
[ -s "$log" ] || { echo "skips: none"; exit 0; }
here=$(pwd)/
awk -F'\t' -v here="$here" -v ci="${CI:-}" '
    {
        prog = $2; if (index(prog, here) == 1) prog = substr(prog, length(here) + 1)
        name = $3; if (name == "") { name = prog; sub(/.*\//, "", name) }
        key = $1 "\t" name "\t" prog "\t" $5
        if (!(key in n)) order[++k] = key
        n[key] += $4
    }
    END {
        bad = 0
        for (i = 1; i <= k; i++) {
            split(order[i], f, "\t")
            printf "SKIPPED %d check%s: %s (%s): %s\n", n[order[i]], n[order[i]] == 1 ? "" : "s", f[2], f[3], f[4]
            if (f[1] == "interop" && ci == "true" && f[4] !~ /registry unreachable/) {
                printf "  ^ CI=true: an interop group may be skipped only when the npm registry cannot be reached\n"
                bad = 1
            }
        }
        exit bad
    }' "$log"
