# tests/lab/lab.sh: the ground-truth lab, sourced by tests after
# tests/lib.sh.  Two network namespaces joined by a veth pair
# (vbs-lab-cPID, the client, 198.18.4.1 and fd00:4::1; vbs-lab-sPID, the
# server, 198.18.4.2 and fd00:4::2); real servers in the server namespace
# whose answers are held LAB_DELAY_MS by nfqdelay, as Internet round
# trips; the VBS server there too (`ingestd serve -k` on 198.18.4.2:8443,
# TLS from a test CA, a private MariaDB on a Unix socket); the whole VBS
# client under vbsd in the client namespace, shipd uploading to that
# server; real programs as traffic (tests/lab/traffic.py); a scorer
# against the truth (tests/lab/score.py) of the batches as ingestd loaded
# them.  Without MariaDB the client runs without shipd and its outbox is
# scored (LAB_SHIP empty; lab_ship_need says why).  Every process
# started here is bounded in time and killed at exit; the namespaces
# (and with them their iptables rules) are deleted.
#
#   lab_init            names, scratch directory, cleanup trap
#   lab_net             the namespaces and the veth
#   lab_ship_need NAME  LAB_SHIP=1 when the server side can run, else a
#                       skip line for NAME and LAB_SHIP empty
#   lab_servers SECS    nfqdelay, servers.py, dnsmasq, openssl s_server
#   lab_ingest SECS     MariaDB, ingestd serve -k, the client enrolled
#   lab_conf [EXTRA]    write $LAB_T/vbs.conf (EXTRA: more lines); shipd
#                       is a stage when LAB_SHIP is set
#   lab_vbsd_start      vbsd -d in the client namespace, wait for capd
#                       (and shipd) up
#   lab_vbsd_stop       ordered shutdown through vbsctl, wait for exit
#   lab_shipped SECS    wait until the outbox is empty and ingestd has
#                       loaded every batch
#   lab_pids            pids of vbsd and its stages, one a line
#   lab_wire_start SECS / lab_wire_stop
#                       record the UDP the server receives (tcpdump in
#                       the server namespace), for the scorer
#   lab_score NAME      score the batches (ingestd's or the outbox)
#   lab_cx CMD...       run CMD in the client namespace
#   lab_sx CMD...       run CMD in the server namespace

LAB=$TOP/tests/lab
: "${LAB_DELAY_MS:=20}"
LAB_PY=/usr/bin/python3
[ -x "$LAB_PY" ] || LAB_PY=$(command -v python3)
LAB_S4=198.18.4.2
LAB_S6=fd00:4::2
export LAB_S4 LAB_S6
# ingestd's port: no program of traffic.py talks to it
LAB_IPORT=8443
LAB_SHIP=

. "$TOP/tests/lib_ingestd.sh"

lab_cx() { ip netns exec "$LAB_C" "$@"; }
lab_sx() { ip netns exec "$LAB_S" "$@"; }

# lab_need NAME: skip the test (exit 0) when a tool or binary is missing.
lab_need() {
	need_root "$1"
	for _p in ip iptables ip6tables python3 curl wget dig ncat openssl \
	    dnsmasq setpriv sqlite3 $LAB_NEED_MORE; do
		command -v "$_p" >/dev/null 2>&1 || [ -x "/usr/sbin/$_p" ] || {
			skip "$1" "no $_p"; exit 0; }
	done
	for _b in vbsd vbsctl capd sockd flowd nfqdelay; do
		[ -x "$BIN/$_b" ] || { not_ok "$1: build $_b first (make all)"
			exit 1; }
	done
	ensure_users || { not_ok "$1: users"; exit 1; }
}

# lab_ship_need NAME: shipd and the server side, or a skip with the
# reason; the rest of the lab runs either way.
lab_ship_need() {
	LAB_SHIP=
	for _b in shipd ingestd; do
		[ -x "$BIN/$_b" ] || { not_ok "$1: build $_b first (make all)"
			exit 1; }
	done
	if ! mariadb_available; then
		skip "$1: batches shipped to ingestd" "no mariadbd"
	elif ! tls_available; then
		skip "$1: batches shipped to ingestd" "no openssl"
	else
		LAB_SHIP=1
	fi
}

lab_init() {
	LAB_C=vbs-lab-c$$
	LAB_S=vbs-lab-s$$
	LAB_VC=vlabc$$
	LAB_VS=vlabs$$
	LAB_T=$(tmpdir)
	# flowd (user vbs) must reach its outbox below the scratch directory
	chmod 755 "$LAB_T"
	mkdir -p "$LAB_T/empty" "$LAB_T/run" "$LAB_T/data" "$LAB_T/out"
	chmod 755 "$LAB_T/empty"
	LAB_VBSD=
	trap lab_cleanup EXIT
	trap 'exit 1' INT TERM
}

lab_cleanup() {
	if [ -n "$LAB_VBSD" ] && kill -0 "$LAB_VBSD" 2>/dev/null; then
		kill "$LAB_VBSD" 2>/dev/null
		_i=0
		while kill -0 "$LAB_VBSD" 2>/dev/null && [ $_i -lt 100 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
	fi
	for _ns in "$LAB_C" "$LAB_S"; do
		for _p in $(ip netns pids "$_ns" 2>/dev/null); do
			kill "$_p" 2>/dev/null
		done
	done
	sleep 0.3
	for _ns in "$LAB_C" "$LAB_S"; do
		for _p in $(ip netns pids "$_ns" 2>/dev/null); do
			kill -9 "$_p" 2>/dev/null
		done
		ip netns del "$_ns" 2>/dev/null
	done
	# after ingestd, its client: MariaDB runs outside the namespaces
	mariadb_stop
	if [ -n "${LAB_KEEP:-}" ]; then
		echo "# lab kept in $LAB_T"
	else
		rm -rf "$LAB_T"
	fi
}

lab_net() {
	ns_pair "$LAB_C" "$LAB_S" "$LAB_VC" "$LAB_VS" 198.18.4 fd00:4 ||
		return 1
	# tcpreplay bursts must not be dropped by the sender's queue
	lab_sx ip link set "$LAB_VS" txqueuelen 10000
}

# lab_wait_file SECS FILE TEXT: wait until FILE contains TEXT.
lab_wait_file() {
	wait_for "$1" grep -q "$3" "$2"
}

# lab_servers SECONDS: everything the server namespace runs, each
# bounded by SECONDS.  Answers are held LAB_DELAY_MS (0: no nfqdelay).
lab_servers() {
	_s=$1
	if [ "$LAB_DELAY_MS" -gt 0 ]; then
		lab_sx iptables -A OUTPUT -o "$LAB_VS" -j NFQUEUE \
		    --queue-num 0 --queue-bypass &&
		lab_sx ip6tables -A OUTPUT -o "$LAB_VS" -j NFQUEUE \
		    --queue-num 0 --queue-bypass || return 1
		lab_sx "$BIN/nfqdelay" -q 0 -t "$_s" "$LAB_DELAY_MS" \
		    >"$LAB_T/nfqdelay.log" 2>&1 &
	fi
	# shellcheck disable=SC2046
	lab_sx timeout "$_s" "$LAB_PY" "$LAB/servers.py" "$_s" \
	    $("$LAB_PY" "$LAB/traffic.py" servers "$LAB_T") \
	    >"$LAB_T/servers.log" 2>&1 &
	lab_sx timeout "$_s" dnsmasq -k -C /dev/null --no-resolv --no-hosts \
	    --bind-interfaces --listen-address="$LAB_S4" \
	    --listen-address="$LAB_S6" -u root -g root \
	    --address=/lab.test/"$LAB_S4" --address=/lab.test/"$LAB_S6" \
	    --pid-file="$LAB_T/dnsmasq.pid" --log-facility=- \
	    >"$LAB_T/dnsmasq.log" 2>&1 &
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 2 -subj /CN=lab.test -keyout "$LAB_T/tls.key" \
	    -out "$LAB_T/tls.crt" >/dev/null 2>&1 || return 1
	for _f in 4 6; do
		lab_sx timeout "$_s" openssl s_server -quiet -$_f \
		    -accept 4433 -cert "$LAB_T/tls.crt" -key "$LAB_T/tls.key" \
		    </dev/null >"$LAB_T/s_server$_f.log" 2>&1 &
	done
	lab_wait_file 10 "$LAB_T/servers.log" ready || return 1
	wait_for 10 lab_sx sh -c 'ss -Htln | grep -q ":4433 " &&
	    ss -Huln | grep -q ":53 "' || return 1
}

# lab_ingest SECONDS: the VBS server in the server namespace, bounded
# by SECONDS: MariaDB (in the root namespace: it needs only its Unix
# socket, which ingestd reaches through the file system), `ingestd
# serve -k` on $LAB_S4:$LAB_IPORT with a certificate of a test CA, and
# the client enrolled from its namespace ($LAB_T/data/ship.cred, vbs's).
# -k keeps each loaded file in spool/done/ for the scorer.
lab_ingest() {
	_ld=$LAB_T/ingest
	mkdir -p "$_ld"
	tls_make "$_ld/tls" "IP:$LAB_S4" || { diag "test CA"; return 1; }
	ingestd_setup "$_ld" "$LAB_S4:$LAB_IPORT"
	_rc=$?
	trap lab_cleanup EXIT
	[ $_rc -eq 0 ] || return 1
	ingestd_enroll_cmd "$_ld" || { diag "no enrolment command"; return 1; }
	lab_sx timeout "$1" "$ING" -f "$ING_CONF" -d -k serve \
	    >"$LAB_T/ingestd.log" 2>&1 &
	LAB_URL=https://$LAB_S4:$LAB_IPORT
	wait_for 20 lab_cx curl -s -o /dev/null --cacert "$_ld/tls/ca.crt" \
	    "$LAB_URL/" || { diag "ingestd serve did not answer on $LAB_URL:"
		tail -5 "$LAB_T/ingestd.log" | sed 's/^/# /'; return 1; }
	ingestd_enroll "$LAB_URL" "$_ld/tls/ca.crt" "$LAB_T/data/ship.cred" \
	    "$_ld/enroll.log" ip netns exec "$LAB_C" >/dev/null || return 1
}

# lab_conf [LINES]: the client's vbs.conf, everything in $LAB_T.  With
# shipd, flowd's client_id is left empty: the credentials' id, as an
# enrolled client is installed.
lab_conf() {
	if [ -n "$LAB_SHIP" ]; then
		_stages="flowd sockd capd shipd"
		_cid=
		_ship="[shipd]
server_url = $LAB_URL
ca_file = $LAB_T/ingest/tls/ca.crt
credentials = $LAB_T/data/ship.cred
retry_min = 1s
retry_max = 2s"
	else
		_stages="flowd sockd capd"
		_cid=lab
		_ship=
	fi
	cat >"$LAB_T/vbs.conf" <<EOF
[vbsd]
runtime_dir = $LAB_T/run
data_dir = $LAB_T/data
control_socket = $LAB_T/run/vbsd.sock
stages = $_stages
stop_grace = 20s

[capd]
local_subnet_traffic = true
chroot = $LAB_T/empty

[flowd]
outbox = $LAB_T/data/outbox
work_dir = $LAB_T/data/work
privacy = clear
privacy_key_file = $LAB_T/data/privacy.key
client_id = $_cid

$_ship
${1:-}
EOF
}

lab_ctl() { "$BIN/vbsctl" -s "$LAB_T/run/vbsd.sock" "$@"; }

# lab_bindir: where vbsd is run from (its stages live beside it).  A
# flowd that does not take -R yet (the option vbsd starts it with) is
# wrapped: the wrapper says ready at once and execs the real flowd.
lab_bindir() {
	if "$BIN/flowd" -R 9 -n 9>/dev/null 2>&1 | grep -q "invalid option"
	then
		mkdir -p "$LAB_T/bin"
		cp "$BIN/vbsd" "$LAB_T/bin/vbsd"
		ln -sf "$BIN/capd" "$BIN/sockd" "$BIN/vbsctl" "$LAB_T/bin/"
		{
			echo '#!/bin/sh'
			echo '# lab wrapper: a flowd without -R.'
			echo 'n=$#; r='
			echo 'while [ $n -gt 0 ]; do a=$1; shift; n=$((n - 1))'
			echo '  if [ "$a" = -R ]; then r=$1; shift; n=$((n - 1))'
			echo '  else set -- "$@" "$a"; fi'
			echo 'done'
			echo '[ -n "$r" ] && { echo ready >&"$r"; eval "exec $r>&-"; }'
			echo "exec '$BIN/flowd' \"\$@\""
		} >"$LAB_T/bin/flowd"
		chmod 755 "$LAB_T/bin" "$LAB_T/bin/flowd"
		echo "$LAB_T/bin"
	else
		echo "$BIN"
	fi
}

lab_vbsd_start() {
	_bin=$(lab_bindir)
	[ "$_bin" = "$BIN" ] || diag "flowd has no -R yet: wrapped for vbsd"
	# not through lab_cx: $! must be vbsd itself (ip netns exec execs)
	ip netns exec "$LAB_C" "$_bin/vbsd" -d -f "$LAB_T/vbs.conf" \
	    >>"$LAB_T/vbsd.log" 2>&1 &
	LAB_VBSD=$!
	for _st in capd ${LAB_SHIP:+shipd}; do
		wait_for 30 sh -c "'$BIN/vbsctl' -s '$LAB_T/run/vbsd.sock' \
		    status | grep -q '^$_st *up'" || {
			diag "vbsd did not bring $_st up:"
			tail -20 "$LAB_T/vbsd.log" | sed 's/^/# /'
			return 1; }
	done
}

lab_vbsd_stop() {
	lab_ctl shutdown >/dev/null 2>&1 || kill "$LAB_VBSD" 2>/dev/null
	_i=0
	while kill -0 "$LAB_VBSD" 2>/dev/null && [ $_i -lt 600 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	if kill -0 "$LAB_VBSD" 2>/dev/null; then
		diag "vbsd did not exit in 60 s"
		return 1
	fi
	wait "$LAB_VBSD" 2>/dev/null
	_rc=$?
	LAB_VBSD=
	return $_rc
}

# lab_spooled: nothing left in ingestd's spool but done/ (all loaded).
lab_spooled() {
	[ -z "$(ls -A "$LAB_T/ingest/spool/incoming" \
	    "$LAB_T/ingest/spool/claim" 2>/dev/null | grep -v -e '^$' -e ':$')" ]
}

# lab_shipped SECONDS: after the ordered shutdown (shipd's last upload),
# wait until the outbox is empty and ingestd has loaded every batch;
# non-zero, saying which, when that takes longer than SECONDS.
lab_shipped() {
	[ -n "$LAB_SHIP" ] || return 0
	wait_for "$1" sh -c "! ls '$LAB_T/data/outbox' | grep -q '\.sqlite\$'" || {
		diag "the outbox still holds $(ls "$LAB_T/data/outbox" |
		    grep -c '\.sqlite$') batches after $1 s: shipd did not upload them:"
		grep shipd "$LAB_T/vbsd.log" | tail -5 | sed 's/^/# /'
		return 1; }
	wait_for "$1" lab_spooled || {
		diag "ingestd did not load every batch in $1 s:"
		ls -R "$LAB_T/ingest/spool" | sed 's/^/# /'
		tail -5 "$LAB_T/ingestd.log" | sed 's/^/# /'
		return 1; }
	if [ -n "$(ls -A "$LAB_T/ingest/spool/quarantine")" ]; then
		diag "ingestd refused batches:"
		cat "$LAB_T/ingest/spool/quarantine"/*.reason | sed 's/^/# /'
		return 1
	fi
}

# lab_pids: vbsd and every stage it runs.
lab_pids() {
	echo "$LAB_VBSD"
	ps -o pid= --ppid "$LAB_VBSD" 2>/dev/null | tr -d ' '
}

# lab_wire_start SECS: record, for at most SECS, the UDP datagrams the
# server namespace receives.  Two UDP jobs that drew the same ephemeral
# port within a flow's idle time are one flow by the flow's definition
# (one 5-tuple), not a lost one; the scorer counts the distinct tuples
# seen on this wire, independent of VBS, to tell the two apart.
lab_wire_start() {
	LAB_WIRE=
	rm -f "$LAB_T/out/wire.txt"
	# not through lab_sx: $! must be timeout's pid, not a subshell's
	ip netns exec "$LAB_S" timeout "$1" tcpdump -i "$LAB_VS" -nn -p \
	    -s 96 -Z root -U -w "$LAB_T/wire.pcap" \
	    "udp and (dst host $LAB_S4 or dst host $LAB_S6)" \
	    2>"$LAB_T/wire.log" &
	LAB_WIRE=$!
	lab_wait_file 5 "$LAB_T/wire.log" listening
}

# lab_wire_stop: end the recording, write it as text for the scorer.
lab_wire_stop() {
	[ -n "$LAB_WIRE" ] || return 1
	kill -TERM "$LAB_WIRE" 2>/dev/null
	wait "$LAB_WIRE"
	LAB_WIRE=
	tcpdump -nn -q -r "$LAB_T/wire.pcap" >"$LAB_T/out/wire.txt" \
	    2>/dev/null && [ -s "$LAB_T/out/wire.txt" ]
}

# lab_score NAME: score the batches against the truth, setting LS_flows,
# LS_worst and the rest of the SCORE line; prints the table as
# diagnostics.  With shipd the batches are those ingestd loaded (spool
# done/), and three more lines: the outbox is empty, and MySQL holds as
# many flows (one row a flow id) and packets as those files.  shipd's own
# uploads while capd ran are flows too: the truth gets their port, as
# shipd's, the vbs user's.
lab_score() {
	_src=$LAB_T/data/outbox
	if [ -n "$LAB_SHIP" ]; then
		_src=$LAB_T/ingest/spool/done
		printf 'tcp\t%s\tshipd\t%s\tshipd/vbs\n' "$LAB_IPORT" \
		    "$(id -u vbs)" >>"$LAB_T/out/truth.tsv"
	fi
	_wire=
	[ -s "$LAB_T/out/wire.txt" ] && _wire="-w $LAB_T/out/wire.txt"
	"$LAB_PY" "$LAB/score.py" $_wire "$LAB_T/out/truth.tsv" \
	    "$LAB_T/out/jobs.tsv" "$_src" >"$LAB_T/score.txt" 2>&1
	grep -v '^SCORE' "$LAB_T/score.txt"
	_line=$(grep '^SCORE' "$LAB_T/score.txt")
	[ -n "$_line" ] || { not_ok "$1: scorer failed"
		sed 's/^/# /' "$LAB_T/score.txt"; return 1; }
	echo "# $_line"
	eval "$(echo "$_line" | sed 's/^SCORE //; s/\([a-z]*\)=/LS_\1=/g')"
	[ -n "$LAB_SHIP" ] || return 0
	_left=$(ls "$LAB_T/data/outbox" | grep -c '\.sqlite$')
	equal "$1: the outbox is empty, every batch shipped" "$_left" 0
	equal "$1: MySQL's flows are the loaded batches' flow ids" \
	    "$(mdb 'SELECT COUNT(*) FROM vbs.flows')" "$LS_ids"
	equal "$1: MySQL's packets are the loaded batches' packets" \
	    "$(mdb 'SELECT COUNT(*) FROM vbs.packets')" "$LS_packets"
}
