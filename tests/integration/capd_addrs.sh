#!/bin/sh
# tests/integration/capd_addrs.sh: capd follows the host's addresses.
# Live capture in a namespace the test makes (198.18.6.0/24): when an
# address is added to an interface, capd's BPF filter (built from the
# host's addresses) is stale, so capd says so and exits with status 3
# (documented in capd.8) for vbsd to restart it with a new filter.  The
# recording it leaves is whole and ends with a bye that says why.
. "$(dirname "$0")/../lib.sh"
need_root "capd addresses"
command -v ip >/dev/null 2>&1 || { skip "capd addresses" "no ip"; exit 0; }
ensure_users || { not_ok "capd addresses: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
A=vbs-ad-a$$ B=vbs-ad-b$$ VA=vada$$ VB=vadb$$
cleanup() {
	[ -n "$cp" ] && kill "$cp" 2>/dev/null
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT INT TERM
ns_pair "$A" "$B" "$VA" "$VB" 198.18.6 fd00:6 ||
	{ not_ok "capd addresses: namespaces"; exit 1; }
mkdir -p "$t/empty"
cat >"$t/c.conf" <<CONF
[vbsd]
capd_user = vbs-capd
[capd]
chroot = $t/empty
CONF
ip netns exec "$A" "$BIN/capd" -d -f "$t/c.conf" -i "$VA" \
    -w "$t/out.rec" 2>"$t/log" &
cp=$!
wait_for 10 grep -q "capturing" "$t/log" || { not_ok "capd starts"; exit 1; }
ip -n "$A" addr add 198.18.6.77/24 dev "$VA"
if wait_for 10 sh -c "! kill -0 $cp 2>/dev/null"; then
	wait "$cp"
	rc=$?
	cp=
	equal "capd exits 3 when an address is added" "$rc" 3
	check "and says why" grep -q "addresses changed" "$t/log"
	check "its recording ends with a bye naming the reason" sh -c \
	    "'$BIN/vbsctl' dump '$t/out.rec' | tail -1 | grep -q 'host addresses changed'"
else
	not_ok "capd exits when an address is added"
fi
