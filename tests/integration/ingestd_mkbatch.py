#!/usr/bin/env python3
"""tests/integration/ingestd_mkbatch.py: makes SQLite batches for ingestd's
tests and bench, valid ones and broken ones, with proto/batch.sql.

  make OUTDIR [--client C] [--batches K] [--flows N] [--packets P]
       [--seed S] [--tag T] [--idle N]
      K batches named C.<batch_id>.sqlite holding N flows and P packets
      in all.  Flows span batches as flowd's do: a row in every batch
      where the flow has packets, ended 0 until its last, cumulative
      totals, seq going on across batches.  Prints the totals as
      "batches K flows N packets P".  With --idle N, every Nth packet
      (not a flow's first) has 3000 s added to its rel_us.
  count BATCH... : what the batches hold, as "K F P": K batches, F
      distinct flows, P packet rows.
  tsv BATCH... : the packet rows of the batches as TSV on stdout
      (flow_id seq direction size tcp_flags rel_us), for the bench.
  chunktsv BATCH... : the same packets as the packet_chunks rows ingestd
      writes (ingestd/sql/003_packet_chunks.sql), as LOAD DATA reads
      them (flow_id seq rel0 pk, pk escaped), for the bench.
  flowtsv BATCH... : the flows rows ingestd keeps in the end, one per
      flow (the latest row: highest next_seq, then ended; the least
      start_us), addresses binary, as LOAD DATA reads them (the columns
      of FLOW_TSV_COLUMNS), for the bench.
  corrupt MODE IN OUT : a broken copy; MODE is flip, truncate, version,
      foreign, orphan, schema, meta, dupseq (a packet's seq twice), or
      a changed copy that is still valid: shuffle (packets rows in
      random order, a flow's too), knownorphan (a flow row whose flow
      has packets here and a row in an earlier batch removed).
"""

import os
import random
import shutil
import sqlite3
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = open(os.path.join(TOP, "proto", "batch.sql")).read()


def new_batch(path):
    if os.path.exists(path):
        os.unlink(path)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    return db


def make(outdir, client, nbatches, nflows, npackets, seed, tag, idle=0):
    rnd = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    # Each flow: a start time, a packet count (at least 1), its packets.
    counts = [1] * nflows
    for _ in range(npackets - nflows):
        counts[min(int(rnd.paretovariate(1.2)) - 1, nflows - 1)
               if rnd.random() < 0.3 else rnd.randrange(nflows)] += 1
    base = 1700000000000000
    events = []  # (time, flow index)
    flows = []
    for i, c in enumerate(counts):
        t = base + rnd.randrange(0, 600000000)
        v6 = rnd.random() < 0.3
        proto = 6 if rnd.random() < 0.7 else 17
        f = {
            "id": (seed & 0xffff) << 40 | (i + 1), "v6": v6, "proto": proto,
            "lip": "fd00::%x" % (i % 65535 + 1) if v6 else
            "198.18.%d.%d" % (i // 250 % 250, i % 250 + 1),
            "rip": "fd00:1::%x" % rnd.randrange(1, 65535) if v6 else
            "198.19.%d.%d" % (rnd.randrange(250), rnd.randrange(1, 250)),
            "lport": rnd.randrange(32768, 61000),
            "rport": rnd.choice([443, 80, 53, 22, 8443, 123]),
            "app": rnd.choice(["curl", "firefox", "ssh", "dig", None,
                               "wget", "python3", "sshd\xe9"]),
            "start": t, "seq": 0, "po": 0, "pi": 0, "bo": 0, "bi": 0,
            "last": t, "n": c,
        }
        flows.append(f)
        for _ in range(c):
            t += rnd.randrange(0, 2000000)
            events.append((t, i))
    events.sort()
    per = -(-len(events) // nbatches)
    totals = [0, 0, 0]
    npk = 0
    for b in range(nbatches):
        chunk = events[b * per:(b + 1) * per]
        if not chunk:
            break
        bid = "%s-%s-%06d" % (client, tag, b + 1)
        db = new_batch(os.path.join(outdir, "%s.%s.sqlite" % (client, bid)))
        seen = {}
        prow = []
        for t, i in chunk:
            f = flows[i]
            if i not in seen:
                seen[i] = f["seq"]
            size = rnd.randrange(40, 1500)
            d = rnd.randrange(2)
            if d == 0:
                f["po"] += 1
                f["bo"] += size
            else:
                f["pi"] += 1
                f["bi"] += size
            flags = rnd.choice([0x10, 0x18, 0x02, 0x12, 0x11, 0x04]) \
                if f["proto"] == 6 else 0
            rel = 0 if f["seq"] == 0 else t - f["last"]
            npk += 1
            if idle and f["seq"] > 0 and npk % idle == 0:
                rel += 3000000000   # a long idle gap: 31 bits do not hold it
            f["last"] = t
            prow.append((f["id"], f["seq"], d, size, flags, rel))
            f["seq"] += 1
        db.executemany("INSERT INTO packets VALUES (?,?,?,?,?,?)", prow)
        frow = []
        for i, first in seen.items():
            f = flows[i]
            ended = 1 if f["seq"] == f["n"] else 0
            frow.append((f["id"], f["start"], f["last"], 6 if f["v6"] else 4,
                         f["proto"], f["lip"], f["lport"], f["rip"],
                         f["rport"], f["po"], f["pi"], f["bo"], f["bi"],
                         f["app"], 1000 + i % 50 if f["app"] else None,
                         1000 if f["app"] else None,
                         "/usr/bin/" + f["app"] if f["app"] else None,
                         "event" if f["app"] else "none",
                         1200 if f["app"] else None,
                         "fin" if ended else "open", ended, first, "eth0"))
        db.executemany("INSERT INTO flows VALUES (%s)" %
                       ",".join("?" * 23), frow)
        meta = {"batch_id": bid, "client_id": client, "schema_version": "1",
                "os": "Linux", "software": "ingestd_mkbatch",
                "first_us": str(chunk[0][0]), "last_us": str(chunk[-1][0]),
                "flows": str(len(frow)), "packets": str(len(prow))}
        db.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
        db.commit()
        db.close()
        totals[0] += 1
        totals[2] += len(prow)
    totals[1] = nflows
    print("batches %d flows %d packets %d" % tuple(totals))


def count(paths):
    flows, packets = set(), 0
    for p in paths:
        db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
        flows.update(r[0] for r in db.execute("SELECT flow_id FROM flows"))
        packets += db.execute("SELECT COUNT(*) FROM packets").fetchone()[0]
        db.close()
    print("%d %d %d" % (len(paths), len(flows), packets))


def tsv(paths):
    out = sys.stdout
    for p in paths:
        db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
        for r in db.execute("SELECT flow_id, seq, direction, size, "
                            "tcp_flags, rel_us FROM packets"):
            out.write("%d\t%d\t%d\t%d\t%d\t%d\n" % r)
        db.close()


CHUNK_MAX = 256
REL_MAX = 0x7fffffff


def escape(b):
    out = bytearray()
    for c in b:
        if c == 0:
            out += b"\\0"
        elif c == 9:
            out += b"\\t"
        elif c == 10:
            out += b"\\n"
        elif c == 92:
            out += b"\\\\"
        else:
            out.append(c)
    return bytes(out)


def chunk_rows(paths):
    """The packet_chunks rows of the batches, as ingestd cuts them: per
    flow and batch, a run of at most CHUNK_MAX packets, a new run at a
    packet whose rel_us needs more than 31 bits (its rel_us is rel0)."""
    for p in paths:
        db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
        run = []
        for r in db.execute("SELECT flow_id, seq, direction, size, "
                            "tcp_flags, rel_us FROM packets "
                            "ORDER BY flow_id, seq"):
            if run and (r[0] != run[0][0] or len(run) == CHUNK_MAX or
                        r[5] > REL_MAX):
                yield pack(run)
                run = []
            run.append(r)
        if run:
            yield pack(run)
        db.close()


def pack(run):
    rel0 = run[0][5] if run[0][5] > REL_MAX else None
    words = b"".join(((r[2] << 31) | (0 if i == 0 and rel0 is not None
                                       else r[5])).to_bytes(4, "big")
                     for i, r in enumerate(run))
    sizes = b"".join(r[3].to_bytes(3, "big") for r in run)
    flags = bytes(r[4] for r in run)
    return run[0][0], run[0][1], rel0, words + sizes + flags


def chunktsv(paths):
    out = sys.stdout.buffer
    for flow, seq, rel0, pk in chunk_rows(paths):
        out.write(b"%d\t%d\t%s\t%s\n" % (
            flow, seq, b"\\N" if rel0 is None else b"%d" % rel0,
            escape(pk)))


FLOW_TSV_COLUMNS = ("flow_id start_us end_us ip_version protocol local_ip "
                    "local_port remote_ip remote_port packets_out "
                    "packets_in bytes_out bytes_in app pid uid exe "
                    "label_source label_delay_us end_reason ended iface "
                    "next_seq")


def flowtsv(paths):
    import ipaddress
    keep = {}
    for p in paths:
        db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
        n = dict(db.execute("SELECT flow_id, COUNT(*) FROM packets "
                            "GROUP BY flow_id"))
        for r in db.execute("SELECT flow_id, start_us, end_us, ip_version, "
                            "protocol, local_ip, local_port, remote_ip, "
                            "remote_port, packets_out, packets_in, "
                            "bytes_out, bytes_in, app, pid, uid, exe, "
                            "label_source, label_delay_us, end_reason, "
                            "ended, iface, first_seq FROM flows"):
            r = list(r)
            r[-1] += n.get(r[0], 0)      # first_seq -> next_seq
            old = keep.get(r[0])
            if old is None:
                keep[r[0]] = r
                continue
            start = min(old[1], r[1])
            if (r[-1], r[20]) > (old[-1], old[20]):
                keep[r[0]] = r
            keep[r[0]][1] = start
        db.close()
    out = sys.stdout.buffer
    for fid in sorted(keep):
        r = keep[fid]
        f = []
        for i, v in enumerate(r):
            if v is None:
                f.append(b"\\N")
            elif i in (5, 7):
                f.append(escape(ipaddress.ip_address(v).packed))
            elif isinstance(v, str):
                f.append(escape(v.encode()))
            else:
                f.append(b"%d" % v)
        out.write(b"\t".join(f) + b"\n")


def corrupt(mode, src, dst):
    shutil.copyfile(src, dst)
    if mode in ("flip", "truncate"):
        data = bytearray(open(dst, "rb").read())
        psz = int.from_bytes(data[16:18], "big")
        if mode == "flip":
            # The b-tree headers of every page after the first: page
            # type, first freeblock, cell count.  Row bytes are not
            # checksummed by SQLite; structure is what can be detected.
            for p in range(1, len(data) // psz):
                for k in range(0, 5):
                    data[p * psz + k] ^= 0xA5
        else:
            data = data[:len(data) - psz // 2 - 1000]
        open(dst, "wb").write(bytes(data))
        return
    db = sqlite3.connect(dst)
    if mode == "version":
        db.execute("PRAGMA user_version = 2")
        db.execute("UPDATE meta SET value = '2' WHERE key = "
                   "'schema_version'")
    elif mode == "foreign":
        db.execute("UPDATE meta SET value = 'mallory' WHERE key = "
                   "'client_id'")
    elif mode == "orphan":
        db.execute("INSERT INTO packets VALUES (424242424242, 0, 0, 60, "
                   "2, 0)")
        db.execute("UPDATE meta SET value = value + 1 WHERE key = "
                   "'packets'")
    elif mode == "schema":
        db.execute("CREATE VIEW v AS SELECT * FROM flows")
    elif mode == "meta":
        db.execute("DELETE FROM meta WHERE key = 'batch_id'")
    elif mode == "dupseq":
        db.execute("UPDATE packets SET seq = seq - 1 WHERE rowid = (SELECT "
                   "MAX(p.rowid) FROM packets p JOIN flows f USING "
                   "(flow_id) WHERE p.seq > f.first_seq)")
    elif mode == "shuffle":
        rnd = random.Random(11)
        rows = db.execute("SELECT * FROM packets").fetchall()
        rnd.shuffle(rows)
        db.execute("DELETE FROM packets")
        db.executemany("INSERT INTO packets VALUES (?, ?, ?, ?, ?, ?)", rows)
    elif mode == "seqwrap":
        # A flow whose last packet has seq 2^32 - 1: each seq fits, but
        # its next_seq in MySQL would not.
        fid, first, n = db.execute(
            "SELECT f.flow_id, f.first_seq, COUNT(*) FROM flows f JOIN "
            "packets p USING (flow_id) GROUP BY f.flow_id ORDER BY "
            "f.flow_id LIMIT 1").fetchone()
        d = (1 << 32) - n - first
        db.execute("UPDATE flows SET first_seq = first_seq + ? WHERE "
                   "flow_id = ?", (d, fid))
        db.execute("UPDATE packets SET seq = seq + ? WHERE flow_id = ?",
                   (d, fid))
    elif mode == "knownorphan":
        n = db.execute("DELETE FROM flows WHERE flow_id = (SELECT MIN("
                       "flow_id) FROM flows WHERE first_seq > 0 AND "
                       "flow_id IN (SELECT flow_id FROM packets))").rowcount
        db.execute("UPDATE meta SET value = value - ? WHERE key = 'flows'",
                   (n,))
    else:
        sys.exit("unknown mode " + mode)
    db.commit()
    if mode == "shuffle":
        db.execute("VACUUM")
    db.close()


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "make":
        opts = {"--client": "c1", "--batches": "4", "--flows": "100",
                "--packets": "2000", "--seed": "1", "--tag": "b",
                "--idle": "0"}
        outdir = a[1]
        i = 2
        while i < len(a):
            opts[a[i]] = a[i + 1]
            i += 2
        make(outdir, opts["--client"], int(opts["--batches"]),
             int(opts["--flows"]), int(opts["--packets"]),
             int(opts["--seed"]), opts["--tag"], int(opts["--idle"]))
    elif a[0] == "count":
        count(a[1:])
    elif a[0] == "tsv":
        tsv(a[1:])
    elif a[0] == "chunktsv":
        chunktsv(a[1:])
    elif a[0] == "flowtsv":
        flowtsv(a[1:])
    elif a[0] == "corrupt":
        corrupt(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
