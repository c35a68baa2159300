#!/bin/sh
# tests/integration/vbsd_shutdown.sh: vbsd sleeps while a shutdown waits
# for a slow stage.  In a network namespace of its own, vbsd runs flowd
# and sockd.  sockd is stopped with SIGSTOP, as a stage that does not act
# on SIGTERM (shipd stuck on a silent server is the real case); flowd is
# killed and vbsd gets SIGTERM 0.1 s later, so flowd's restart falls due
# while vbsd waits stop_grace for sockd.  vbsd must not start flowd again,
# must report it down, and must use next to no CPU meanwhile: it used to
# poll with a zero timeout for the restart it would never make.
. "$(dirname "$0")/../lib.sh"
need_root "vbsd shutdown"
command -v ip >/dev/null 2>&1 || { skip "vbsd shutdown" "no ip"; exit 0; }
for b in vbsd vbsctl sockd flowd; do
	[ -x "$BIN/$b" ] || { skip "vbsd shutdown" "$BIN/$b not built"; exit 0; }
done
ensure_users || { not_ok "vbsd shutdown: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
NS=vbs-vs$$
vbsd="" sp=""
cleanup() {
	[ -n "$sp" ] && kill -CONT "$sp" 2>/dev/null
	[ -n "$vbsd" ] && kill "$vbsd" 2>/dev/null && sleep 1
	[ -n "$vbsd" ] && kill -9 "$vbsd" 2>/dev/null
	ns_delete "$NS"
	[ -n "$KEEP" ] && echo "# kept $t" || rm -rf "$t"
}
trap cleanup EXIT INT TERM
ip netns add "$NS" && ip -n "$NS" link set lo up ||
	{ not_ok "vbsd shutdown: namespace"; exit 1; }

cat >"$t/vbs.conf" <<CONF
[vbsd]
runtime_dir = $t/run
data_dir = $t/data
control_socket = $t/run/vbsd.sock
stages = flowd sockd
restart_min = 1s
restart_max = 2s
stop_grace = 4s
[capd]
chroot = $t/run/empty
[flowd]
outbox = $t/data/outbox
work_dir = $t/data/work
privacy = clear
CONF
CTL="$BIN/vbsctl -s $t/run/vbsd.sock"
. "$TOP/tests/integration/vbsd_status.inc"

ip netns exec "$NS" "$BIN/vbsd" -d -f "$t/vbs.conf" >"$t/vbsd.log" 2>&1 &
vbsd=$!

both_up() {
	[ "$(state_of flowd)" = up ] && [ "$(state_of sockd)" = up ]
}
# ticks: vbsd's user + system CPU time so far, in clock ticks.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$vbsd/stat"
}

wait_for 20 both_up || { not_ok "vbsd starts flowd and sockd"; cat "$t/vbsd.log"; exit 1; }
ok "vbsd starts flowd and sockd"
sp=$(stage_num sockd pid)
fp=$(stage_num flowd pid)

kill -STOP "$sp"
kill -9 "$fp"
sleep 0.1
kill -TERM "$vbsd"
# flowd's restart falls due 1 s after its death; sockd gets SIGKILL 4 s
# after the SIGTERM.  Measure in between, over 2 s.
sleep 1.4
t0=$(ticks)
sleep 2
t1=$(ticks)
diag "vbsd used $((t1 - t0)) CPU ticks in 2 s (CLK_TCK $(getconf CLK_TCK))"
# An idle vbsd uses 0; a spinning one about 100 a second.
check "vbsd sleeps while the shutdown waits for a stage" [ $((t1 - t0)) -le 10 ]
equal "a stage waiting to restart is down once the shutdown begins" \
    "$(state_of flowd)" down

wait_for 10 sh -c "! kill -0 $vbsd 2>/dev/null"
check "vbsd exits after sockd's stop_grace" sh -c "! kill -0 $vbsd 2>/dev/null"
wait "$vbsd"
rc=$?
vbsd="" sp=""
equal "vbsd exit status" "$rc" 0
equal "flowd is not started again during the shutdown" \
    "$(grep -c 'flowd: started' "$t/vbsd.log")" 1
check "sockd got SIGKILL after stop_grace" \
    grep -q 'sockd: no exit after SIGTERM, sending SIGKILL' "$t/vbsd.log"
