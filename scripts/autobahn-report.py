#!/usr/bin/env python3
"""Summarises an Autobahn|Testsuite report (index.json) for agent "netlab": counts per
behavior, and the FAILED cases. Exit status 1 when any case failed.

    autobahn-report.py REPORT/index.json "TITLE"
"""
import collections
import json
import sys

idx = json.load(open(sys.argv[1]))["netlab"]
count = collections.Counter(v["behavior"] for v in idx.values())
close = collections.Counter(v["behaviorClose"] for v in idx.values())
failed = sorted((k for k, v in idx.items()
                 if v["behavior"] not in ("OK", "NON-STRICT", "INFORMATIONAL")
                 or v["behaviorClose"] not in ("OK", "INFORMATIONAL")),
                key=lambda c: [int(x) for x in c.split(".")])
print("%s: %d cases" % (sys.argv[2], len(idx)))
print("  behavior: " + ", ".join("%s %d" % kv for kv in sorted(count.items())))
print("  close:    " + ", ".join("%s %d" % kv for kv in sorted(close.items())))
if failed:
    print("  FAILED cases: " + " ".join(failed))
    sys.exit(1)
print("  none FAILED")
