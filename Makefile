# libmtproto — GNU make build.
#
#   make              library (build/lib), tools (build/bin)
#   make test         everything, then the test suite twice: plain and with ASan+UBSan,
#                     plus short fuzz runs (clang) and the npm interop tests
#   make demo         the CLI against an embedded harness
#   make bench        benchmarks (ratios against references measured in the same run)
#   make fuzz         libFuzzer targets (clang), build only; run with FUZZ_TIME=seconds
#   make install      PREFIX=/usr/local DESTDIR=
#
# Outputs: build/lib/libmtproto.{a,so} (the library: only the mtp_ API is exported, see
# libmtproto.map) and build/lib/libmtproto-harness.{a,so} (src/server, the test harness,
# linked against libmtproto). Tools, tests, benchmarks and fuzzers link the static archives.
#
# Variables: CC (gcc or clang), BUILD (output directory), SAN=1 (sanitizer build).

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
SAN     ?=
FUZZ_TIME ?= 8

ifeq ($(SAN),1)
OPT     ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
else
OPT     ?= -O2 -g
SANFLAGS =
endif

GEN      := $(BUILD)/gen
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers
CPPFLAGS := -Iinclude -I$(GEN)/include -I$(GEN) -Isrc -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
# hidden by default: the public headers mark their declarations visible (#pragma GCC
# visibility push(default)), and libmtproto.map keeps only mtp_* in the dynamic table
CFLAGS_ALL = -std=c11 $(WARN) $(OPT) $(SANFLAGS) -fPIC -fvisibility=hidden $(CFLAGS)
LIBS     := -lcrypto -lz -lpthread -lm
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

# ---- sources ----
# src/server is the harness, in its own library; every other src/<layer>/ is libmtproto
HARNESS_SRC := $(sort $(wildcard src/server/*.c src/server/*/*.c))
LIB_SRC   := $(filter-out $(HARNESS_SRC),$(sort $(wildcard src/*/*.c)))
GEN_SRC   := $(GEN)/tl_mtproto.c $(GEN)/tl_api228.c $(GEN)/tl_api227.c $(GEN)/tl_api198.c \
             $(GEN)/tl_layers.c
GEN_HDR   := $(GEN)/include/mtproto/tl_schema.h $(GEN)/include/mtproto/tl_mtproto.h
CODEGEN_SRC := $(sort $(wildcard codegen/*.c))
TOOL_NAMES := $(sort $(basename $(notdir $(wildcard tools/*.c))) $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c)))))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
# test support, linked as an archive so that a test takes only the parts it uses (the
# harness helpers pull in the server and the client)
TESTUTIL_SRC := tests/testutil.c tests/testharness.c
TESTUTIL_HDR := tests/testutil.h tests/testharness.h

LIB_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(GEN_SRC))
CODEGEN   := $(BUILD)/codegen/mtp-codegen
LIBA      := $(BUILD)/lib/libmtproto.a
LIBSO     := $(BUILD)/lib/libmtproto.so
HARNESS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(HARNESS_SRC))
HARNESSA  := $(BUILD)/lib/libmtproto-harness.a
HARNESSSO := $(BUILD)/lib/libmtproto-harness.so
# version of the headers, for the .so file names and the pkg-config files
VERSION   := $(shell sed -n 's/.*MTP_VERSION_STRING "\(.*\)"/\1/p' include/mtproto/common.h)
SOMAJOR   := 0
# static archives for programs: the harness first (it uses libmtproto)
LINKA     := $(HARNESSA) $(LIBA)
TOOLS     := $(addprefix $(BUILD)/bin/,$(TOOL_NAMES))
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
DEPS_OK   := $(BUILD)/.deps-ok

.PHONY: all lib tools tests test test-plain test-asan test-fuzz bench fuzz demo install clean gen check-deps
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

all: $(LIBA) $(LIBSO) $(HARNESSA) $(HARNESSSO) $(TOOLS)
lib: $(LIBA) $(LIBSO) $(HARNESSA) $(HARNESSSO)
tools: $(TOOLS)
tests: all $(TESTS)
gen: $(GEN)/.stamp

$(DEPS_OK): tools/deps.sh
	@CC="$(CC)" sh tools/deps.sh build
	@mkdir -p $(@D) && touch $@

# ---- code generator and generated code ----
$(CODEGEN): $(CODEGEN_SRC) $(wildcard codegen/*.h) src/tl/tl_crc.c src/tl/tl_crc.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O1 -g $(SANFLAGS) -Icodegen -D_DEFAULT_SOURCE -o $@ $(CODEGEN_SRC) $(LDFLAGS_ALL)

$(GEN)/.stamp: $(CODEGEN) tl/mtproto.tl tl/api.tl tl/api-227.tl tl/api-198.tl
	@mkdir -p $(GEN)/include/mtproto
	$(CODEGEN) --out $(GEN) --service tl/mtproto.tl --layer 228:tl/api.tl \
	    --layer 227:tl/api-227.tl --layer 198:tl/api-198.tl
	@touch $@

$(GEN_SRC) $(GEN_HDR): $(GEN)/.stamp ;

# ---- library ----
# generated headers are tracked by -MMD; the stamp only orders generation first
$(BUILD)/obj/%.o: %.c | $(GEN)/.stamp
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

# generated code (descriptor tables, typed codecs: all mtp_ names) keeps default
# visibility; libmtproto.map decides what of it the .so exports
$(BUILD)/obj/gen/%.o: CFLAGS_ALL += -fvisibility=default
$(BUILD)/obj/gen/%.o: $(GEN)/%.c | $(GEN)/.stamp
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# libmtproto.so.0.2.0 with soname libmtproto.so.0; libmtproto.so.0 and libmtproto.so link to it
$(LIBSO): $(LIB_OBJ) libmtproto.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmtproto.so.$(SOMAJOR) -Wl,--version-script=libmtproto.map \
	    $(LDFLAGS_ALL) -o $@.$(VERSION) $(LIB_OBJ) $(LIBS)
	ln -sf libmtproto.so.$(VERSION) $@.$(SOMAJOR)
	ln -sf libmtproto.so.$(VERSION) $@

# ---- the harness library (src/server) ----
$(HARNESSA): $(HARNESS_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# Linked against libmtproto.so for the API. An internal (hidden) helper of libmtproto that the
# harness calls is taken from libmtproto.a and stays local to the harness library (the version
# script); tests/test_abi checks that no exported libmtproto function is copied that way.
# --no-undefined: nothing is left to resolve at run time (not under sanitizers, whose runtime
# a shared object leaves to the program).
NOUNDEF := $(if $(findstring sanitize,$(SANFLAGS) $(CFLAGS) $(LDFLAGS)),,-Wl,--no-undefined)
$(HARNESSSO): $(HARNESS_OBJ) $(LIBSO) $(LIBA) libmtproto.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmtproto-harness.so.$(SOMAJOR) -Wl,--version-script=libmtproto.map \
	    $(NOUNDEF) $(LDFLAGS_ALL) -o $@.$(VERSION) $(HARNESS_OBJ) -L$(@D) -lmtproto $(LIBA) $(LIBS)
	ln -sf libmtproto-harness.so.$(VERSION) $@.$(SOMAJOR)
	ln -sf libmtproto-harness.so.$(VERSION) $@

# ---- tools ----
# (a static archive contributes only the objects a program uses: a tool that does not
# start a harness gets none of it)
$(BUILD)/bin/%: tools/%.c $(LINKA)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -o $@ $< $(LINKA) $(LDFLAGS_ALL) $(LIBS)

$(BUILD)/bin/%: tools/%/main.c $(wildcard tools/*/*.c) $(LINKA)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -o $@ $(wildcard tools/$*/*.c) $(LINKA) $(LDFLAGS_ALL) $(LIBS)

# ---- tests ----
TESTLIB := $(BUILD)/obj/libtestutil.a
TESTUTIL_OBJ := $(patsubst tests/%.c,$(BUILD)/obj/tests/%.o,$(TESTUTIL_SRC))

$(BUILD)/obj/tests/%.o: tests/%.c $(TESTUTIL_HDR) | $(GEN)/.stamp
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(TESTLIB): $(TESTUTIL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/%.c $(TESTLIB) $(LINKA) $(TESTUTIL_HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS_ALL) -o $@ $< $(TESTLIB) $(LINKA) $(LDFLAGS_ALL) $(LIBS)

# the ABI checker reads the shared libraries
$(BUILD)/tests/test_abi: $(LIBSO) $(HARNESSSO)

# the fuzz targets' seed corpora, replayed without libFuzzer (tests/test_fuzz_corpus.c)
FUZZ_REPLAY := $(patsubst fuzz/%.c,$(BUILD)/fuzz-replay/%,$(FUZZ_SRC))
$(BUILD)/fuzz-replay/%: fuzz/%.c tests/fuzz_replay_main.c $(LINKA)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS_ALL) -o $@ $< tests/fuzz_replay_main.c $(LINKA) $(LDFLAGS_ALL) $(LIBS)
$(BUILD)/tests/test_fuzz_corpus: $(FUZZ_REPLAY)

PROVE := prove -j2 -e '' --timer

test-plain: tests
	$(PROVE) $(TESTS)

test-asan:
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(PROVE) $(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(TESTS))

test-fuzz: fuzz
	@sh fuzz/run.sh $(BUILD)/fuzz $(FUZZ_TIME)

# every skipped group of checks is listed after prove's summaries (tests/skips.sh)
test: export MTP_SKIP_LOG := $(abspath $(BUILD))/skips.log
test:
	@CC="$(CC)" sh tools/deps.sh test
	@rm -f $(BUILD)/skips.log
	@sh tests/interop/setup.sh
	$(MAKE) --no-print-directory test-plain
	$(MAKE) --no-print-directory test-fuzz
	$(MAKE) --no-print-directory test-asan
	@sh tests/skips.sh $(BUILD)/skips.log

# ---- benchmarks ----
$(BUILD)/bench/%: bench/%.c $(TESTLIB) $(LINKA) $(TESTUTIL_HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS_ALL) -o $@ $< $(TESTLIB) $(LINKA) $(LDFLAGS_ALL) $(LIBS)

bench: all $(BENCHES)
	@sh tests/interop/setup.sh || true
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# ---- fuzzing (clang libFuzzer; a separate instrumented build of the library) ----
FUZZ_BUILD := $(BUILD)/fuzzbuild
fuzz:
	@CC=clang sh tools/deps.sh test
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" \
	    CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" $(FUZZ_BUILD)/lib/libmtproto.a \
	    $(FUZZ_BUILD)/lib/libmtproto-harness.a
	@mkdir -p $(BUILD)/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  if [ ! $(BUILD)/fuzz/$$n -nt $$f ] || [ ! $(BUILD)/fuzz/$$n -nt $(FUZZ_BUILD)/lib/libmtproto.a ] || \
	     [ ! $(BUILD)/fuzz/$$n -nt $(FUZZ_BUILD)/lib/libmtproto-harness.a ]; then \
	    echo "clang fuzz $$n"; \
	    clang $(subst $(GEN),$(FUZZ_BUILD)/gen,$(CPPFLAGS)) -std=c11 -g -O1 \
	      -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/$$n $$f \
	      $(FUZZ_BUILD)/lib/libmtproto-harness.a $(FUZZ_BUILD)/lib/libmtproto.a $(LIBS) || exit 1; fi; done

# ---- demo ----
demo: all
	@sh tools/demo.sh $(BUILD)

# ---- install ----
install: all
	install -d $(DESTDIR)$(PREFIX)/include/mtproto $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/mtproto/*.h $(GEN)/include/mtproto/*.h $(DESTDIR)$(PREFIX)/include/mtproto/
	install -m 644 $(LIBA) $(HARNESSA) $(DESTDIR)$(PREFIX)/lib/
	for l in libmtproto libmtproto-harness; do \
	  install -m 755 $(BUILD)/lib/$$l.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/ && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$$l.so.$(SOMAJOR) && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$$l.so && \
	  sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    $$l.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$l.pc || exit 1; done
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	@case "$(DESTDIR):$(PREFIX):$$(id -u)" in :/usr:0|:/usr/local:0) ldconfig;; esac

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(HARNESS_OBJ:.o=.d) $(TESTUTIL_OBJ:.o=.d)
