#!/bin/sh
# tests/integration/flowd_recover.sh: live flowd killed with -9 in the
# middle of a batch, then started again, KILLS times over one stream.
# A fake capd (a SOCK_SEQPACKET server that sends one recording's
# messages per connection, the hello only in the first) and a silent
# fake sockd stand in for the producers; Unix sockets only, no
# namespaces.  The captures are shifted to end now, so that flows are
# still open when flowd dies.  After every kill: each outbox file passes
# PRAGMA integrity_check and no working batch is there.  After each
# restart: the working batch was published as a recovered batch with
# its open flows ended by 'restart' (or counted lost in the next meta),
# and a stream that begins without a hello is taken.  flowd writes
# "ready" on -R's descriptor once set up.  At the end SIGTERM: exit 0,
# every flow ended, the batch in the outbox, the work directory empty
# of batches; across all batches no packet (flow_id, seq) twice.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

KILLS=${KILLS:-4}
pcaps=$(shared_pcaps)
if [ -z "$pcaps" ] || [ ! -x "$BIN/capd" ] || [ ! -x "$BIN/flowd" ] ||
    ! command -v editcap >/dev/null 2>&1 ||
    ! command -v capinfos >/dev/null 2>&1; then
	skip "flowd recover" "needs ../shared/pcaps, capd, flowd, editcap"
	exit 0
fi
t=$(tmpdir)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$t"
}
trap cleanup EXIT INT TERM

# The captures, moved in time to end a second ago, recorded by capd:
# one per start of flowd.
recs=
n=0
for c in netflix reddit teams signal synscan; do
	[ "$n" -gt "$KILLS" ] && break
	pcap=$pcaps/$c.pcap
	[ -f "$pcap" ] || continue
	last=$(capinfos -TSre "$pcap" 2>/dev/null |
	    awk -F'\t' 'NR == 1 { print int($2) }')
	now=$(date +%s)
	editcap -t "$((now - last - 1))" "$pcap" "$t/$c.pcap" >/dev/null 2>&1 &&
	    "$BIN/capd" -r "$t/$c.pcap" -w "$t/$c.rec" 2>/dev/null ||
	    { not_ok "flowd recover: cannot record $c"; exit 0; }
	recs="$recs $t/$c.rec"
	n=$((n + 1))
done
[ "$n" -gt "$KILLS" ] || { skip "flowd recover" "too few captures"; exit 0; }

cat >"$t/fake.py" <<'PY'
# fake.py SOCKET [RECORDING ...]: the i-th connection gets the messages
# of the i-th recording, without its hello after the first (a stream
# that goes on where the previous reader stopped), and is then held
# until the peer goes.  No recording: a producer that says nothing.
import socket, struct, sys
path, recs = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(1)
i = 0
while True:
    c, _ = s.accept()
    if i < len(recs):
        with open(recs[i], 'rb') as f:
            f.read(16)
            while True:
                h = f.read(4)
                if len(h) < 4:
                    break
                m = f.read(struct.unpack('>I', h)[0])
                # envelope: array 32 (5 bytes), then the type; 1 hello
                if i == 0 or m[5] != 1:
                    c.sendall(m)
    i += 1
    while c.recv(65536):
        pass
    c.close()
PY

mkdir -p "$t/outbox" "$t/work"
# What shipd would have dropped at the disk bound (shipd.8: .lost).
printf 'lost_batches 3\nlost_bytes 4096\n' >"$t/outbox/.lost"
cat >"$t/vbs.conf" <<EOF
[flowd]
outbox = $t/outbox
work_dir = $t/work
privacy = clear
# the captures span minutes of record time: no batch closes by age
batch_age = 1h
EOF
if [ "$(id -u)" = 0 ]; then
	ensure_users || { skip "flowd recover" "no vbs user"; exit 0; }
	chown vbs "$t/outbox" "$t/work"
	chmod 755 "$t"
fi
python3 "$t/fake.py" "$t/capd.sock" $recs &
pids="$pids $!"
python3 "$t/fake.py" "$t/sockd.sock" &
pids="$pids $!"
wait_for 5 test -S "$t/sockd.sock" && wait_for 5 test -S "$t/capd.sock" ||
    { not_ok "flowd recover: fake producers did not start"; exit 0; }

start_flowd() {
	rm -f "$t/ready"
	"$BIN/flowd" -d -f "$t/vbs.conf" -C "$t/capd.sock" \
	    -S "$t/sockd.sock" -R 5 5>"$t/ready" 2>>"$t/flowd.log" &
	fpid=$!
}

# Every outbox file whole, and nothing but whole batches there.
check_outbox() {
	for f in "$t"/outbox/*; do
		[ -e "$f" ] || continue
		case $f in
		*.sqlite) ;;
		*) echo "stray $f"; continue ;;
		esac
		r=$(sqlite3 "$f" "PRAGMA integrity_check" 2>&1)
		[ "$r" = ok ] || echo "$f: $r"
	done
}

q() { for f in "$t"/outbox/*.sqlite; do sqlite3 "$f" "$1"; done; }

bad=0 notready=0 recovered=0 lost=0 restart_rows=0
i=0
start_flowd
while [ "$i" -lt "$KILLS" ]; do
	i=$((i + 1))
	wait_for 5 grep -qx ready "$t/ready" || notready=$((notready + 1))
	# live commits at least every second: let a commit or two happen
	sleep 2.5
	kill -9 "$fpid" 2>/dev/null
	wait "$fpid" 2>/dev/null
	res=$(check_outbox)
	[ -z "$res" ] || { bad=$((bad + 1)); diag "kill $i: $res"; }
	[ -e "$t/work/flowd-current.sqlite" ] ||
	    diag "kill $i: no working batch to recover"
	start_flowd
done
wait_for 5 grep -qx ready "$t/ready" || notready=$((notready + 1))
sleep 2
kill -TERM "$fpid"
wait "$fpid"
rc=$?

equal "flowd recover: SIGTERM exits 0" "$rc" 0
equal "flowd recover: ready on -R after each of $((KILLS + 1)) starts" \
    "$notready" 0
equal "flowd recover: every outbox file passes integrity_check" "$bad" 0
res=$(check_outbox)
equal "flowd recover: outbox whole at the end" "$res" ""
recovered=$(ls "$t"/outbox/*-recovered.sqlite 2>/dev/null | wc -l)
lost=$(q "SELECT value FROM meta WHERE key = 'flowd_lost_batches'" |
    sort -n | tail -1)
equal "flowd recover: each killed batch recovered or counted lost" \
    "$((recovered + ${lost:-0}))" "$KILLS"
restart_rows=$(for f in "$t"/outbox/*-recovered.sqlite; do
	[ -e "$f" ] && sqlite3 "$f" "SELECT count(*) FROM flows WHERE
	    end_reason = 'restart' AND ended = 1"
done | awk '{ s += $1 } END { print s + 0 }')
open_left=$(for f in "$t"/outbox/*-recovered.sqlite; do
	[ -e "$f" ] && sqlite3 "$f" "SELECT count(*) FROM flows WHERE
	    ended = 0"
done | awk '{ s += $1 } END { print s + 0 }')
check "flowd recover: open flows of recovered batches end by restart" \
    test "$restart_rows" -gt 0 -a "$open_left" = 0
rec_meta=$(for f in "$t"/outbox/*-recovered.sqlite; do
	[ -e "$f" ] && sqlite3 "$f" "SELECT value FROM meta WHERE
	    key = 'recovered'"
done | sort -u | tr '\n' ' ')
equal "flowd recover: recovered batches say so in meta" "$rec_meta" \
    "$( [ "$recovered" -gt 0 ] && echo '1 ')"
check "flowd recover: a stream without its hello is taken" \
    grep -q "began without a hello" "$t/flowd.log"
left=$(ls "$t/work" | grep -c sqlite)
equal "flowd recover: SIGTERM leaves no working batch" "$left" 0
open_end=$(ls "$t"/outbox/*.sqlite | grep -v recovered | sort | tail -1)
n_open=$(sqlite3 "$open_end" "SELECT count(*) FROM flows WHERE ended = 0")
n_shut=$(sqlite3 "$open_end" "SELECT count(*) FROM flows WHERE
    end_reason = 'shutdown'")
check "flowd recover: SIGTERM ends every open flow (shutdown)" \
    test "$n_open" = 0 -a "$n_shut" -gt 0

dups=$(q "SELECT flow_id || ' ' || seq FROM packets" | sort | uniq -d |
    wc -l)
equal "flowd recover: no packet twice across batches" "$dups" 0
pk=$(q "SELECT count(*) FROM packets" | awk '{ s += $1 } END { print s }')
diag "$(ls "$t/outbox" | wc -l) batches ($recovered recovered), $pk packets"
lost=$(q "SELECT value FROM meta WHERE key = 'shipd_lost_batches'" |
    sort -u | tr '\n' ' ')
equal "flowd recover: every batch counts shipd's losses (.lost)" "$lost" "3 "
