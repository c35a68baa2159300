#!/bin/sh
# tests/integration/vbsd_reload.sh: a reload never kills a stage.  In a
# network namespace of its own, vbsd runs flowd, sockd, capd (on lo) and
# shipd (its server does not answer).  Each stage in turn is restarted
# with vbsctl and, while its new process starts, vbsd is told to reload,
# by `vbsctl reload` or by SIGHUP, N times (5 by default).  Every stage
# must come back each time and none may die: a SIGHUP that reached a
# stage before it had set up its signals used to kill it ("killed by
# signal 1"), and vbsd counted a death.
. "$(dirname "$0")/../lib.sh"
need_root "vbsd reload"
command -v ip >/dev/null 2>&1 || { skip "vbsd reload" "no ip"; exit 0; }
for b in vbsd vbsctl capd sockd flowd shipd; do
	[ -x "$BIN/$b" ] || { skip "vbsd reload" "$BIN/$b not built"; exit 0; }
done
ensure_users || { not_ok "vbsd reload: users"; exit 1; }
. "$TOP/tests/lib_tls.sh"
tls_available || { skip "vbsd reload" "no openssl"; exit 0; }

t=$(tmpdir)
chmod 755 "$t"
NS=vbs-vr$$
vbsd=""
cleanup() {
	[ -n "$vbsd" ] && kill "$vbsd" 2>/dev/null && sleep 2
	[ -n "$vbsd" ] && kill -9 "$vbsd" 2>/dev/null
	ns_delete "$NS"
	[ -n "$KEEP" ] && echo "# kept $t" || rm -rf "$t"
}
trap cleanup EXIT INT TERM
ip netns add "$NS" && ip -n "$NS" link set lo up ||
	{ not_ok "vbsd reload: namespace"; exit 1; }
tls_make "$t/tls" || { not_ok "vbsd reload: test CA"; exit 1; }
printf 'client_id = vbsdtest\nsecret = %s\n' \
    "$(head -c 32 /dev/urandom | base64 | tr -d '=+/')xxxxxxxxxxxx" >"$t/cred"
chown vbs "$t/cred" && chmod 600 "$t/cred"

cat >"$t/vbs.conf" <<CONF
[vbsd]
runtime_dir = $t/run
data_dir = $t/data
control_socket = $t/run/vbsd.sock
stages = flowd sockd capd shipd
restart_min = 1s
restart_max = 2s
[capd]
interfaces = lo
chroot = $t/run/empty
[flowd]
outbox = $t/data/outbox
work_dir = $t/data/work
privacy = clear
[shipd]
# Nothing listens there: shipd retries.
server_url = https://127.0.0.1:9
ca_file = $t/tls/ca.crt
credentials = $t/cred
CONF
CTL="$BIN/vbsctl -s $t/run/vbsd.sock"
. "$TOP/tests/integration/vbsd_status.inc"

ip netns exec "$NS" "$BIN/vbsd" -d -f "$t/vbs.conf" >"$t/vbsd.log" 2>&1 &
vbsd=$!

all_up() {
	for _s in flowd sockd capd shipd; do
		[ -n "$(pid_of $_s)" ] || return 1
	done
}
# new_up STAGE OLDPID: the stage is up as another process than OLDPID.
new_up() {
	_p=$(pid_of "$1")
	[ -n "$_p" ] && [ "$_p" != "$2" ]
}

wait_for 20 all_up || { not_ok "vbsd starts every stage"; cat "$t/vbsd.log"; exit 1; }
ok "vbsd starts every stage"

for s in flowd sockd capd shipd; do
	back=0
	for i in $(seq 1 "${N:-5}"); do
		old=$(pid_of "$s")
		$CTL restart "$s" >/dev/null
		# The new process starts as soon as the old one is reaped:
		# reload a few times over the next few ms to meet it starting.
		for j in 1 2 3 4 5; do
			if [ $(((i + j) % 2)) = 0 ]; then
				$CTL reload >/dev/null
			else
				kill -HUP "$vbsd"
			fi
		done
		wait_for 10 new_up "$s" "$old" && back=$((back + 1))
	done
	equal "$s: comes back after restart and reload, ${N:-5} times" \
	    "$back" "${N:-5}"
	equal "$s: no death tallied" "$(restarts_of "$s")" 0
done
hup=$(grep -c 'killed by signal 1 ' "$t/vbsd.log")
diag "stages killed by SIGHUP: $hup"
equal "no stage is killed by SIGHUP" "$hup" 0
check "every stage still up" all_up

$CTL shutdown >/dev/null
wait_for 20 sh -c "! kill -0 $vbsd 2>/dev/null"
check "vbsd exits after shutdown" sh -c "! kill -0 $vbsd 2>/dev/null"
wait "$vbsd"
vbsd=""
