#!/bin/sh
# tests/integration/shipd_odd.sh: shipd against a server on loopback
# that does one thing wrong (shipd_odd.py), with no MariaDB.
#   1. 417 to Expect: 100-continue: the same PUT again without it, once,
#      and the batch goes.
#   2. 417 to every request, with Expect or without: each batch asked
#      once (twice for the one sent with Expect), then set aside in
#      .rejected, not deleted, and not asked again.
#   3. SIGTERM in an idle wait, landing after shipd looked at its stop
#      flag and before the wait began: shipd ends at once.
#   4. A server that never answers, a first SIGTERM in the wait and the
#      second in the gap before the next wait: shipd ends at once, not
#      after the 60 s a silent server is allowed; the batch is kept.
#   5. A name server that never answers (in a network and mount
#      namespace of the test's: loopback only, its own resolv.conf):
#      SIGTERM while shipd looks the server's name up ends it at once,
#      not after the resolver's 10 s; the batch is kept.
# 3 and 4 put the signal in that gap with tests/tools/raise_in_wait.c,
# loaded with LD_PRELOAD.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"
. "$TOP/tests/integration/shipd_odd.inc"

need_root "shipd odd server"
tls_available || { skip "shipd odd server" "no openssl"; exit 0; }
command -v python3 >/dev/null 2>&1 || { skip "shipd odd server" "no python3"; exit 0; }
[ -x "$BIN/shipd" ] || { not_ok "shipd built"; exit 1; }
SHIM=$TOP/$O/lib/raise_in_wait.so
[ -f "$SHIM" ] || { not_ok "the shim is built (make tests)"; exit 1; }
ensure_users || { not_ok "users"; exit 1; }

T=$(tmpdir)
chmod 755 "$T"
cleanup() {
	[ -n "$SHIPD_PID" ] && kill -9 "$SHIPD_PID" 2>/dev/null
	odd_stop
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT INT TERM
tls_make "$T/tls" || { not_ok "test CA"; exit 1; }
# fx_shipd_conf writes CONF first: nothing of ingestd's here.
CONF=$T/empty.conf
: >"$CONF"
odd_cred

# odd_shipd NAME OUTBOX [RAISE]: shipd on the odd server, the shim
# loaded when RAISE (first or eintr) is given.
odd_shipd() {
	fx_shipd_conf odd "$2"
	if [ -n "${3:-}" ]; then
		env LD_PRELOAD="$SHIM" VBS_RAISE_IN_WAIT="$3" \
		    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		    "$BIN/shipd" -d -v -f "$T/shipd-odd.conf" >>"$T/shipd-$1.log" 2>&1 &
	else
		"$BIN/shipd" -d -v -f "$T/shipd-odd.conf" >>"$T/shipd-$1.log" 2>&1 &
	fi
	SHIPD_PID=$!
}
# gone PID: exited (a zombie, not yet waited for, counts).
gone() { [ ! -d "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
rejected_ids() { ls "$1/.rejected" 2>/dev/null | sed -n 's/\.sqlite$//p' | tr '\n' ' '; }
empty() { [ -z "$(outbox_ids "$1")" ]; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# -- 1. 417 to the expectation, 201 without it.  1.5 MB: above the
# 1 MB from which shipd sends Expect: 100-continue.
odd_start expect417 || not_ok "the odd server starts"
OB=$T/outbox-e
ODD_SIZE=1500000 odd_outbox "$OB" e1
odd_shipd e "$OB"
wait_for 15 empty "$OB"
fx_shipd_stop
odd_stop
equal "417 to Expect: the batch sent again without it, and stored" \
    "$(outbox_ids "$OB")" ""
equal "417 to Expect: the requests the server saw" \
    "$(tr '\n' ' ' <"$T/odd-puts")" "EXPECT /v1/batches/e1 PUT /v1/batches/e1 "

# -- 2. 417 to everything: f2 (with Expect) and g3 (without) are set
# aside, each after its one request (two for f2), and nothing more.
odd_start 417 || not_ok "the odd server starts"
OB=$T/outbox-f
ODD_SIZE=1500000 odd_outbox "$OB" f2
odd_outbox "$OB" g3
touch -d @1700000001 "$OB/g3.sqlite"
odd_shipd f "$OB"
both_aside() { [ "$(rejected_ids "$OB")" = "f2 g3 " ]; }
wait_for 15 both_aside
fx_shipd_stop
odd_stop
equal "417 without Expect: both batches set aside, none deleted" \
    "$(outbox_ids "$OB")|$(rejected_ids "$OB")" "|f2 g3 "
equal "417 without Expect: each asked once more at most, then no more" \
    "$(tr '\n' ' ' <"$T/odd-puts")" \
    "EXPECT /v1/batches/f2 PUT /v1/batches/f2 PUT /v1/batches/g3 "
check "417 without Expect: the log says the server refused it" \
    grep -q "batch f2 refused by the server (HTTP 417)" "$T/shipd-f.log"
check "417 without Expect: no retry planned" \
    sh -c "! grep -q 'retry in' '$T/shipd-f.log'"

# -- 3. nothing to send: SIGTERM lands just before the idle wait.
odd_start silent || not_ok "the odd server starts"
OB=$T/outbox-idle
mkdir -p "$OB"
odd_shipd idle "$OB" first
wait_for 10 grep -q "running:" "$T/shipd-idle.log"
t0=$(ms)
wait_for 5 gone "$SHIPD_PID"
check "SIGTERM just before an idle wait: shipd ends at once" gone "$SHIPD_PID"
diag "shipd gone $(( $(ms) - t0 )) ms after it started to wait"
check "... and says it stops" grep -q "stopping:" "$T/shipd-idle.log"
fx_shipd_stop

# -- 4. a silent server: the first SIGTERM in the wait for its answer,
# the second (from the shim) between that wait and the next.
OB=$T/outbox-silent
odd_outbox "$OB" d4
odd_shipd silent "$OB" eintr
wait_for 15 puts_seen 1
t0=$(ms)
kill -TERM "$SHIPD_PID"
wait_for 5 gone "$SHIPD_PID"
check "a second SIGTERM between two waits on a silent server: shipd ends at once" \
    gone "$SHIPD_PID"
diag "shipd gone $(( $(ms) - t0 )) ms after the first SIGTERM"
check "... having given the upload up" \
    grep -q "given up, stopping" "$T/shipd-silent.log"
kill -9 "$SHIPD_PID" 2>/dev/null
fx_shipd_stop
odd_stop
equal "a silent server: the batch kept" "$(outbox_ids "$OB")" "d4 "
# -- 5. a silent name server.  shipd runs in a namespace where only
# loopback exists and resolv.conf names 127.0.0.1, where a UDP socket
# takes the queries and never answers (bounded: 30 s).
if command -v unshare >/dev/null 2>&1; then
	OB=$T/outbox-dns
	odd_outbox "$OB" n5
	URL=https://vbs-silent-dns.test:4443
	fx_shipd_conf odd "$OB"
	printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' \
	    >"$T/resolv.conf"
	cat >"$T/dns.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
s.settimeout(1)
end = time.monotonic() + 30
while time.monotonic() < end:
    try:
        s.recvfrom(512)
    except socket.timeout:
        continue
    with open(sys.argv[1], "a") as f:
        f.write("query\n")
PY
	rm -f "$T/dns-queries"
	unshare -m -n sh -c '
		ip link set lo up &&
		mount --bind "$1" /etc/resolv.conf &&
		python3 "$2" "$3" &
		echo $! >"$3.pid"
		sleep 0.5
		exec "$4" -d -v -f "$5"' sh "$T/resolv.conf" "$T/dns.py" \
	    "$T/dns-queries" "$BIN/shipd" "$T/shipd-odd.conf" \
	    >>"$T/shipd-dns.log" 2>&1 &
	SHIPD_PID=$!
	wait_for 10 test -s "$T/dns-queries"
	check "a silent name server: shipd is looking the name up" \
	    test -s "$T/dns-queries"
	sleep 1
	t0=$(ms)
	kill -TERM "$SHIPD_PID"
	wait_for 5 gone "$SHIPD_PID"
	t1=$(ms)
	check "SIGTERM during the look-up: shipd ends within 2 s" \
	    [ $((t1 - t0)) -le 2000 ]
	diag "shipd gone $((t1 - t0)) ms after SIGTERM"
	check "... and says why" grep -q "stopped while looking up" \
	    "$T/shipd-dns.log"
	equal "... the batch kept" "$(outbox_ids "$OB")" "n5 "
	wait "$SHIPD_PID" 2>/dev/null
	SHIPD_PID=
	kill "$(cat "$T/dns-queries.pid")" 2>/dev/null
else
	skip "a silent name server" "no unshare"
fi

check "shipd was never killed by its sandbox" \
    sh -c "! grep -q -i 'bad system call' '$T'/shipd-*.log"
exit 0
