#!/bin/sh
# tests/integration/vbsd_reload.sh: a reload applies a new vbs.conf to
# exactly the stages it concerns, and never kills a stage.  In a network
# namespace of its own, vbsd runs flowd, sockd, capd (on lo) and shipd
# (its server does not answer).
#
# First each stage in turn is restarted with vbsctl and, while its new
# process starts, vbsd is told to reload, by `vbsctl reload` or by
# SIGHUP, N times (5 by default).  Every stage must come back each time
# and none may die: a SIGHUP that reached a stage before it had set up
# its signals used to kill it ("killed by signal 1"), and vbsd counted a
# death.
#
# Then vbs.conf is changed under the running vbsd: a reload restarts the
# stages that read what changed and no other (a value written another
# way is no change), starts and stops the stages added to or taken from
# `stages`, and refuses, changing nothing, a file with an error or a
# change to what only a new vbsd applies.  Before reload.c, a reload
# only sent SIGHUP to the stages, which ignore it: nothing restarted.
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

# write_conf: vbs.conf, with FLOWD, SOCKD (extra lines), URL, STAGES
# and SOCK (the control socket) when set.
write_conf() {
	cat >"$t/vbs.conf.new" <<CONF
[vbsd]
runtime_dir = $t/run
data_dir = $t/data
control_socket = ${SOCK:-$t/run/vbsd.sock}
stages = ${STAGES:-flowd sockd capd shipd}
restart_min = 1s
restart_max = 2s
[capd]
interfaces = lo
chroot = $t/run/empty
[sockd]
${SOCKD:-}
[flowd]
outbox = $t/data/outbox
work_dir = $t/data/work
privacy = clear
${FLOWD:-}
[shipd]
# Nothing listens there: shipd retries.
server_url = ${URL:-https://127.0.0.1:9}
ca_file = $t/tls/ca.crt
credentials = $t/cred
CONF
	mv "$t/vbs.conf.new" "$t/vbs.conf"
}
write_conf
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

# pids: every stage's pid, in order.
pids() {
	echo "$(pid_of flowd) $(pid_of sockd) $(pid_of capd) $(pid_of shipd)"
}
# reload_is WHAT EXPECTED: vbsctl reload prints EXPECTED and exits 0.
reload_is() {
	_out=$($CTL reload 2>&1)
	equal "$1: vbsctl reload says what it did" "$_out" "$2"
}
# moved_only DESC BEFORE STAGE...: the named stages come back up as new
# processes and every other keeps its pid of BEFORE.
moved_only() {
	_d=$1 _before=$2
	shift 2
	for _s in flowd sockd capd shipd; do
		_old=$(echo "$_before" | awk -v i="$(stage_num_of $_s)" \
		    '{ print $i }')
		case " $* " in
		*" $_s "*)
			wait_for 15 new_up "$_s" "$_old"
			check "$_d: $_s restarted" new_up "$_s" "$_old" ;;
		*)
			equal "$_d: $_s untouched" "$(pid_of $_s)" "$_old" ;;
		esac
	done
}
stage_num_of() {
	case $1 in flowd) echo 1 ;; sockd) echo 2 ;; capd) echo 3 ;;
	shipd) echo 4 ;; esac
}

wait_for 20 all_up
p0=$(pids)
reload_is "same file" "no stage's settings changed"
FLOWD="batch_age = 300s" write_conf
reload_is "the default written another way" "no stage's settings changed"
moved_only "no change" "$p0"

FLOWD="batch_age = 2m" write_conf
reload_is "[flowd] batch_age" "restarted flowd"
moved_only "[flowd] batch_age" "$p0" flowd
check "vbsd logs what a reload did" \
    grep -q 'reload: restarted flowd' "$t/vbsd.log"

p0=$(pids)
URL=https://127.0.0.1:10 FLOWD="batch_age = 2m" write_conf
reload_is "[shipd] server_url" "restarted flowd, restarted capd, restarted shipd"
moved_only "[shipd] server_url" "$p0" flowd capd shipd

p0=$(pids)
URL=https://127.0.0.1:10 FLOWD="batch_age = 2m" SOCKD="cmdline = true" \
    write_conf
kill -HUP "$vbsd"
moved_only "SIGHUP after [sockd] cmdline" "$p0" sockd

# Refused: vbsd keeps the configuration it had, every stage its pid.
p0=$(pids)
cp "$t/vbs.conf" "$t/vbs.conf.good"
printf '[flowd]\nno_such_key = 1\n' >>"$t/vbs.conf"
out=$($CTL reload 2>&1)
rc=$?
equal "a file with an error: refused" "$rc" 1
case $out in
*"$t/vbs.conf"*no_such_key*) ok "the refusal names the file and key" ;;
*) not_ok "the refusal names the file and key"; diag "$out" ;;
esac
cp "$t/vbs.conf.good" "$t/vbs.conf"
SOCK=$t/run/other.sock URL=https://127.0.0.1:10 FLOWD="batch_age = 2m" \
    SOCKD="cmdline = true" write_conf
out=$($CTL reload 2>&1)
equal "[vbsd] control_socket: refused" "$?" 1
equal "the refusal says why" "$out" \
    "vbsctl: [vbsd] control_socket changed: only a new vbsd applies it"
moved_only "refused reloads" "$p0"

# stages: taken away and given back.
STAGES="flowd sockd capd" URL=https://127.0.0.1:10 FLOWD="batch_age = 2m" \
    SOCKD="cmdline = true" write_conf
reload_is "shipd taken from stages" "stopped shipd"
shipd_down() { [ "$(state_of shipd)" = down ]; }
shipd_up() { [ "$(state_of shipd)" = up ]; }
wait_for 10 shipd_down
equal "shipd is down" "$(state_of shipd)" down
check "shipd is shown disabled" sh -c "$CTL status | grep -q '^shipd  disabled'"
URL=https://127.0.0.1:10 FLOWD="batch_age = 2m" SOCKD="cmdline = true" \
    write_conf
reload_is "shipd given back" "started shipd"
wait_for 10 shipd_up
equal "shipd is up again" "$(state_of shipd)" up
for s in flowd sockd capd shipd; do
	equal "$s: no death tallied after the reloads" "$(restarts_of "$s")" 0
done

$CTL shutdown >/dev/null
wait_for 20 sh -c "! kill -0 $vbsd 2>/dev/null"
check "vbsd exits after shutdown" sh -c "! kill -0 $vbsd 2>/dev/null"
wait "$vbsd"
vbsd=""
