#!/usr/bin/env bash
# The lab's whole matrix: every profile in sim/profiles must measure as it expects, with
# natcheck, and (when Debian's stun-client and stun-server are installed) with the Vovida
# RFC 3489 client as a second opinion on the same profiles. About a minute with -j 4.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_root
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rc=0
bash "$SRC/sim/run.sh" -j 4 --out "$out/natcheck" || rc=$?
[ "$rc" -eq 77 ] && exit 77
if command -v stun >/dev/null && command -v stund >/dev/null; then
	bash "$SRC/sim/run.sh" -j 4 --measure vovida --out "$out/vovida" || rc=1
fi
exit "$rc"
