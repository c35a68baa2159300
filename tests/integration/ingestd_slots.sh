#!/bin/sh
# tests/integration/ingestd_slots.sh: connections that never finish
# their TLS handshake cannot keep a client out of the receiver.  Each
# holds a thread and one of its 512 slots, for up to `timeout` (30 s):
# from one address at most 64 (so an upload from another goes on), but
# from 8 addresses all 512.  Near the limit the receiver closes the
# connections that have no request going and are older than 2 s, so
# an upload made meanwhile is stored within seconds.  An enrolled
# client may have 4 uploads under way at once, not 64 that trickle at
# min_rate for an hour: a fifth is 429.  On loopback:
# 127.0.0.2 to 127.0.0.9 connect to 127.0.0.1, each a bounded number
# of times, once.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "ingestd slots"
mariadb_available || { skip "ingestd slots" "no mariadbd"; exit 0; }
tls_available || { skip "ingestd slots" "no openssl"; exit 0; }
ensure_users || { not_ok "users"; exit 1; }
fx_setup "rate_per_client = 0" "timeout = 30s"
fx_serve_start
fx_enroll a || { not_ok "enrol a"; exit 1; }
fx_batches "$T/bs" "$CID_a" 2 20 200 1 || { not_ok "batches"; exit 1; }
set -- "$T"/bs/*.sqlite
S1=$1 S2=$2
AUTH="$CID_a:$(secret a)"

cat >"$T/flood.py" <<'PY'
# flood.py PORT ADDRS PER HOLD: PER bare TCP connections from each of
# ADDRS sources 127.0.0.2.. to 127.0.0.1:PORT, that never send a byte,
# held HOLD seconds; then how many the server closed meanwhile.
import socket, sys, time
port, addrs, per, hold = (int(a) for a in sys.argv[1:5])
socks = []
for a in range(addrs):
    for _ in range(per):
        s = socket.socket()
        s.bind(("127.0.0.%d" % (2 + a), 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            pass
        socks.append(s)
print("open", len(socks), flush=True)
time.sleep(hold)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
    s.close()
print("closed by the server", closed, flush=True)
PY

# beside ADDRS PER HOLD FILE WHAT: a flood (flood.py ADDRS PER HOLD),
# and 2 s into it a PUT of FILE: 201 within 6 s?
beside() {
	timeout 60 python3 "$T/flood.py" "$PORT" "$1" "$2" "$3" \
	    >"$T/flood" 2>&1 &
	_f=$!
	sleep 2
	_t0=$(date +%s)
	_c=$(put --max-time 20 -u "$AUTH" -- "$(id_of "$4")" "$4")
	r="$_c $(( $(date +%s) - _t0 ))"
	wait $_f
	diag "$5: $(tr '\n' ' ' <"$T/flood"); an upload meanwhile: $r" \
	    "(status, seconds)"
	case $r in
	"201 "[0-5]) ok "an upload beside $5: 201 in under 6 s" ;;
	*) not_ok "an upload beside $5: 201 in under 6 s" ;;
	esac
}

# From one address: 64 slots at most, the other 36 closed at once.
beside 1 100 8 "$S1" "100 bare connections from one address"
# From 8 addresses: all 512.
beside 8 64 15 "$S2" "512 bare connections from 8 addresses"
diag "serve.log: $(grep 'with no request' "$T/serve.log" | tail -1)"
nb() { q 'SELECT count(*) FROM batches' | tail -1; }
# has N: MySQL's ledger holds N batches (asked again on each try).
has() { test "$(nb)" = "$1"; }
wait_for 20 has 2
equal "MySQL has both" "$(nb)" 2

# An enrolled client's bodies under way: 4 at most.  Four uploads sent
# at 8 kB/s (over 4 s each); meanwhile a fifth is 429, and once they
# are in, it is stored.
fx_batches "$T/bt" "$CID_a" 5 250 2500 2 t || { not_ok "batches"; exit 1; }
set -- "$T"/bt/*.sqlite
i=0 slow=
for f in "$1" "$2" "$3" "$4"; do
	i=$((i + 1))
	put --limit-rate 8k --max-time 60 -u "$AUTH" -- "$(id_of "$f")" \
	    "$f" >"$T/slow$i" 2>&1 &
	slow="$slow $!"
done
sleep 2
equal "a fifth upload of the client meanwhile: 429" \
    "$(put --max-time 10 -u "$AUTH" -- "$(id_of "$5")" "$5")" 429
wait $slow
equal "the four slow uploads: 201" \
    "$(for i in 1 2 3 4; do printf '%s ' "$(cat "$T/slow$i")"; done)" \
    "201 201 201 201 "
equal "the fifth, once they are in: 201" \
    "$(put --max-time 10 -u "$AUTH" -- "$(id_of "$5")" "$5")" 201
wait_for 30 has 7
equal "MySQL has all 7" "$(nb)" 7
fx_sanitizer_check
exit 0
