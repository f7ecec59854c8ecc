#!/usr/bin/env bash
# CI entry point and the README's test command. Builds everything and runs every test in three
# build trees, as root on Debian 12:
#   build       -DNC_WERROR=ON: unit tests, the namespace integration tests, the lab matrix
#   build-asan  the same but the "long" lab runs, -DNC_SANITIZE=ON (ASan + UBSan): every program the tests start, in
#               namespaces too (ctest hands each test its tree as NC_BUILD), is instrumented;
#               any sanitizer report fails the run, even one from a daemon whose test passed
#   build-fuzz  a short smoke run of every libFuzzer target
# The trees' ctest runs go one after the other (unit/test_bouncer binds the coordination port on
# 127.0.0.1 in both), each NC_TEST_JOBS tests at a time: default 1. The namespace tests keep
# their namespaces and files apart, so NC_TEST_JOBS=2 works, but on a 2-core machine under
# other load the lab matrix (itself 4 cases at a time) then ran into its 900 s timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] && bash scripts/setup-deps.sh
jobs=$(nproc)
ctest_jobs=${NC_TEST_JOBS:-1}
t_all=$SECONDS
digests=()

stage() { # NAME START: how long a stage took, for the CI log
	echo "== $1: $((SECONDS - $2)) s"
}

t=$SECONDS
cmake -S . -B build -DNC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DNC_WERROR=ON -DNC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
stage "build and build-asan" "$t"

# Sanitizer reports go to files (one per process) instead of stderr, so that a report from a
# background daemon, whose stderr a test only reads for what it looks for, is never lost.
# halt_on_error (and -fno-sanitize-recover=all at build time): the first report ends the
# process; abort_on_error: with abort(), since a report on one thread of a process that then
# runs its exit path was seen to deadlock there (the test then waits for its timeout). The
# leak checker runs at every normal exit. No strict_string_checks: Debian's libminiupnpc parses the Content-Length value with atoi() in a
# header buffer that is not NUL-terminated (getHTTPResponse); the number ends at the line's
# CR, inside the buffer, but that option reports the whole rest of the buffer as read.
sanlogs=$PWD/build-asan/sanitizer-logs
rm -rf "$sanlogs"
mkdir -p "$sanlogs"
# NC_TIME_SCALE=2: the pair cases' time limits (3 RTT + 50 ms to a direct path, 1 s to the
# first ping) doubled for this tree, whose every packet and handshake runs through ASan and
# UBSan: its timings are not the product's. The plain tree holds the limits as written.
san_env=(
	"NC_TIME_SCALE=2"
	"ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$sanlogs/asan"
	"UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$sanlogs/ubsan"
)

# failure_digest TREE: for each test that failed in TREE's last ctest run, its last lines that
# name a failure. The CI log keeps only the head and the tail of the output: this puts the
# reasons in the tail.
failure_digest() {
	echo "== failures in $1:"
	awk '/^[0-9]+\/[0-9]+ Testing: / { name = $3; n = 0; next }
		/FAIL|[Ff]ailed|[Ee]rror|[Tt]imeout|not ok/ && !/^Test Failed/ { buf[n++ % 12] = $0 }
		/^Test Failed\./ { print "-- " name; for (i = (n > 12 ? n - 12 : 0); i < n; i++) print "   " buf[i % 12] }' \
		"$1/Testing/Temporary/LastTest.log"
}

t=$SECONDS
rc=0
ctest --test-dir build --output-on-failure -j"$ctest_jobs" || { rc=1; digests+=(build); }
stage "ctest build" "$t"
t=$SECONDS
# Without the tests labelled "long" (tests/CMakeLists.txt says which and why): they repeat the
# code paths test_vpn_pairs and the unit tests take under the sanitizers, for minutes.
env "${san_env[@]}" ctest --test-dir build-asan --output-on-failure -j"$ctest_jobs" -LE long || { rc=1; digests+=(build-asan); }
stage "ctest build-asan" "$t"
for tree in ${digests[@]+"${digests[@]}"}; do failure_digest "$tree"; done
if [ -n "$(ls -A "$sanlogs")" ]; then
	echo "FAIL: sanitizer reports (build-asan):"
	for f in "$sanlogs"/*; do
		echo "--- $f"
		cat "$f"
	done
	rc=1
fi
[ "$rc" -eq 0 ] || { echo "FAIL: tests failed (total $((SECONDS - t_all)) s)"; exit 1; }

# libFuzzer targets, built with clang into their own tree; ctest runs each on its seed corpus.
t=$SECONDS
cmake -S . -B build-fuzz -DNC_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure
stage "fuzz" "$t"
stage "scripts/test.sh in all" "$t_all"
