#!/usr/bin/env bash
# punchvpn's systemd units as CMake installs them: punchvpnd.service and the template
# punchvpn@.service (one `punchvpn up /etc/punchvpn/NAME.conf` per instance) land in
# PREFIX/lib/systemd/system with ExecStart at PREFIX/bin, and `systemd-analyze verify` accepts
# both (the template as an instance, punchvpn@pv0) without a word. A control proves verify
# would object: the same template with its binary missing fails.
# Exit 77 (skip) without systemd-analyze or cmake. Needs no root.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
# shellcheck source=../lib/checks.sh
. "$NC_SRC/tests/lib/checks.sh"
need_tool systemd-analyze cmake
W=$(mktemp -d /tmp/vpn-systemd.XXXXXX)
trap 'rm -rf "$W"' EXIT
P=$W/prefix
U=$P/lib/systemd/system

cmake --install "$NC_BUILD" --prefix "$P" >"$W/install.log" 2>&1
check_status "cmake --install into a fresh prefix" $? "$(tail -n 5 "$W/install.log")"
for unit in punchvpnd.service punchvpn@.service; do
	[ -f "$U/$unit" ]
	check_status "$unit installed in PREFIX/lib/systemd/system" $?
done
check_equal "punchvpn@: ExecStart at the installed punchvpn" \
	"ExecStart=$P/bin/punchvpn up /etc/punchvpn/%i.conf" "$(grep '^ExecStart=' "$U/punchvpn@.service")"
grep -q "^ExecStart=$P/bin/punchvpnd " "$U/punchvpnd.service"
check_status "punchvpnd: ExecStart at the installed punchvpnd" $? "$(grep '^ExecStart=' "$U/punchvpnd.service")"
[ -x "$P/bin/punchvpn" ] && [ -x "$P/bin/punchvpnd" ]
check_status "both programs installed beside them" $?

for unit in punchvpnd.service punchvpn@pv0.service; do
	out=$(systemd-analyze verify "$U/$unit" 2>&1)
	rc=$?
	check_equal "systemd-analyze verify $unit: exit 0" 0 "$rc"
	check_equal "systemd-analyze verify $unit: no warning" "" "$out"
done

# The control: without its program the template does not verify.
mkdir "$W/broken"
sed "s|^ExecStart=$P/bin/punchvpn |ExecStart=$W/missing/punchvpn |" "$U/punchvpn@.service" >"$W/broken/punchvpn@.service"
out=$(systemd-analyze verify "$W/broken/punchvpn@pv0.service" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q "missing/punchvpn" <<<"$out"
check_status "control: a template whose program is missing fails verify" $? "exit $rc: $out"
checks_verdict
