#!/bin/sh
# tests/integration/shipd_upload.sh: batches go from shipd's outbox to
# MySQL exactly once, over real TLS on loopback (a test CA made here),
# through `ingestd serve` (receiver and loaders) and a private MariaDB.
#   1. 100 batches of a flowd replay: all in MySQL once, outbox empty.
#   2. The server stopped for a while in the middle, then started:
#      nothing lost, nothing twice, nothing deleted while it was away.
#   3. The whole server killed with SIGKILL mid-upload 20 times: same.
#   4. shipd runs as vbs, no capabilities, no_new_privs, seccomp.
#   5. A server that answers one PUT twice: the spare answer is not
#      taken for the next PUT's, so no batch is deleted on a 503.
#   6. A server that never answers: a second SIGTERM ends the wait.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "shipd upload"
mariadb_available || { skip "shipd upload" "no mariadbd"; exit 0; }
tls_available || { skip "shipd upload" "no openssl"; exit 0; }
[ -x "$BIN/shipd" ] || { not_ok "shipd built"; exit 1; }
ensure_users || { not_ok "users"; exit 1; }
fx_setup "rate_per_client = 0"
fx_serve_start

# loaded CID: batches of the client in MySQL; packets CID likewise.
loaded() { q "SELECT COUNT(*) FROM batches b JOIN clients c USING (client_id) WHERE c.client_name = '$1'"; }
distinct() { q "SELECT COUNT(DISTINCT batch_name) FROM batches b JOIN clients c USING (client_id) WHERE c.client_name = '$1'"; }
packets() { q "SELECT COUNT(*) FROM packets p JOIN clients c USING (client_id) WHERE c.client_name = '$1'"; }
want_packets() {
	_s=0
	for _f in "$1"/*.sqlite; do
		_s=$((_s + $(sqlite3 "$_f" 'SELECT COUNT(*) FROM packets')))
	done
	echo $_s
}
# done_when OUTBOX CID N: the outbox is empty and MySQL has N batches.
done_when() { [ "$(outbox_count "$1")" = 0 ] && [ "$(loaded "$2")" = "$3" ]; }

# -- 1. a replay: recordings of the shared captures through flowd
fx_enroll rep || { not_ok "enrol"; exit 1; }
ok "vbsctl enroll stores the credentials"
equal "credentials are 0600, vbs's" \
    "$(stat -c '%a %U' "$T/rep.cred")" "600 vbs"
src=$T/replay
mkdir -p "$src" "$T/rec"
P=$(shared_pcaps)
if [ -n "$P" ] && [ -x "$BIN/capd" ] && [ -x "$BIN/flowd" ]; then
	for p in "$P"/*.pcap "$P"/*.pcapng; do
		[ -f "$p" ] || continue
		"$BIN/capd" -r "$p" -w "$T/rec/${p##*/}.rec" >/dev/null 2>&1
	done
	printf '[flowd]\nbatch_size = 16k\n' >"$T/flowd.conf"
	echo 00112233445566778899aabbccddeeff >"$T/privacy.key"
	# Several replays (each its own ids) until there are 100 batches.
	for pol in clear truncate prefix hash; do
		set -- $(ls -S "$T"/rec/*.rec)
		while [ $# -gt 0 ] && [ "$(outbox_count "$src")" -lt 100 ]; do
			args=; i=0
			while [ $# -gt 0 ] && [ $i -lt 6 ]; do
				[ -s "$1" ] && args="$args -r $1"
				shift; i=$((i + 1))
			done
			"$BIN/flowd" -f "$T/flowd.conf" -P "$pol" \
			    -K "$T/privacy.key" $args \
			    -o "$T/run" >/dev/null 2>&1
			mv "$T"/run/*.sqlite "$src/" 2>/dev/null
			rm -rf "$T/run"
		done
	done
fi
n=$(outbox_count "$src")
if [ "$n" -ge 100 ]; then
	ls "$src" | grep 'sqlite$' | sort | tail -n +101 | sed "s|^|$src/|" |
	    xargs rm -f
	diag "100 batches from flowd replays of the shared captures"
else
	diag "flowd replays gave $n batches: using generated batches"
	rm -rf "$src"
	fx_batches "$src" "$CID_rep" 100 3000 60000 1 || { not_ok "batches"; exit 1; }
fi
wantp=$(want_packets "$src")
OB=$T/outbox-rep
mkdir -p "$OB"
publish "$src"/*.sqlite "$OB"
start=$(date +%s)
fx_shipd_start rep "$OB"
wait_for 120 done_when "$OB" "$CID_rep" 100
equal "100 batches of a replay: outbox empty" "$(outbox_count "$OB")" 0
equal "100 batches in MySQL" "$(loaded "$CID_rep")" 100
equal "each once" "$(distinct "$CID_rep")" 100
equal "every packet row once" "$(packets "$CID_rep")" "$wantp"
diag "100 batches uploaded and loaded in $(( $(date +%s) - start )) s"

# -- 4. the running shipd's privileges
st=/proc/$SHIPD_PID/status
equal "shipd runs as vbs" "$(awk '/^Uid:/ { print $2 }' "$st")" "$(id -u vbs)"
equal "shipd has no capabilities" "$(awk '/^CapEff:/ { print $2 }' "$st")" \
    0000000000000000
equal "shipd has no_new_privs" "$(awk '/^NoNewPrivs:/ { print $2 }' "$st")" 1
equal "shipd is in seccomp filter mode" \
    "$(awk '/^Seccomp:/ { print $2 }' "$st")" 2
fx_shipd_stop

# -- 2. the server away for a while, in the middle
fx_enroll stop || { not_ok "enrol"; exit 1; }
fx_batches "$T/b-stop" "$CID_stop" 80 1600 40000 2 || { not_ok "batches"; exit 1; }
wantp=$(want_packets "$T/b-stop")
OB=$T/outbox-stop
mkdir -p "$OB"
set -- "$T"/b-stop/*.sqlite
publish $(echo "$@" | tr ' ' '\n' | head -40) "$OB"
fx_shipd_start stop "$OB"
wait_for 60 done_when "$OB" "$CID_stop" 40
fx_serve_stop
# flowd goes on writing while the server is away
publish $(echo "$@" | tr ' ' '\n' | tail -40) "$OB"
sleep 6
equal "server away: nothing deleted from the outbox" \
    "$(outbox_count "$OB")" 40
grep -c 'retry in' "$T/shipd-stop.log" >/dev/null &&
    ok "server away: shipd backs off and retries" ||
    not_ok "server away: shipd backs off and retries"
fx_serve_start
wait_for 90 done_when "$OB" "$CID_stop" 80
equal "server back: outbox empty" "$(outbox_count "$OB")" 0
equal "server back: 80 batches once" "$(distinct "$CID_stop"):$(loaded "$CID_stop")" 80:80
equal "server back: every packet row once" "$(packets "$CID_stop")" "$wantp"
fx_shipd_stop

# -- 3. kill -9 of the whole server mid-upload, 20 times
fx_enroll kill || { not_ok "enrol"; exit 1; }
fx_batches "$T/b-kill" "$CID_kill" 100 10000 2000000 3 ||
    { not_ok "batches"; exit 1; }
wantp=$(want_packets "$T/b-kill")
diag "kill test: 100 batches, $(du -sk "$T/b-kill" | cut -f1) kB"
OB=$T/outbox-kill
mkdir -p "$OB"
publish "$T"/b-kill/*.sqlite "$OB"
# killmid.py LOG CMD...: start `ingestd serve` in its own process group
# and SIGKILL the whole group as soon as an upload's temporary file
# appears in the spool (polled every 2 ms); prints "mid" when one did,
# "late" when none came within 10 s.
cat >"$T/killmid.py" <<'EOF'
import os, signal, subprocess, sys, time
tmp, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
seen = set(os.listdir(tmp)) if os.path.isdir(tmp) else set()
p = subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT,
                     start_new_session=True)
end = time.time() + 10
mid = "late"
while time.time() < end:
    try:
        names = os.listdir(tmp)
    except OSError:
        names = []
    if any(f.endswith(".part") and f not in seen for f in names):
        mid = "mid"
        break
    time.sleep(0.002)
os.killpg(p.pid, signal.SIGKILL)
p.wait()
print(mid)
EOF
fx_serve_stop
fx_shipd_start kill "$OB"
kills=0 midway=0
while [ $kills -lt 20 ] && [ "$(outbox_count "$OB")" -gt 0 ]; do
	r=$(python3 "$T/killmid.py" "$T/spool/tmp" "$T/serve.log" \
	    $ING -f "$CONF" -d -v -w 2 serve)
	kills=$((kills + 1))
	[ "$r" = mid ] && midway=$((midway + 1))
done
diag "$kills kills of ingestd serve, $midway with an upload's file open"
check "killed 20 times mid-upload" test $kills -eq 20 -a $midway -ge 18
fx_serve_start
wait_for 120 done_when "$OB" "$CID_kill" 100
equal "after the kills: outbox empty" "$(outbox_count "$OB")" 0
equal "after the kills: 100 batches once" "$(distinct "$CID_kill"):$(loaded "$CID_kill")" 100:100
equal "after the kills: every packet row once" "$(packets "$CID_kill")" "$wantp"
spool_left() { ls "$T/spool/incoming" "$T/spool/claim" | grep -v -e '^/' -e '^$' | grep -c .; }
spool_empty() { [ "$(spool_left)" = 0 ]; }
wait_for 20 spool_empty
equal "nothing left waiting in the spool" "$(spool_left)" 0
fx_shipd_stop

# -- 5., 6.: a Python server on loopback that does one thing wrong, in
# place of ingestd (shipd_odd.inc).
. "$TOP/tests/integration/shipd_odd.inc"
odd_cred
URL_SERVE=$URL

# -- 5. two answers to one PUT, then 503 to every PUT: a1 goes, b2 and
# c3 stay.  A spare answer taken for b2's would delete b2.
odd_start twice || not_ok "the odd server starts"
OB=$T/outbox-odd
odd_outbox "$OB" a1 b2 c3
fx_shipd_start odd "$OB"
wait_for 15 puts_seen 3
fx_shipd_stop
odd_stop
equal "a spare answer is not taken for the next PUT's: b2 kept on its 503" \
    "$(outbox_ids "$OB")" "b2 c3 "

# -- 6. a server that never answers: a first SIGTERM lets the upload
# under way go on, a second gives it up at once, not after the 60 s
# that a silent server is allowed.
# gone PID: exited (a zombie, not yet waited for, counts).
gone() { [ ! -d "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
running() { ! gone "$1"; }
odd_start silent || not_ok "the odd server starts"
OB=$T/outbox-silent
odd_outbox "$OB" d4
fx_shipd_start odd "$OB"
wait_for 15 puts_seen 1
sleep 0.5
kill -TERM "$SHIPD_PID"
sleep 1
check "a server that never answers: a first SIGTERM lets the upload go on" \
    running "$SHIPD_PID"
t0=$(date +%s)
kill -TERM "$SHIPD_PID"
wait_for 5 gone "$SHIPD_PID"
check "a server that never answers: a second SIGTERM gives the upload up" \
    gone "$SHIPD_PID"
diag "shipd gone $(( $(date +%s) - t0 )) s after the second SIGTERM"
kill -9 "$SHIPD_PID" 2>/dev/null
fx_shipd_stop
odd_stop
equal "a server that never answers: the batch kept" "$(outbox_ids "$OB")" "d4 "
URL=$URL_SERVE
check "shipd was never killed by its sandbox" \
    sh -c "! grep -q -i 'bad system call' '$T'/shipd-*.log"
fx_shipd_stop
fx_serve_stop
fx_sanitizer_check
exit 0
