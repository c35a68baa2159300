#!/usr/bin/env python3
# tests/lab/flowdiff.py A B: the flows on which two sets of flowd's
# batches differ (a test tool, not part of VBS).  A and B are outboxes
# or batch files, read as score.py reads them.  A flow is keyed by its
# protocol, both ends and its first packet's time; it differs when only
# one side has it, or when its packets, bytes, end or label differ.  A
# live flowd ends its open flows at shutdown, a replay at the end of
# its input: "shutdown" and "eof" are the same end here.
# Prints at most 20 differences as TAP diagnostics, "# same" when none;
# exits 1 when any.
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score import load_rows  # noqa: E402

FIELDS = ("packets_out", "packets_in", "bytes_out", "bytes_in",
          "end_reason", "app", "uid", "label_source")


def flows(path):
    out = {}
    for r in load_rows([path])[1]:
        k = (r["protocol"], r["local_ip"], r["local_port"], r["remote_ip"],
             r["remote_port"], r["start_us"])
        if r["end_reason"] == "shutdown":
            r["end_reason"] = "eof"
        out[k] = tuple(r[f] for f in FIELDS)
    return out


def main(a, b):
    fa, fb = flows(a), flows(b)
    diffs = []
    for k in sorted(set(fa) | set(fb), key=str):
        va, vb = fa.get(k), fb.get(k)
        if va != vb:
            diffs.append((k, va, vb))
    for k, va, vb in diffs[:20]:
        print("# %s %s:%s -> %s:%s start %s\n#   A %s\n#   B %s" %
              (k + (va and dict(zip(FIELDS, va)), vb and
                    dict(zip(FIELDS, vb)))))
    print("# %d of %d/%d flows differ" % (len(diffs), len(fa), len(fb))
          if diffs else "# same")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
