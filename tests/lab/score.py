#!/usr/bin/env python3
# tests/lab/score.py [-j] [-w WIRE] TRUTH.tsv [JOBS.tsv] BATCH_OR_DIR...:
# score flowd's batches against the lab's ground truth (a test tool, not
# part of VBS).
# -w WIRE: tcpdump -nn -q lines of the UDP the server received; then a
# (udp, port, IP version) expects as many flows as distinct client
# ports, when fewer than its jobs.
# A directory gives every file in it not named .*: an outbox (ID.sqlite)
# or the done/ of ingestd's spool (CLIENT.ID, the files as loaded).
#
# Each flow is the row a loader keeps (per flow_id, the one with
# ended = 1, else the latest).  TCP and UDP flows are matched to the
# truth by (protocol, remote port); the client is the local side.  A
# flow is labelled when app is set, right when app and uid are the
# truth's.  Prints a table by protocol, IP version, flow length (1-5,
# 6-50, >50 packets), program and label provenance, as TAP diagnostics,
# and last a line
#   SCORE flows=N labelled=N right=N stray=N other=N worst=PCT bucket=B
#         missing=N ids=N packets=N
# where worst is the lowest right share of any protocol, IP version or
# length bucket; ids counts the distinct flow ids of every protocol (one
# row each in MySQL's flows) and packets the packets rows of all the
# batches (MySQL's packets, once each batch is loaded).  With -j, writes the same figures as JSON to stdout
# instead of the table.
import collections, glob, json, os, re, sqlite3, sys

PROTO = {6: "tcp", 17: "udp"}


def length_bucket(n):
    return "1-5" if n <= 5 else "6-50" if n <= 50 else ">50"


def load_rows(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(f for f in glob.glob(os.path.join(p, "*"))
                            if os.path.isfile(f))
        else:
            files.append(p)
    best = {}
    packets = 0
    for f in files:
        db = sqlite3.connect("file:%s?mode=ro" % f, uri=True)
        db.row_factory = sqlite3.Row
        for r in db.execute("SELECT * FROM flows"):
            r = dict(r)
            old = best.get(r["flow_id"])
            if old is None or (r["ended"], r["end_us"]) > \
                    (old["ended"], old["end_us"]):
                best[r["flow_id"]] = r
        packets += db.execute("SELECT COUNT(*) FROM packets").fetchone()[0]
        db.close()
    return files, list(best.values()), packets


WIRE_RE = re.compile(r" IP(6?) (\S+)\.(\d+) > \S+\.(\d+): UDP")


def load_wire(path, udp_ports):
    """Distinct client (address, port) per (udp, server port, IP version)
    in `tcpdump -nn -q -r` lines of what the server received."""
    tuples = collections.defaultdict(set)
    for line in open(path):
        m = WIRE_RE.search(line)
        if m is None or int(m.group(4)) not in udp_ports:
            continue
        tuples[("udp", int(m.group(4)), 6 if m.group(1) else 4)].add(
            (m.group(2), int(m.group(3))))
    return tuples


def main(argv):
    as_json = False
    wire_path = None
    while argv and argv[0] in ("-j", "-w"):
        if argv[0] == "-j":
            as_json = True
            argv = argv[1:]
        else:
            wire_path = argv[1]
            argv = argv[2:]
    truth_path = argv[0]
    jobs_path = argv[1] if len(argv) > 1 and argv[1].endswith(".tsv") else None
    batches = argv[2:] if jobs_path else argv[1:]
    truth = {}
    for line in open(truth_path).read().splitlines()[1:]:
        proto, port, app, uid, prog = line.split("\t")
        truth[(proto, int(port))] = (app, int(uid), prog)
    files, rows, packets = load_rows(batches)

    cnt = collections.defaultdict(lambda: [0, 0, 0])  # flows, labelled, right
    prov = collections.Counter()
    prov_len = collections.defaultdict(collections.Counter)
    wrong = []
    stray = other = 0
    seen = collections.Counter()
    delays = []
    for r in rows:
        proto = PROTO.get(r["protocol"])
        if proto is None:
            other += 1
            continue
        t = truth.get((proto, r["remote_port"]))
        if t is None:
            stray += 1
            wrong.append(("stray", r))
            continue
        n = r["packets_out"] + r["packets_in"]
        labelled = r["app"] is not None
        right = labelled and r["app"] == t[0] and r["uid"] == t[1]
        lb = length_bucket(n)
        seen[(proto, r["remote_port"], r["ip_version"])] += 1
        for b in ("all", "proto " + proto, "ipv%d" % r["ip_version"],
                  "len " + lb, "prog " + t[2] + " " + proto):
            c = cnt[b]
            c[0] += 1
            c[1] += labelled
            c[2] += right
        prov[r["label_source"]] += 1
        prov_len[lb][r["label_source"]] += 1
        if labelled and r["label_delay_us"] is not None:
            delays.append(r["label_delay_us"])
        if not right:
            wrong.append(("wrong" if labelled else "unlabelled", r))

    missing = []
    shared = 0
    if jobs_path:
        want = collections.Counter()
        for line in open(jobs_path).read().splitlines()[1:]:
            f = line.split("\t")
            want[(f[2], int(f[3]), int(f[4]))] += 1
        wire = load_wire(wire_path, {p for (pr, p) in truth
                                     if pr == "udp"}) if wire_path else None
        for k, v in sorted(want.items()):
            # UDP jobs that drew the same ephemeral port are one flow
            # by the flow's definition (one 5-tuple, within its idle
            # time): count what the server saw, when it was watched.
            if wire is not None and k[0] == "udp" and len(wire[k]) < v:
                shared += v - len(wire[k])
                v = len(wire[k])
            if seen[k] < v:
                missing.append((k, v, seen[k]))

    def pct(a, b):
        return 100.0 * a / b if b else 100.0

    worst, worst_b = 100.0, "-"
    for b, c in cnt.items():
        if b.startswith("prog "):
            continue
        if pct(c[2], c[0]) < worst:
            worst, worst_b = pct(c[2], c[0]), b
    delays.sort()
    summary = {
        "batches": len(files),
        "flows": cnt["all"][0], "labelled": cnt["all"][1],
        "right": cnt["all"][2], "stray": stray, "other": other,
        "worst": round(worst, 2), "worst_bucket": worst_b,
        "buckets": {b: {"flows": c[0], "labelled": c[1], "right": c[2]}
                    for b, c in sorted(cnt.items())},
        "provenance": dict(prov),
        "provenance_by_length": {k: dict(v) for k, v in prov_len.items()},
        "label_delay_us_median": delays[len(delays) // 2] if delays else None,
        "label_delay_us_p99": delays[int(len(delays) * 0.99)] if delays
        else None,
        "missing": [list(m[0]) + [m[1], m[2]] for m in missing],
        "ids": len(rows), "packets": packets, "shared": shared,
    }
    if as_json:
        json.dump(summary, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    print("# %d batches, %d TCP/UDP flows, %d stray TCP/UDP flows, "
          "%d flows of other protocols (ICMP, ...: not scored)"
          % (len(files), cnt["all"][0], stray, other))
    print("# %-28s %6s %10s %10s" % ("bucket", "flows", "labelled", "right"))
    order = ["all", "proto tcp", "proto udp", "ipv4", "ipv6", "len 1-5",
             "len 6-50", "len >50"]
    order += sorted(b for b in cnt if b.startswith("prog "))
    for b in order:
        c = cnt.get(b)
        if c is None or c[0] == 0:
            print("# %-28s %6d %10s %10s" % (b, 0, "-", "-"))
            continue
        print("# %-28s %6d %9.2f%% %9.2f%%" % (b, c[0], pct(c[1], c[0]),
                                              pct(c[2], c[0])))
    print("# provenance: " + ", ".join("%s %d (%.1f%%)" % (k, v,
          pct(v, cnt["all"][0])) for k, v in prov.most_common()))
    for lb in ("1-5", "6-50", ">50"):
        if prov_len[lb]:
            print("#   len %-5s " % lb + ", ".join("%s %d" % kv for kv in
                  prov_len[lb].most_common()))
    if delays:
        print("# label delay: median %d us, p99 %d us, max %d us"
              % (delays[len(delays) // 2], delays[int(len(delays) * 0.99)],
                 delays[-1]))
    # Wrong ones first; enough lines that the fallback lab's one-shots
    # (about 26 unlabelled by design) do not hide a bounded flow's miss.
    wrong.sort(key=lambda w: w[0] != "wrong")
    for what, r in wrong[:40]:
        print("# %s: %s ipv%d %s:%d -> %s:%d pkts %d/%d app=%s uid=%s "
              "source=%s end=%s" % (what, PROTO.get(r["protocol"]),
              r["ip_version"], r["local_ip"], r["local_port"],
              r["remote_ip"], r["remote_port"], r["packets_out"],
              r["packets_in"], r["app"], r["uid"], r["label_source"],
              r["end_reason"]))
    for k, v, s in missing:
        print("# fewer flows than jobs (or their distinct 5-tuples): "
              "%s/%d ipv%d: %d expected, %d flows" % (k[0], k[1], k[2], v, s))
    if shared:
        print("# %d UDP jobs reused the 5-tuple of another (one flow)"
              % shared)
    print("SCORE flows=%d labelled=%d right=%d stray=%d other=%d "
          "worst=%.2f bucket=%s missing=%d ids=%d packets=%d"
          % (cnt["all"][0], cnt["all"][1], cnt["all"][2], stray, other,
             worst, worst_b.replace(" ", "_"), len(missing), len(rows),
             packets))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
