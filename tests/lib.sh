# tests/lib.sh: helpers for the shell tests (golden, integration, bench).
# Sourced, not run.  TAP output: "ok - name", "not ok - name",
# "ok - name # SKIP why", diagnostics on lines starting with "#".

: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${O:=build/default}"
: "${BIN:=$TOP/$O/bin}"
case $BIN in /*) ;; *) BIN=$TOP/$BIN ;; esac

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
skip()   { echo "ok - $1 # SKIP $2"; }
diag()   { echo "$*" | sed 's/^/# /'; }

# check NAME CMD...: ok when CMD succeeds.
check() {
	_n=$1; shift
	if "$@"; then ok "$_n"; else not_ok "$_n"; fi
}

# equal NAME GOT WANT
equal() {
	if [ "$2" = "$3" ]; then ok "$1"
	else not_ok "$1"; diag "got:  $2"; diag "want: $3"; fi
}

# tmpdir: a scratch directory removed at exit.
tmpdir() {
	_t=$(mktemp -d "${TMPDIR:-/tmp}/vbs-test.XXXXXX")
	echo "$_t"
}

# need_root NAME: skip the rest when not root (CI runs as root).
need_root() {
	if [ "$(id -u)" != 0 ]; then skip "$1" "needs root"; exit 0; fi
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	_end=$(( $(date +%s) + $1 )); shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

# ensure_users: the system users the stages drop to (as `make install`
# makes them): vbs-capd, vbs-sockd, vbs (flowd, shipd), vbs-ingest.
ensure_users() {
	for _u in vbs-capd vbs-sockd vbs vbs-ingest; do
		id "$_u" >/dev/null 2>&1 && continue
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$_u" >/dev/null 2>&1 ||
		    { echo "# cannot create user $_u"; return 1; }
	done
}

# shared_pcaps: the directory of ../shared/pcaps, or "" when absent.
shared_pcaps() {
	if [ -n "${SHARED:-}" ] && [ -d "$SHARED/pcaps" ]; then
		echo "$SHARED/pcaps"
	fi
}

# ns_pair A B VA VB NET4 NET6: two network namespaces A and B joined by a
# veth pair VA (in A, host .1) and VB (in B, host .2), with NET4.1/24,
# NET4.2/24 and NET6::1/64, NET6::2/64 (no DAD), loopback up in both.
# NET4 is like 198.18.9, NET6 like fd00:9.  The caller deletes them.
ns_pair() {
	ip netns add "$1" && ip netns add "$2" &&
	ip link add "$3" netns "$1" type veth peer name "$4" netns "$2" &&
	ip -n "$1" addr add "$5.1/24" dev "$3" &&
	ip -n "$2" addr add "$5.2/24" dev "$4" &&
	ip -n "$1" addr add "$6::1/64" dev "$3" nodad &&
	ip -n "$2" addr add "$6::2/64" dev "$4" nodad &&
	ip -n "$1" link set "$3" up && ip -n "$2" link set "$4" up &&
	ip -n "$1" link set lo up && ip -n "$2" link set lo up
}

# ns_delete NS...: end every process in each namespace (SIGTERM, then
# SIGKILL), then delete the namespace.
ns_delete() {
	for _ns in "$@"; do
		for _p in $(ip netns pids "$_ns" 2>/dev/null); do
			kill "$_p" 2>/dev/null
		done
	done
	sleep 0.2
	for _ns in "$@"; do
		for _p in $(ip netns pids "$_ns" 2>/dev/null); do
			kill -9 "$_p" 2>/dev/null
		done
		ip netns del "$_ns" 2>/dev/null
	done
}

# seccomp_mark: the time of the kernel log's last line, for
# seccomp_audit; empty when the kernel log cannot be read.
seccomp_mark() {
	dmesg 2>/dev/null | tail -n 1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
}

# seccomp_audit MARK PID...: the kernel's seccomp audit lines
# (type=1326: a kill, or a violation VBS_SECCOMP_LOG=1 let through)
# logged after MARK for any of these pids.  Nothing when there are none.
seccomp_audit() {
	_mark=${1:-0}; shift
	dmesg 2>/dev/null | awk -v mark="$_mark" -v pids=" $* " '
	    /type=1326/ {
		s = $0; sub(/^\[ */, "", s)
		if (s + 0 <= mark + 0 || !match($0, / pid=[0-9]+ /))
			next
		p = substr($0, RSTART + 5, RLENGTH - 6)
		if (index(pids, " " p " "))
			print
	    }'
}
