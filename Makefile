# combstore - build, install and test.
#
#   make              build the plugin (release) -> target/release/libcombstore.so
#   make demo         build and run the demo backup sequence (c-harness/demo)
#   make test         all tests: fmt and clippy checks, Rust unit + ffi-tests + C harness scenarios,
#                     scale-out tests (Garage built once into ~/.cache/combstore)
#   make test-scaleout  only the scale-out tests (pools on Garage)
#   make lint         cargo fmt --check and clippy (all targets, warnings are errors)
#   make harness-valgrind   the C harness scenarios under valgrind memcheck
#   make harness-asan       the C harness built with AddressSanitizer (+ leak checks)
#   make torture      crash torture, 1,000 kill points; make crashpoints: crash-point injection
#   make fuzz-smoke   build the cargo-fuzz targets and run each 60 s (docs/reliability.md)
#   make bench        benchmark suite, quick set (< 8 min): table + bench/results/latest.json
#   make bench-full   the same with the larger sizes (1,000,000 images/objects, 4 GiB RSS test)
#   make bench-chunking  chunker, fingerprint and codec measurements (issue 15, docs/dedup-choices.md)
#   make install      install plugin, library, headers, pkg-config files, CLI, man
#                     pages and completions under $(DESTDIR) (after `make`; never builds)
#   make uninstall    remove exactly what `make install` put there
#   make deps         install the system packages the build needs (Debian)

PREFIX     ?= /usr/local
PLUGINDIR  ?= /usr/openv/lib/ost-plugins
INCLUDEDIR ?= $(PREFIX)/include/combstore
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
CARGO      ?= cargo
STRIP      ?= strip
PLUGIN     := target/release/libcombstore.so
CLI        := target/release/combstore
# The installed library: libhoneycomb.so.$(HC_VERSION), SONAME
# libhoneycomb.so.$(HC_SOVERSION) (set by build.rs; `make install` checks).
HC_SOVERSION := 1
HC_VERSION   := $(HC_SOVERSION).0.0
PC_VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

.PHONY: all build deps demo test test-rust harness harness-valgrind install install-check uninstall clean bench bench-full bench-peers

all: build

# Debian packages: libclang for bindgen (build.rs), a C compiler for the
# harness, pkg-config for the install tests, curl for the Garage smoke
# test (scripts/garage.sh), valgrind for harness-valgrind.
# Skipped when already present.
deps:
	@if ! dpkg -s libclang-dev >/dev/null 2>&1 || ! command -v cc >/dev/null || ! command -v pkg-config >/dev/null || ! command -v curl >/dev/null; then \
	  echo "installing build dependencies (libclang-dev, build-essential, pkg-config, curl)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libclang-dev build-essential pkg-config curl; \
	fi

build: deps
	$(CARGO) build --release --lib --bins

$(PLUGIN): build

demo: build
	$(MAKE) -C c-harness demo PLUGIN=$(abspath $(PLUGIN))

test-rust: deps
	$(CARGO) build --release --lib --bins
	$(CARGO) test --release
	# the engine's tests again, on the in-memory chunk store
	COMBSTORE_TEST_STORE=memory $(CARGO) test --release --lib engine::

harness: build
	$(MAKE) -C c-harness run PLUGIN=$(abspath $(PLUGIN)) COMBSTORE_BIN=$(abspath target/release/combstore)

# The harness under valgrind memcheck (about 3 minutes; not part of `make test`).
harness-valgrind: build
	@command -v valgrind >/dev/null || { echo "installing valgrind"; apt-get install -y -qq valgrind; }
	$(MAKE) -C c-harness valgrind PLUGIN=$(abspath $(PLUGIN)) COMBSTORE_BIN=$(abspath target/release/combstore)

# The harness's C code (replay, demo, hcarchive) built with -fsanitize=address;
# every scenario, failing on any ASan or LeakSanitizer report (about 2 minutes;
# not part of `make test`; docs/reliability.md, "Sanitizers").
.PHONY: harness-asan
harness-asan: build
	$(MAKE) -C c-harness asan PLUGIN=$(abspath $(PLUGIN)) COMBSTORE_BIN=$(abspath target/release/combstore)

# Fuzzing (docs/reliability.md, "Fuzzing"; not part of `make test`): builds
# the cargo-fuzz targets of fuzz/ and runs each for FUZZ_SECONDS on its
# corpus (fuzz/corpus/<target>, kept between runs), seeds and regression
# inputs. RUSTC_BOOTSTRAP=1 lets cargo-fuzz's nightly flags work on a
# stable toolchain. FUZZ_SANITIZER=address for ASan (about 5x slower).
FUZZ_SECONDS   ?= 60
FUZZ_SANITIZER ?= none
FUZZ_TARGETS   ?= api query damage
.PHONY: fuzz-smoke
fuzz-smoke: deps
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -s $(FUZZ_SANITIZER)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  extra=; [ -d fuzz/regressions/$$t ] && extra=fuzz/regressions/$$t; \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -s $(FUZZ_SANITIZER) $$t fuzz/corpus/$$t fuzz/seeds/$$t $$extra \
	    -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict || exit 1; \
	done

# Formatting and lints first: a red lint fails `make test` (and so CI) in
# seconds, before the long runs. rustfmt and clippy come with rustup's
# default profile; added if a minimal toolchain lacks them.
.PHONY: lint
lint: deps
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

test: lint test-rust harness test-scaleout

# Crash torture, long (docs/reliability.md, "Crash torture"): 1,000 kill
# points (`make test` runs 30). TORTURE_KILLS=n for more; a failed round
# prints COMBSTORE_TORTURE_SEED=<seed>, which reruns it alone.
# Scale-out (issue 16, in progress): Garage, the S3-compatible store
# pools keep chunk data in, built once into ~/.cache/combstore (about 12
# minutes the first time) and started on loopback (scripts/garage.sh):
# an S3 round trip with curl, a PostgreSQL cluster's round trip
# (scripts/postgres.sh), then the S3 pack store's tests and the engine's
# tests with every server a pool on it, pools of two hosts sharing one
# catalog in PostgreSQL; then the catalog's and the engine's tests with
# every catalog in PostgreSQL.
.PHONY: test-scaleout scaleout-tests catalog-pg-tests
test-scaleout: deps
	scripts/garage.sh smoke target/garage-smoke
	# the multi-host catalog's server: a throwaway cluster of Debian's
	# PostgreSQL, password auth, on loopback
	scripts/postgres.sh smoke target/pg-smoke
	scripts/garage.sh run target/garage scripts/postgres.sh run target/pg \
	  $(MAKE) --no-print-directory scaleout-tests catalog-pg-tests

# Every catalog the tests open in a PostgreSQL schema of its own
# (catalog::test_pg). Not run there, as they are SQLite's alone: upgrades
# from format 1 (a SQLite catalog built by hand), SQLite's synchronous
# pragma, its WAL checkpointer and its query plans (two tests).
catalog-pg-tests:
	COMBSTORE_TEST_CATALOG=postgres $(CARGO) test --release --lib -- catalog:: engine:: archive:: \
	  --skip engine::upgrade_tests:: \
	  --skip archive::query::tests_sqlite::an_equality_query_page_is_one_index_range \
	  --skip catalog::tests::a_lazy_commit_leaves_the_connection_committing_durably \
	  --skip catalog::checkpoint::tests::the_thread_checkpoints_what_commits_leave_in_the_wal \
	  --skip catalog::tests::a_listing_page_seeks_to_its_start_instead_of_scanning_from_the_first_name

scaleout-tests:
	$(CARGO) build --release --lib --bins
	$(CARGO) test --release --lib -- --ignored store::s3:: dedup_tests::s3_ catalog::backend::postgres::tests::tls_
	$(CARGO) test --release --test ffi -- --ignored pool:: --skip garage_down \
	  --skip postgresql_restarted --skip a_host_whose_catalog_session
	# each stops Garage or PostgreSQL, or ends every combstore session: alone
	for t in garage_down_fails_writes_and_reads_with_eio_loses_nothing_acknowledged_and_the_pool_goes_on \
	    postgresql_restarted_during_writes_fails_them_with_eio_loses_nothing_acknowledged_and_the_pool_goes_on \
	    a_host_whose_catalog_session_was_lost_and_recovered_by_another_commits_nothing_more \
	    a_host_whose_catalog_session_was_lost_and_whose_image_another_reopened_commits_nothing_more; do \
	  $(CARGO) test --release --test ffi -- --ignored --exact pool::$$t || exit 1; done
	COMBSTORE_TEST_STORE=s3 $(CARGO) test --release --lib engine::
	# the C harness's scenarios of pools shared by hosts (c-harness/scenarios-pool)
	$(MAKE) -C c-harness run PLUGIN=$(abspath $(PLUGIN)) COMBSTORE_BIN=$(abspath target/release/combstore) \
	  SCENARIOS="$(patsubst c-harness/%,%,$(sort $(wildcard c-harness/scenarios-pool/*.txt)))"

TORTURE_KILLS ?= 1000
.PHONY: torture crashpoints
torture: build
	COMBSTORE_TORTURE_KILLS=$(TORTURE_KILLS) $(CARGO) test --release --test ffi torture::crash_torture -- --nocapture

# Crash-point injection (docs/reliability.md; also part of `make test`):
# the plugin and combstore built with --features crash-points into
# target/crashpoints, crashed at every crash::point of src/ in turn.
crashpoints: build
	$(CARGO) build --release --lib --bins --features crash-points --target-dir target/crashpoints
	COMBSTORE_CRASHPOINTS_DIR=$(abspath target/crashpoints/release) $(CARGO) test --release --test ffi crashpoints:: -- --nocapture

# Benchmarks (issue 8, bench/suite.rs; never part of `make test`): the
# plugin through its C entry points vs write()+fsync, SHA-1, borg, restic.
# Both run under a Garage of their own on loopback (the pool section,
# issue 16; scripts/garage.sh builds it once into ~/.cache/combstore).
bench: build bench-peers
	scripts/garage.sh run target/garage-bench scripts/postgres.sh run target/pg-bench \
	  $(CARGO) bench --bench suite -- --quick

bench-full: build bench-peers
	scripts/garage.sh run target/garage-bench scripts/postgres.sh run target/pg-bench \
	  $(CARGO) bench --bench suite -- --full

# Issue 15's chunker, fingerprint and codec measurements (bench/chunking.rs,
# about a minute; not part of `make test` nor `make bench`): a table and
# bench/results/chunking.json; docs/dedup-choices.md has the figures.
.PHONY: bench-chunking
bench-chunking:
	$(CARGO) bench --bench chunking

# The peers the suite compares with; without them it skips their figures.
bench-peers:
	@if ! command -v borg >/dev/null || ! command -v restic >/dev/null; then \
	  echo "installing benchmark peers (borgbackup, restic)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq borgbackup restic; } \
	    || echo "cannot install borgbackup/restic: the benchmark skips them"; \
	fi

# `make install` installs what `make` built and never builds (so running it as
# root after a build runs neither cargo nor apt-get); it stops with a message
# when the build outputs are missing. Binaries are installed stripped.
#   $(PLUGINDIR)/libstspicombstore.so         the plugin (dlopen'ed by backup hosts)
#   $(LIBDIR)/libhoneycomb.so.$(HC_VERSION)      the same library, SONAME libhoneycomb.so.$(HC_SOVERSION),
#     libhoneycomb.so.$(HC_SOVERSION) -> it, libhoneycomb.so -> libhoneycomb.so.$(HC_SOVERSION) (-lhoneycomb)
#   $(INCLUDEDIR)/{stspi,stsi,stsplat,hc,hcclient,hchost}.h
#   $(PKGCONFIGDIR)/honeycomb.pc (hc_* API), combstore.pc (stsp_* API)
#   $(BINDIR)/combstore, $(MANDIR)/man1/combstore*.1 (one page per command),
#   bash, zsh and fish completions
install-check:
	@for f in $(PLUGIN) $(CLI); do \
	  [ -f $$f ] || { echo "make install: $$f is missing: run \`make' first (as your user), then \`make install'" >&2; exit 1; }; \
	done
	@soname=$$(readelf -d $(PLUGIN) | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p'); \
	[ "$$soname" = libhoneycomb.so.$(HC_SOVERSION) ] || { \
	  echo "make install: $(PLUGIN) has SONAME '$$soname', expected libhoneycomb.so.$(HC_SOVERSION): rebuild with \`make'" >&2; exit 1; }

install: install-check
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
	  $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(PLUGIN) $(DESTDIR)$(PLUGINDIR)/libstspicombstore.so
	$(STRIP) --strip-unneeded $(DESTDIR)$(PLUGINDIR)/libstspicombstore.so
	@# installs before issue 14 left a libhoneycomb.so link beside the plugin
	@if [ -L $(DESTDIR)$(PLUGINDIR)/libhoneycomb.so ]; then rm -f $(DESTDIR)$(PLUGINDIR)/libhoneycomb.so; fi
	install -m 0755 $(PLUGIN) $(DESTDIR)$(LIBDIR)/libhoneycomb.so.$(HC_VERSION)
	$(STRIP) --strip-unneeded $(DESTDIR)$(LIBDIR)/libhoneycomb.so.$(HC_VERSION)
	ln -sf libhoneycomb.so.$(HC_VERSION) $(DESTDIR)$(LIBDIR)/libhoneycomb.so.$(HC_SOVERSION)
	ln -sf libhoneycomb.so.$(HC_SOVERSION) $(DESTDIR)$(LIBDIR)/libhoneycomb.so
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/combstore
	$(STRIP) $(DESTDIR)$(BINDIR)/combstore
	install -m 0644 include/stspi.h include/stsi.h platforms/linux/stsplat.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 include/hc.h include/hcclient.h include/hchost.h $(DESTDIR)$(INCLUDEDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: honeycomb' 'Description: combstore 5800 (Honeycomb) archive client API (hc_*)' \
	  'Version: $(PC_VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lhoneycomb' \
	  > $(DESTDIR)$(PKGCONFIGDIR)/honeycomb.pc
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' 'plugindir=$(PLUGINDIR)' '' \
	  'Name: combstore' 'Description: combstore OpenStorage plugin API (stsp_*)' \
	  'Version: $(PC_VERSION)' 'Cflags: -I$${includedir} -DSTS_EXTERNAL_VENDOR' 'Libs: -L$${libdir} -lhoneycomb' \
	  > $(DESTDIR)$(PKGCONFIGDIR)/combstore.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/honeycomb.pc $(DESTDIR)$(PKGCONFIGDIR)/combstore.pc
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/combstore-man.XXXXXX") && \
	  $(CLI) man-pages $$tmp && install -m 0644 $$tmp/*.1 $(DESTDIR)$(MANDIR)/man1/ && \
	  echo "installed $$(ls $$tmp | wc -l) man pages into $(DESTDIR)$(MANDIR)/man1"; \
	  rc=$$?; rm -rf $$tmp; exit $$rc
	$(CLI) completions bash > $(DESTDIR)$(BASHCOMPDIR)/combstore
	$(CLI) completions zsh > $(DESTDIR)$(ZSHCOMPDIR)/_combstore
	$(CLI) completions fish > $(DESTDIR)$(FISHCOMPDIR)/combstore.fish
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/combstore $(DESTDIR)$(ZSHCOMPDIR)/_combstore $(DESTDIR)$(FISHCOMPDIR)/combstore.fish
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# Man pages are the combstore.1 and combstore-*.1 that install wrote (one per
# command); only $(INCLUDEDIR), combstore's own, is removed as a directory.
uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/libstspicombstore.so
	@if [ -L $(DESTDIR)$(PLUGINDIR)/libhoneycomb.so ]; then rm -f $(DESTDIR)$(PLUGINDIR)/libhoneycomb.so; fi
	rm -f $(DESTDIR)$(LIBDIR)/libhoneycomb.so.$(HC_VERSION) $(DESTDIR)$(LIBDIR)/libhoneycomb.so.$(HC_SOVERSION) \
	  $(DESTDIR)$(LIBDIR)/libhoneycomb.so
	rm -f $(DESTDIR)$(BINDIR)/combstore
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,stspi.h stsi.h stsplat.h hc.h hcclient.h hchost.h)
	-rmdir $(DESTDIR)$(INCLUDEDIR) 2>/dev/null
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/honeycomb.pc $(DESTDIR)$(PKGCONFIGDIR)/combstore.pc
	rm -f $(DESTDIR)$(MANDIR)/man1/combstore.1 $(DESTDIR)$(MANDIR)/man1/combstore-*.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/combstore $(DESTDIR)$(ZSHCOMPDIR)/_combstore $(DESTDIR)$(FISHCOMPDIR)/combstore.fish
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

clean:
	$(CARGO) clean
	-$(MAKE) -C c-harness clean
