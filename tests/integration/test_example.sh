#!/usr/bin/env bash
# The example program of docs/libnatcheck.md (docs/example.c): it compiles against
# natcheck/include alone, and in the lab (port-restricted NAT, natcheck-reflector) it prints a
# result JSON that nc_result_from_json accepts (read back through natcheck --reclassify) with
# the lab's verdicts, for both presets.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
EXAMPLE=$NC_BUILD/natcheck/nc_example
NATCHECK=$NC_BUILD/natcheck/natcheck
REFLECTOR=$NC_BUILD/reflector/natcheck-reflector
# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
need_root
for b in "$EXAMPLE" "$NATCHECK" "$REFLECTOR"; do
	[ -x "$b" ] || { echo "FAIL: not built: $b"; exit 1; }
done

# Compiles with the public include directory and nothing else (no lib/ path).
CC=${CC:-cc}
obj=$(mktemp --suffix=.o)
if "$CC" -std=c11 -Wall -Wextra -Werror -I "$NC_SRC/natcheck/include" -c \
	"$NC_SRC/docs/example.c" -o "$obj" 2>"$obj.err"; then
	check_pass "docs/example.c compiles with -I natcheck/include alone"
else
	check_fail "docs/example.c does not compile against natcheck/include alone" "$(cat "$obj.err")"
fi
rm -f "$obj" "$obj.err"

# The program printed in docs/libnatcheck.md is this one (from its first #include on).
if diff <(sed -n '/^#include <natcheck\/addr.h>/,$p' "$NC_SRC/docs/example.c") \
	<(awk '/^```c$/{n++} n==2' "$NC_SRC/docs/libnatcheck.md" | sed '1d' | sed '/^```$/,$d') \
	>/dev/null; then
	check_pass "docs/libnatcheck.md shows docs/example.c as it is"
else
	check_fail "docs/libnatcheck.md and docs/example.c differ"
fi

nslab_up "ncex$$"
nslab_nat 'oifname "wan" masquerade'
nslab_daemon refl inet "$REFLECTOR" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
nslab_wait_udp inet "$NSLAB_A2:3479" || exit 1

for preset in full fast; do
	args=("$NSLAB_A1")
	[ "$preset" = fast ] && args+=(--fast)
	nslab_exec client "$EXAMPLE" "${args[@]}" >"$NSLAB_DIR/$preset.json" 2>"$NSLAB_DIR/$preset.err"
	rc=$?
	check_equal "example ($preset): exit status" 0 "$rc"
	if "$NATCHECK" --reclassify "$NSLAB_DIR/$preset.json" --json >"$NSLAB_DIR/$preset.re" \
		2>"$NSLAB_DIR/$preset.val"; then
		check_pass "example ($preset): its JSON validates (nc_result_from_json)"
	else
		check_fail "example ($preset): its JSON does not validate" \
			"$(cat "$NSLAB_DIR/$preset.val"; head -c 600 "$NSLAB_DIR/$preset.json")"
	fi
	# Linux masquerade: endpoint-independent mapping, address-and-port-dependent filtering
	m=$(grep -m1 -o '"mapping": "[a-z-]*"' "$NSLAB_DIR/$preset.json")
	f=$(grep -m1 -o '"filtering": "[a-z-]*"' "$NSLAB_DIR/$preset.json")
	check_equal "example ($preset): mapping" '"mapping": "endpoint-independent"' "$m"
	check_equal "example ($preset): filtering" '"filtering": "address-and-port-dependent"' "$f"
	echo "     $(cat "$NSLAB_DIR/$preset.err")"
done
checks_verdict
