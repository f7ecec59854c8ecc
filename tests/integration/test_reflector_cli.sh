#!/usr/bin/env bash
# natcheck-reflector's start-up contract, without namespaces (no root needed):
#   - addresses that cannot be one end of a unicast exchange (wildcard, multicast, broadcast),
#     an alternate or partner equal to the primary or of another family, and coordination
#     ports equal to a STUN port or to each other are usage errors: exit 2 with a message
#     naming the option, before anything is opened;
#   - key files: a FIFO is refused at once (it used to block open() forever, with SIGTERM
#     already blocked), a key readable or writable by group/others is refused with the chmod
#     to run, a missing one is named; a private key passes and start-up goes on;
#   - positive controls: the same options with valid values get past parsing (they then fail
#     to bind 192.0.2.77, an address this host does not hold: exit 1, a bind message).
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_tool timeout mkfifo
reflector=$BUILD/reflector/natcheck-reflector
[ -x "$reflector" ] || { echo "FAIL: $reflector is not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
NOWHERE=192.0.2.77 # TEST-NET-1: bound by no interface here

# run WANT-STATUS WANT-TEXT ARGS...: the reflector must exit WANT-STATUS within 5 s and say
# WANT-TEXT (a fixed string) on stderr.
run() {
	local want=$1 text=$2 rc=0 name
	shift 2
	name="$* -> exit $want"
	timeout -s KILL 5 "$reflector" --no-drop "$@" >"$work/out" 2>"$work/err" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		check_fail "$name" "exit status $rc ($( [ "$rc" -eq 137 ] && echo 'killed after 5 s: it hung')); stderr: $(cat "$work/err")"
	elif ! grep -qF -- "$text" "$work/err"; then
		check_fail "$name" "no '$text' in: $(cat "$work/err")"
	else
		check_pass "$name"
	fi
}

echo "address roles"
for a in 0.0.0.0 0.1.2.3 224.0.0.1 239.255.255.250 255.255.255.255 240.0.0.1 :: ff02::1; do
	run 2 "--primary: '$a' is not a unicast address" --primary "$a"
done
run 2 "--alternate: '255.255.255.255' is not a unicast address" --primary 198.18.1.1 --alternate 255.255.255.255
run 2 "--alternate: '0.0.0.0' is not a unicast address" --primary 198.18.1.1 --alternate 0.0.0.0
run 2 "--alternate must be another address" --primary 198.18.1.1 --alternate 198.18.1.1
run 2 "--alternate must be another address" --primary 198.18.1.1 --alternate 2001:db8::1
run 2 "--partner: '224.1.1.1' is not a unicast address" --primary 198.18.1.1 --partner 224.1.1.1
run 2 "--partner must be another address" --primary 198.18.1.1 --partner 198.18.1.1
run 2 "--bouncer: '255.255.255.255' is not a unicast address" --primary 198.18.1.1 --bouncer 255.255.255.255
run 2 "--bouncer must be of the primary address's family" --primary 198.18.1.1 --bouncer 2001:db8::3
run 2 "not an IP address: 'example.org'" --primary example.org

echo "ports"
run 2 "--port and --alt-port must differ" --primary 198.18.1.1 --port 4000 --alt-port 4000
run 2 "--coord-port 3478 is also --port" --primary 198.18.1.1 --bouncer 198.18.1.3 --coord-port 3478
run 2 "--coord-port 3479 is also --alt-port" --primary 198.18.1.1 --coord-port 3479
run 2 "--coord-port 3480 is also --port" --primary 198.18.1.1 --bouncer 198.18.1.3 --port 3480
run 2 "--cb-port 3480 is also --coord-port" --primary 198.18.1.1 --bouncer 198.18.1.3 --cb-port 3480
run 2 "--cb-port 3478 is also --port" --primary 198.18.1.1 --bouncer 198.18.1.3 --cb-port 3478
run 2 "--coord-port: invalid value '3480.5'" --primary 198.18.1.1 --coord-port 3480.5
# Positive controls: without the coordination service its default ports are free to reuse;
# valid roles and ports pass parsing and fail only at the bind.
run 1 "cannot bind" --primary "$NOWHERE" --port 3480
run 1 "cannot bind" --primary "$NOWHERE" --alternate 192.0.2.78
run 1 "cannot bind" --primary "$NOWHERE" --coord-port 4480 --cb-port 4481

echo "key files"
mkfifo "$work/fifo"
run 1 "$work/fifo: not a regular file" --primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work/fifo"
run 1 "$work: not a regular file" --primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work"
head -c 32 /dev/urandom >"$work/key"
chmod 644 "$work/key"
run 1 "$work/key: readable or writable by group or others (mode 0644): run 'chmod 600 $work/key'" \
	--primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work/key"
chmod 620 "$work/key"
run 1 "run 'chmod 600 $work/key'" --primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work/key"
run 1 "$work/missing: No such file or directory" --primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work/missing"
chmod 600 "$work/key"
run 1 "cannot bind" --primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work/key"
if grep -q -- "--key" "$work/err"; then check_fail "a private key is accepted" "$(cat "$work/err")"; else check_pass "a private key is accepted"; fi
printf 'not a key\n' >"$work/key"
run 1 "expected 32 raw bytes or 64 hex digits" --primary "$NOWHERE" --bouncer "$NOWHERE" --key "$work/key"
checks_verdict
