# Fuzzing (tests/fuzz/README.md): the TCP framing the fuzzer drives lives in the library;
# replay_* run every corpus and regression input in `make check` with any compiler, and
# --enable-fuzzers (clang) also builds the libFuzzer targets fuzz_* (tests/fuzz/run.sh).

FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -DSRCDIR='"$(abs_top_srcdir)"'
FUZZ_UTIL = tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
# every target: a call to getrandom() fails (fuzz_util.c), so runs repeat exactly
FUZZ_LINK = $(AM_LDFLAGS) -Wl,--wrap=getrandom
# the registry target keeps the loader's fopen() and glob() inside a scratch folder
FUZZ_WRAP = -Wl,--wrap=fopen -Wl,--wrap=glob

check_PROGRAMS += tests/fuzz/replay_answer tests/fuzz/replay_registry tests/fuzz/replay_tcp
TESTS += tests/fuzz/replay_answer tests/fuzz/replay_registry tests/fuzz/replay_tcp

tests_fuzz_replay_answer_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_answer.c $(FUZZ_UTIL)
tests_fuzz_replay_answer_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET='"answer"'
tests_fuzz_replay_answer_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_replay_answer_LDADD = $(ANSWER_LIBS)

tests_fuzz_replay_registry_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_registry.c $(FUZZ_UTIL)
tests_fuzz_replay_registry_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET='"registry"'
tests_fuzz_replay_registry_LDFLAGS = $(FUZZ_LINK) $(FUZZ_WRAP)
tests_fuzz_replay_registry_LDADD = $(ANSWER_LIBS)

tests_fuzz_replay_tcp_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_tcp.c $(FUZZ_UTIL)
tests_fuzz_replay_tcp_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_TARGET='"tcp"'
tests_fuzz_replay_tcp_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_replay_tcp_LDADD = $(SRVD_LIBS)

if FUZZERS
noinst_PROGRAMS = tests/fuzz/fuzz_answer tests/fuzz/fuzz_registry tests/fuzz/fuzz_tcp
LIBFUZZER_LINK = $(FUZZ_LINK) -fsanitize=fuzzer
# the fuzz programs take AM_CPPFLAGS, without SRCDIR: run.sh passes their inputs, and
# the checkout's path must not reach them (run.sh says why)

tests_fuzz_fuzz_answer_SOURCES = tests/fuzz/fuzz_answer.c $(FUZZ_UTIL)
tests_fuzz_fuzz_answer_LDFLAGS = $(LIBFUZZER_LINK)
tests_fuzz_fuzz_answer_LDADD = $(ANSWER_LIBS)

tests_fuzz_fuzz_registry_SOURCES = tests/fuzz/fuzz_registry.c $(FUZZ_UTIL)
tests_fuzz_fuzz_registry_LDFLAGS = $(LIBFUZZER_LINK) $(FUZZ_WRAP)
tests_fuzz_fuzz_registry_LDADD = $(ANSWER_LIBS)

tests_fuzz_fuzz_tcp_SOURCES = tests/fuzz/fuzz_tcp.c $(FUZZ_UTIL)
tests_fuzz_fuzz_tcp_LDFLAGS = $(LIBFUZZER_LINK)
tests_fuzz_fuzz_tcp_LDADD = $(SRVD_LIBS)
endif

EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/README.md tests/fuzz/mkcorpus.py tests/fuzz/corpus tests/fuzz/regress

# By hand: `make fuzz-explore SECONDS=600` fuzzes each target with a fresh seed for
# SECONDS (add what it finds to tests/fuzz/regress/); `make fuzz-ci` is CI's fixed run.
# Both build with clang in FUZZ_BUILD (default: build-fuzz in the source tree, as CI).
SECONDS = 300
FUZZ_BUILD = $(abs_top_srcdir)/build-fuzz
fuzz-ci:
	$(abs_top_srcdir)/tests/fuzz/run.sh ci $(FUZZ_BUILD)
fuzz-explore:
	$(abs_top_srcdir)/tests/fuzz/run.sh explore $(SECONDS) $(FUZZ_BUILD)
.PHONY: fuzz-ci fuzz-explore
