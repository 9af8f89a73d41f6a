#!/bin/sh
# run.sh - build the fuzz targets with clang (libFuzzer + ASan + UBSan),
# fuzz each for a while, fold what was found into tests/fuzz/corpus and
# keep anything that crashed under tests/fuzz/crashers.
#
# Usage: tests/fuzz/run.sh [-t SECONDS] [-b] [TARGET...]
#   TARGET	message, rules, triage (default: all three, one after another;
#		start two run.sh at once to use two cores)
#   -t SECONDS	fuzzing time per target (default 600)
#   -b		build only
# Environment:
#   CLANG	the compiler (default clang)
#   FUZZ_BUILD	objects, binaries, work corpora and artifacts
#		(default ${TMPDIR:-/tmp}/triage-fuzz)
#   FUZZ_SEEDS	extra seed directories for message and triage, read at fuzz
#		time only, never copied into the tree (default: the MIME
#		test messages in ../shared/eval, when present)
#   FUZZ_ARGS	more libFuzzer options
#   top_builddir	where configure wrote config-auto.h (default: the tree)
#
# Libraries are the engine's sources compiled here (everything in milter/
# but main.c and milter.c), so they are instrumented for coverage.  Fuzzing
# runs in fork mode and goes on past a crash, timeout or leak until the
# time is up; each artifact is copied to tests/fuzz/crashers/TARGET/.  At
# the end `-merge=1` minimizes the committed corpus plus the new inputs
# (one input per covered edge) into tests/fuzz/corpus/TARGET.  Inputs
# grown from FUZZ_SEEDS are mostly those messages with a few bytes
# changed, so only new inputs that seed-free.py finds free of seed text
# are merged: the eval data is read at fuzz time, never committed.  The
# merged corpus is then replayed once in one process to list the UBSan
# reports that do not abort.
# Word splitting of $cflags, $libs, $seeds and $FUZZ_ARGS is meant.
# shellcheck disable=SC2086,SC2089,SC2090,SC2012
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${CLANG:=clang}" "${FUZZ_BUILD:=${TMPDIR:-/tmp}/triage-fuzz}"
: "${FUZZ_ARGS:=}"
if [ -z "${FUZZ_SEEDS+x}" ]; then
	FUZZ_SEEDS=
	[ -d "$top/../shared/eval/mime_test_messages" ] &&
		FUZZ_SEEDS=$(cd "$top/../shared/eval/mime_test_messages" && pwd)
fi
secs=600 build_only=0
while getopts t:b opt; do
	case $opt in
	t) secs=$OPTARG ;;
	b) build_only=1 ;;
	*) sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- message rules triage

# The \" in cflags are meant: they make the -D values C strings.  Paths
# with blanks are not supported.
pkgs="gmime-3.0 libxml-2.0 libpcre2-8 libconfuse libcurl libmicrohttpd hiredis openssl lmdb libpsl"
cflags="-g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -I$top/milter \
 -I${top_builddir:-$top} \
 -DTRIAGE_CONF=\"$top/conf/triage-milter.conf\" \
 -DTRIAGE_DATADIR=\"$top\" \
 -DTRIAGE_RULESDIR=\"$top/rules\" \
 -DTRIAGE_TEMPLATESDIR=\"$top/conf/templates\" \
 -DFUZZ_SRCDIR=\"$top\" \
 $(pkg-config --cflags $pkgs 2>/dev/null || pkg-config --cflags gmime-3.0 libxml-2.0)"
libs="$(pkg-config --libs $pkgs 2>/dev/null ||
	echo "$(pkg-config --libs gmime-3.0) -lconfuse -lssl -lcrypto -lxml2 \
 -lpcre2-8 -llmdb -lcurl -lmicrohttpd -lhiredis -lpsl") -lm -pthread"
# UBSan aborts (so libFuzzer keeps the input), except pointer-overflow:
# NULL + 0 in normalize.c is hit by most texts and would stop every run
# (crashers/message/ubsan-*); those are printed and listed at the end.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined \
 -fsanitize-recover=pointer-overflow"

# build_lib - the engine's objects, rebuilt when a source is newer
build_lib() {
	mkdir -p "$FUZZ_BUILD/lib"
	for src in "$top"/milter/*.c; do
		name=$(basename "$src" .c)
		case $name in main | milter) continue ;; esac
		obj="$FUZZ_BUILD/lib/$name.o"
		if [ ! -f "$obj" ] || [ -n "$(find "$top/milter" -newer "$obj" \
			-name '*.[ch]' | head -n 1)" ]; then
			echo "run.sh: cc $src"
			# shellcheck disable=SC2086
			$CLANG $cflags $san -fsanitize=fuzzer-no-link \
				-c "$src" -o "$obj"
		fi
	done
}

# build_target - link fuzz-$1 against the objects
build_target() {
	echo "run.sh: link $FUZZ_BUILD/fuzz-$1"
	# shellcheck disable=SC2086
	$CLANG $cflags $san -fsanitize=fuzzer -o "$FUZZ_BUILD/fuzz-$1" \
		"$here/fuzz-$1.c" "$FUZZ_BUILD"/lib/*.o $libs
}

# fuzz - run target $1 for $secs seconds, then merge and keep artifacts
fuzz() {
	t=$1 bin=$FUZZ_BUILD/fuzz-$1
	work=$FUZZ_BUILD/work-$t art=$FUZZ_BUILD/artifacts-$t/
	keep=$here/corpus/$t crash=$here/crashers/$t
	mkdir -p "$work" "$art" "$keep"
	case $t in
	# inputs stay small enough to keep the committed corpus small and
	# the runs fast; message goes longer, for GMime's buffering
	rules) maxlen=8192 seeds= ;;
	triage) maxlen=16384 seeds=$FUZZ_SEEDS ;;
	*) maxlen=65536 seeds=$FUZZ_SEEDS ;;
	esac
	echo "run.sh: fuzz $t for ${secs}s, seeds: $keep $seeds"
	# shellcheck disable=SC2086
	# rule and config files go to a private dir under TMPDIR: use RAM
	[ -w /dev/shm ] && export TMPDIR=/dev/shm
	G_SLICE=always-malloc "$bin" -fork=1 -ignore_crashes=1 \
		-ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
		-dict="$here/headers.dict" -artifact_prefix="$art" \
		-print_final_stats=1 $FUZZ_ARGS "$work" "$keep" $seeds \
		2>"$FUZZ_BUILD/fuzz-$t.log" || true
	grep -E '^#[0-9]+: cov:|^#[0-9]+.*DONE|stat::' \
		"$FUZZ_BUILD/fuzz-$t.log" | tail -n 3
	n=0
	for a in "$art"crash-* "$art"timeout-* "$art"leak-* "$art"oom-* \
		"$art"slow-unit-*; do
		[ -f "$a" ] || continue
		mkdir -p "$crash"
		cp "$a" "$crash/"
		n=$((n + 1))
	done
	echo "run.sh: $t: $n artifacts (copied to $crash)"
	echo "run.sh: merge $t into $keep"
	rm -rf "$FUZZ_BUILD/merged-$t" "$FUZZ_BUILD/new-$t"
	mkdir -p "$FUZZ_BUILD/merged-$t" "$FUZZ_BUILD/new-$t"
	# only inputs that carry no seed text may be committed
	if [ -z "$seeds" ]; then
		cp "$work"/* "$FUZZ_BUILD/new-$t/" 2>/dev/null || true
	elif command -v python3 >/dev/null; then
		python3 "$here/seed-free.py" "$(echo $seeds | tr ' ' :)" \
			"$work" | while read -r f; do
			cp "$f" "$FUZZ_BUILD/new-$t/"
		done
	else
		echo "run.sh: no python3 to tell seed text apart:" \
			"new inputs of $t are not kept"
	fi
	echo "run.sh: $t: $(ls "$FUZZ_BUILD/new-$t" | wc -l) of" \
		"$(ls "$work" | wc -l) new inputs are free of seed text"
	# edges only (-use_counters=0): counting hit buckets too kept five
	# times as many files for the same edges
	G_SLICE=always-malloc "$bin" -merge=1 -use_counters=0 -timeout=10 \
		-rss_limit_mb=2048 "$FUZZ_BUILD/merged-$t" "$keep" \
		"$FUZZ_BUILD/new-$t" \
		>"$FUZZ_BUILD/merge-$t.log" 2>&1 || {
		echo "run.sh: merge failed, see $FUZZ_BUILD/merge-$t.log"
		return 1
	}
	rm -f "$keep"/*
	cp "$FUZZ_BUILD/merged-$t"/* "$keep/" 2>/dev/null || true
	echo "run.sh: $t: $(ls "$keep" | wc -l) corpus files," \
		"$(cat "$keep"/* | wc -c) bytes; log $FUZZ_BUILD/fuzz-$t.log"
	# fork mode drops the children's output: replay the corpus in one
	# process to list the recoverable UBSan reports (pointer-overflow)
	G_SLICE=always-malloc "$bin" -runs=0 "$keep" \
		>"$FUZZ_BUILD/replay-$t.log" 2>&1 || true
	grep -o '[^ ]*: runtime error: .*' "$FUZZ_BUILD/replay-$t.log" |
		sort | uniq -c | sed 's/^/run.sh: UBSan: /' || true
}

build_lib
for t; do
	[ -f "$here/fuzz-$t.c" ] || { echo "run.sh: no target $t" >&2; exit 2; }
	build_target "$t"
done
[ "$build_only" = 1 ] && exit 0
for t; do
	fuzz "$t"
done
