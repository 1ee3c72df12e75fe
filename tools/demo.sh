#!/bin/sh
# make demo: the CLI against a local harness. Usage: sh tools/demo.sh [BUILD_DIR]
set -eu
BUILD=${1:-build}
BIN=$BUILD/bin
HARNESS=$BIN/mtproto-harness
CLI=$BIN/mtproto-cli
for b in "$HARNESS" "$CLI"; do
    [ -x "$b" ] || { echo "demo: $b missing (run make first)" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mtproto-demo.XXXXXX")
HPID=
cleanup() {
    if [ -n "$HPID" ]; then kill -TERM "$HPID" 2>/dev/null || true; wait "$HPID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
step() { printf '\n== %s\n' "$*"; }

step "starting the harness (3 DCs, fresh RSA key)"
"$HARNESS" --dcs 3 --pubkey-out "$TMP/pub.pem" > "$TMP/ready" 2> "$TMP/harness.err" &
HPID=$!
i=0
while ! grep -q '"event":"ready"' "$TMP/ready" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 300 ] || { echo "demo: harness did not start" >&2; cat "$TMP/harness.err" >&2; exit 1; }
    sleep 0.1
done
READY=$(head -n 1 "$TMP/ready")
echo "$READY"
PORT1=$(printf '%s\n' "$READY" | sed 's/.*"id":1,"host":"[^"]*","port":\([0-9]*\).*/\1/')
cli() { "$CLI" --server "127.0.0.1:$PORT1" --dc 1 --rsa-key "$TMP/pub.pem" \
        --session "$TMP/demo.session" --api-id 1 --api-hash demo "$@"; }

PHONE=9996621234
step "login --phone $PHONE (lives on DC 2; we start at DC 1: PHONE_MIGRATE_2)"
cli login --phone "$PHONE" --code 22222
step "me"
cli me
step "send + history"
cli send me "hello from the demo"
cli send me "second message"
cli history me --limit 5
step "upload a 64 MiB file, then download it"
head -c 67108864 /dev/urandom > "$TMP/big.bin"
cli --json upload me "$TMP/big.bin" | tee "$TMP/up.json"
MID=$(cli history me --limit 1 | cut -f1)
cli --json download me "$MID" -o "$TMP/big.out" | tee "$TMP/down.json"
S1=$(sha256sum < "$TMP/big.bin" | cut -d' ' -f1)
S2=$(sha256sum < "$TMP/big.out" | cut -d' ' -f1)
if [ "$S1" = "$S2" ]; then echo "checksum OK ($S1)"; else echo "CHECKSUM MISMATCH" >&2; exit 1; fi
UP=$(sed 's/.*"mib_per_s":\([0-9.]*\).*/\1/' "$TMP/up.json")
DOWN=$(sed 's/.*"mib_per_s":\([0-9.]*\).*/\1/' "$TMP/down.json")
step "raw call help.getConfig"
cli call help.getConfig | cut -c1-300
echo "..."
step "stopping the harness"
kill -TERM "$HPID"; wait "$HPID" 2>/dev/null || true; HPID=
echo
echo "demo OK: login with migration to DC 2, me, send/history, 64 MiB upload ${UP} MiB/s + download ${DOWN} MiB/s (sha256 equal), help.getConfig"
