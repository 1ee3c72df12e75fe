#!/bin/sh
# Checks (and, as root, installs) what the build and the tests need, from Debian packages.
#   tools/deps.sh build   compiler, libssl-dev, zlib1g-dev, pkg-config
#   tools/deps.sh test    the above plus clang with its fuzzer runtime, nodejs and npm
# Not root and something missing: prints the exact apt-get command and exits 1.
set -u
what=${1:-build}
missing=""
need() { # need PACKAGE TEST-COMMAND...
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}
have_header() { # have_header HEADER
    printf '#include <%s>\nint main(void){return 0;}\n' "$1" |
        ${CC:-cc} -x c - -o /dev/null -c 2>/dev/null
}
need build-essential sh -c 'command -v ${CC:-cc} && command -v make'
need libssl-dev have_header openssl/evp.h
need zlib1g-dev have_header zlib.h
need pkg-config sh -c 'command -v pkg-config'
if [ "$what" = test ]; then
    need clang sh -c 'command -v clang'
    need libclang-rt-14-dev sh -c 'printf "int LLVMFuzzerTestOneInput(const unsigned char*d,unsigned long n){(void)d;(void)n;return 0;}\n" | clang -fsanitize=fuzzer,address -x c - -o /tmp/mtp-fuzz-probe.$$ && rm -f /tmp/mtp-fuzz-probe.$$'
    need nodejs sh -c 'command -v node'
    need npm sh -c 'command -v npm'
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing with apt-get:$missing" >&2
    for p in $missing; do
        case $p in
        build-essential) echo "deps:   build-essential: the C compiler and make" >&2 ;;
        libssl-dev) echo "deps:   libssl-dev: OpenSSL 3 headers (libcrypto)" >&2 ;;
        zlib1g-dev) echo "deps:   zlib1g-dev: zlib headers" >&2 ;;
        pkg-config) echo "deps:   pkg-config: finds the libraries" >&2 ;;
        clang) echo "deps:   clang: the second compiler and the fuzzers (large: a few minutes)" >&2 ;;
        libclang-rt-14-dev) echo "deps:   libclang-rt-14-dev: libFuzzer and sanitizer runtimes" >&2 ;;
        nodejs | npm) echo "deps:   $p: runs the GramJS / mtcute / TDLib interop tests" >&2 ;;
        esac
    done
    export DEBIAN_FRONTEND=noninteractive
    st=$(mktemp)
    # progress: a line every 50 packages fetched and set up (a fresh machine fetches ~670 for
    # clang and npm), and every apt error, so a long install shows that it is moving
    apt_install() {
        # shellcheck disable=SC2086
        { apt-get install -y -q $missing 2>&1; echo $? >"$st"; } | awk '
            /^Get:[0-9]+ / { if (++g % 50 == 1) { print "deps: fetching packages: " g " ..."; fflush() } }
            /^Setting up / { if (++u % 50 == 1) { print "deps: setting up packages: " u " ..."; fflush() } }
            /^E: / { print "deps: " $0; fflush() }
            END { if (g + u) print "deps: " g " packages fetched, " u " set up" }' >&2
        [ "$(cat "$st")" = 0 ]
    }
    if ! apt_install; then
        echo "deps: apt-get update (the package lists)" >&2
        apt-get update -q >/dev/null 2>&1
        apt_install || { rm -f "$st"; echo "deps: apt-get install$missing failed" >&2; exit 1; }
    fi
    rm -f "$st"
    echo "deps: installed:$missing" >&2
    exit 0
fi
echo "deps: missing Debian packages:$missing — run: sudo apt-get install -y$missing" >&2
exit 1
