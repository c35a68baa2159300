#!/bin/sh
# tests/integration/flowd_replay.sh: replay is deterministic.  Three
# captures recorded by capd, replayed together (`flowd -r A -r B -r C`)
# twice, give byte-identical batches with the same names; so does the
# prefix policy with a key file.  Every flow has exactly one ended row,
# every packet row has its flow's row in the same batch, and replay
# without a key refuses the keyed policies rather than invent a key.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

pcaps=$(shared_pcaps)
if [ -z "$pcaps" ] || [ ! -x "$BIN/capd" ] || [ ! -x "$BIN/flowd" ]; then
	skip "flowd replay" "needs ../shared/pcaps, capd and flowd"; exit 0
fi
t=$(tmpdir)
trap 'rm -rf "$t"' EXIT INT TERM
n=0
for c in 1kxun.pcap http_ipv6.pcap quic.pcap; do
	n=$((n + 1))
	"$BIN/capd" -r "$pcaps/$c" -w "$t/r$n.rec" 2>/dev/null
done
R="-r $t/r1.rec -r $t/r2.rec -r $t/r3.rec"

same() {
	[ "$(cd "$1" && ls)" = "$(cd "$2" && ls)" ] || return 1
	for f in "$1"/*.sqlite; do cmp -s "$f" "$2/${f##*/}" || return 1; done
	[ -n "$(ls "$1")" ]
}

"$BIN/flowd" $R -o "$t/a" -P clear 2>/dev/null
"$BIN/flowd" $R -o "$t/b" -P clear 2>/dev/null
check "flowd replay: two replays are byte-identical" same "$t/a" "$t/b"

printf '000102030405060708090a0b0c0d0e0f\n' >"$t/key"
"$BIN/flowd" $R -o "$t/p1" -P prefix -K "$t/key" 2>/dev/null
"$BIN/flowd" $R -o "$t/p2" -P prefix -K "$t/key" 2>/dev/null
check "flowd replay: prefix policy is byte-identical too" same "$t/p1" "$t/p2"

q() { for f in "$1"/*.sqlite; do sqlite3 "$f" "$2"; done; }
clear_ips=$(q "$t/a" "SELECT DISTINCT remote_ip FROM flows" | sort -u)
pfx_ips=$(q "$t/p1" "SELECT DISTINCT remote_ip FROM flows" | sort -u)
common=$(printf '%s\n%s\n' "$clear_ips" "$pfx_ips" | sort | uniq -d | wc -l)
equal "flowd replay: prefix policy hides every remote address" "$common" 0

"$BIN/flowd" $R -o "$t/nokey" -P prefix -K "$t/missing" 2>/dev/null
equal "flowd replay: keyed policy without a key is a config error" "$?" 78

ended=$(q "$t/a" "SELECT flow_id FROM flows WHERE ended = 1" | sort |
    uniq -d | wc -l)
flows=$(q "$t/a" "SELECT flow_id FROM flows" | sort -u | wc -l)
nend=$(q "$t/a" "SELECT flow_id FROM flows WHERE ended = 1" | wc -l)
equal "flowd replay: one ended row per flow" "$ended/$nend" "0/$flows"
orphans=$(q "$t/a" "SELECT count(*) FROM packets WHERE flow_id NOT IN
    (SELECT flow_id FROM flows)" | awk '{s += $1} END {print s}')
equal "flowd replay: every packet has its flow's row" "$orphans" 0
pk=$(q "$t/a" "SELECT count(*) FROM packets" | awk '{s += $1} END {print s}')
tot=$(q "$t/a" "SELECT sum(packets_out + packets_in) FROM flows WHERE
    ended = 1" | awk '{s += $1} END {print s}')
equal "flowd replay: flow totals equal the packet rows" "$tot" "$pk"
