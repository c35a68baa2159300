#!/bin/sh
# tests/integration/shipd_policy.sh: what shipd does besides uploading:
# it trusts only the configured CA or the pinned key (a batch meant for
# another server stays in the outbox), keeps every batch while its
# credentials are refused, sets aside a batch the server refuses and goes
# on with the others, keeps the outbox within its bound by full_policy
# and counts the loss in .lost, compresses with zstd when told to, and
# refuses plain http.  Real TLS on loopback with a test CA.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "shipd policy"
mariadb_available || { skip "shipd policy" "no mariadbd"; exit 0; }
tls_available || { skip "shipd policy" "no openssl"; exit 0; }
[ -x "$BIN/shipd" ] || { not_ok "shipd built"; exit 1; }
ensure_users || { not_ok "users"; exit 1; }
fx_setup "rate_per_client = 0"
fx_serve_start

loaded() { q "SELECT COUNT(*) FROM batches b JOIN clients c USING (client_id) WHERE c.client_name = '$1'"; }
empty_and() { [ "$(outbox_count "$1")" = 0 ] && [ "$(loaded "$2")" = "$3" ]; }

# -- the server's identity: pin alone, a wrong pin, another CA
fx_enroll p || { not_ok "enrol"; exit 1; }
fx_batches "$T/bp" "$CID_p" 6 60 600 1 || { not_ok "batches"; exit 1; }
set -- "$T"/bp/*.sqlite
OB=$T/ob-p
mkdir -p "$OB"
publish "$1" "$2" "$OB"
fx_shipd_start p "$OB" "ca_file = \"\"" "pin = $TLS_PIN"
wait_for 30 empty_and "$OB" "$CID_p" 2
equal "the pinned key alone: uploaded" "$(loaded "$CID_p")" 2
fx_shipd_stop
publish "$3" "$4" "$OB"
fx_shipd_start p "$OB" "ca_file = \"\"" "pin = $TLS_BADPIN"
sleep 3
equal "a wrong pin: nothing uploaded, nothing deleted" \
    "$(loaded "$CID_p"):$(outbox_count "$OB")" 2:2
fx_shipd_stop
fx_shipd_start p "$OB" "ca_file = $T/tls/other-ca.crt"
sleep 3
equal "a server of another CA: nothing uploaded, nothing deleted" \
    "$(loaded "$CID_p"):$(outbox_count "$OB")" 2:2
fx_shipd_stop
fx_shipd_start p "$OB" "pin = $TLS_PIN"
wait_for 30 empty_and "$OB" "$CID_p" 4
equal "the right CA and pin: uploaded" "$(loaded "$CID_p")" 4
fx_shipd_stop

# -- a refused batch is set aside; the others go on
publish "$5" "$OB"
cp "$6" "$OB/.x.tmp" && mv "$OB/.x.tmp" "$OB/$(basename "$5" .sqlite)-2.sqlite"
cp "$6" "$OB/.y.tmp" && mv "$OB/.y.tmp" "$OB/bad.name.sqlite"
chown -R vbs "$OB"
fx_shipd_start p "$OB"
wait_for 30 empty_and "$OB" "$CID_p" 5
equal "a batch the server refuses (422) is set aside, the rest uploaded" \
    "$(loaded "$CID_p"):$(outbox_count "$OB"):$(ls "$OB/.rejected" | grep -c sqlite)" \
    5:0:2
grep -q 'refused by the server (HTTP 422' "$T/shipd-p.log" &&
    ok "the refusal is logged with its status" ||
    not_ok "the refusal is logged with its status"
fx_shipd_stop

# -- credentials refused: everything kept
fx_enroll v || { not_ok "enrol"; exit 1; }
fx_batches "$T/bv" "$CID_v" 3 30 300 2 || { not_ok "batches"; exit 1; }
$ING -f "$CONF" revoke "$CID_v" >/dev/null 2>&1
OB=$T/ob-v
mkdir -p "$OB"
publish "$T"/bv/*.sqlite "$OB"
fx_shipd_start v "$OB"
sleep 3
equal "a revoked client keeps its batches" "$(outbox_count "$OB")" 3
grep -q 'does not accept our credentials' "$T/shipd-v.log" &&
    ok "and says why" || not_ok "and says why"
fx_shipd_stop

# -- zstd: smaller on the wire, the same batch stored
fx_enroll z || { not_ok "enrol"; exit 1; }
fx_batches "$T/bz" "$CID_z" 10 1000 100000 3 || { not_ok "batches"; exit 1; }
raw=$(cat "$T"/bz/*.sqlite | wc -c)
OB=$T/ob-z
mkdir -p "$OB"
publish "$T"/bz/*.sqlite "$OB"
fx_shipd_start z "$OB" "compress = true"
wait_for 30 empty_and "$OB" "$CID_z" 10
equal "compressed uploads loaded" "$(loaded "$CID_z")" 10
fx_shipd_stop
if command -v zstd >/dev/null 2>&1; then
	z=$(cat "$T"/bz/*.sqlite | zstd -3 -q -c | wc -c)
	diag "zstd -3 on these batches: $raw -> $z bytes ($((z * 100 / raw))%)"
fi

# -- the bound: stop keeps the oldest, drop-oldest the newest
fx_batches "$T/bf" nobody 6 3000 120000 4 || { not_ok "batches"; exit 1; }
for pol in stop drop-oldest; do
	OB=$T/ob-$pol
	mkdir -p "$OB"
	chown vbs "$OB"
	for f in $(ls "$T"/bf/*.sqlite | sort); do
		publish "$f" "$OB"
		touch -d "@$(( $(date +%s) - 100 + ${#pol} ))" "$OB/${f##*/}"
		sleep 0.01
	done
	total=$(cat "$OB"/*.sqlite | wc -c)
	printf '[shipd]\nserver_url = ""\noutbox_limit = 1M\nfull_policy = %s\n[flowd]\noutbox = %s\n' \
	    "$pol" "$OB" >"$T/full-$pol.conf"
	"$BIN/shipd" -d -1 -f "$T/full-$pol.conf" >"$T/full-$pol.log" 2>&1
	left=$(cat "$OB"/*.sqlite | wc -c)
	check "$pol: within the bound" test "$left" -le 1048576
	first=$(ls "$T"/bf | sort | head -1)
	last=$(ls "$T"/bf | sort | tail -1)
	if [ $pol = stop ]; then
		check "stop: the oldest kept, the newest dropped" \
		    test -f "$OB/$first" -a ! -f "$OB/$last"
		check "stop: .full is there" test -f "$OB/.full"
	else
		check "drop-oldest: the newest kept, the oldest dropped" \
		    test ! -f "$OB/$first" -a -f "$OB/$last"
	fi
	lost=$(sed -n 's/^lost_batches //p' "$OB/.lost")
	lostb=$(sed -n 's/^lost_bytes //p' "$OB/.lost")
	equal "$pol: the loss counted in .lost" \
	    "$(( $(outbox_count "$OB") + lost )):$((left + lostb))" \
	    "6:$total"
	grep -q "outbox: full.*policy $pol" "$T/full-$pol.log" &&
	    ok "$pol: logged" || not_ok "$pol: logged"
done
# A later shipd that finds the outbox under its bound removes the .full
# an earlier one left.
rm -f "$T"/ob-stop/*.sqlite
"$BIN/shipd" -d -1 -f "$T/full-stop.conf" >>"$T/full-stop.log" 2>&1
check "stop: a later shipd under the bound removes .full" \
    test ! -e "$T/ob-stop/.full"

# -- configuration
printf '[shipd]\nserver_url = http://127.0.0.1:%s\n' "$PORT" >"$T/http.conf"
"$BIN/shipd" -d -1 -f "$T/http.conf" >/dev/null 2>&1
equal "plain http refused: exit 78" "$?" 78
"$BIN/shipd" -n -f "$T/shipd-p.conf" >"$T/n.out" 2>&1
equal "-n prints the configuration" "$(grep -c '^server_url = ' "$T/n.out")" 1
fx_shipd_stop
fx_serve_stop
fx_sanitizer_check
exit 0
