#!/bin/sh
# tests/integration/ingestd_origin.sh: the receiver's limit of 64
# connections from one origin counts an IPv6 /64 as one origin, since a
# host is given a /64 and may use any address in it.  ingestd serve
# listens on [fd00:11::1] in a namespace of its own whose loopback also
# holds fd00:11::100 to fd00:11::140 and fd00:12::1; from there bare TCP
# connections that never send a byte (each made once, held 3 s):
#   64 from 64 addresses of fd00:11::/64     all kept
#   1 more from another address of it        closed at once
#   1 from fd00:12::1 (another /64)           kept
# and the same for IPv4 addresses of 127.0.0.0/8, which stay one origin
# each (64 from 127.0.0.2 kept, one more from it closed, 127.0.0.3 kept).

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib_ingestd.sh"
N="ingestd origin"
need_root "$N"
mariadb_available || { skip "$N" "no mariadbd"; exit 0; }
tls_available || { skip "$N" "no openssl"; exit 0; }
command -v python3 >/dev/null 2>&1 || { skip "$N" "no python3"; exit 0; }
ensure_users || { not_ok "$N: users"; exit 1; }

T=$(tmpdir)
chmod 755 "$T"
NS=vbs-origin$$
SERVE=
cleanup() {
	[ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null
	ns_delete "$NS"
	mariadb_stop
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ip netns add "$NS" && ip -n "$NS" link set lo up &&
ip -n "$NS" addr add fd00:11::1/128 dev lo &&
ip -n "$NS" addr add fd00:12::1/128 dev lo ||
	{ not_ok "$N: namespace"; exit 1; }
i=256
while [ $i -le 320 ]; do
	printf 'address add fd00:11::%x/128 dev lo\n' $i
	i=$((i + 1))
done >"$T/addrs"
ip -n "$NS" -batch "$T/addrs" || { not_ok "$N: addresses"; exit 1; }

tls_make "$T/tls" || { not_ok "$N: test CA"; exit 1; }
PORT=$(free_port)
ingestd_setup "$T" "[::]:$PORT" "timeout = 30s"
_rc=$?
# mariadb_start set its own EXIT trap: ours again, or the namespace and
# $T are left behind
trap cleanup EXIT INT TERM
[ $_rc -eq 0 ] || { not_ok "$N: mariadb and ingestd migrate"; exit 1; }
ip netns exec "$NS" $ING -f "$ING_CONF" -d -v -w 1 serve \
    >"$T/serve.log" 2>&1 &
SERVE=$!
wait_for 20 grep -q 'receiver: HTTPS on' "$T/serve.log" ||
	{ not_ok "$N: ingestd serve starts"; diag "$(tail -5 "$T/serve.log")"
	  exit 1; }

# flood.py PORT DST SRC...: one bare connection from each SRC to DST,
# held 3 s; prints, in order, 1 for each the server closed, else 0.
cat >"$T/flood.py" <<'PY'
import socket, sys, time
port, dst, srcs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
socks = []
for a in srcs:
    s = socket.socket(fam)
    s.bind((a, 0))
    s.settimeout(2)
    try:
        s.connect((dst, port))
    except OSError:
        pass
    socks.append(s)
    time.sleep(0.01)
time.sleep(3)
out = []
for s in socks:
    s.setblocking(False)
    try:
        out.append("1" if s.recv(1) == b"" else "0")
    except BlockingIOError:
        out.append("0")
    except OSError:
        out.append("1")
    s.close()
print(" ".join(out))
PY

# flood NAME DST SRC...: the verdicts, one word each, in $T/NAME.
flood() {
	_n=$1; shift
	ip netns exec "$NS" timeout 30 python3 "$T/flood.py" "$PORT" "$@" \
	    >"$T/$_n" 2>"$T/$_n.err" || diag "$(cat "$T/$_n.err")"
}
# count FILE FIRST LAST WORD: how many of the words FIRST..LAST are WORD.
count() {
	tr ' ' '\n' <"$1" | sed -n "$2,$3p" | grep -c "^$4\$"
}

src6=$(i=256
	while [ $i -le 320 ]; do printf 'fd00:11::%x ' $i; i=$((i + 1)); done)
flood six fd00:11::1 $src6 fd00:12::1
equal "$N: 64 connections from 64 addresses of one /64 are kept" \
    "$(count "$T/six" 1 64 0)" 64
equal "$N: a 65th from another address of that /64 is closed" \
    "$(count "$T/six" 65 65 1)" 1
equal "$N: one from another /64 is kept" "$(count "$T/six" 66 66 0)" 1

src4=$(i=0; while [ $i -lt 65 ]; do printf '127.0.0.2 '; i=$((i + 1)); done)
flood four 127.0.0.1 $src4 127.0.0.3
equal "$N: 64 connections from one IPv4 address are kept" \
    "$(count "$T/four" 1 64 0)" 64
equal "$N: a 65th from it is closed" "$(count "$T/four" 65 65 1)" 1
equal "$N: one from another IPv4 address is kept" \
    "$(count "$T/four" 66 66 0)" 1

kill "$SERVE"
wait "$SERVE"
SERVE=
diag "$(grep 'receiver: stopping' "$T/serve.log")"
if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/serve.log"
then
	not_ok "$N: no sanitizer report"
	grep -E -A5 'Sanitizer|runtime error:' "$T/serve.log" | head -20 |
	    sed 's/^/# /'
else
	ok "$N: no sanitizer report"
fi
exit 0
