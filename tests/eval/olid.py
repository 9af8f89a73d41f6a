#!/usr/bin/env python3
"""olid.py - OLID (OffensEval 2019) training set as a triage-milter --eval TSV

Usage: tests/eval/olid.py SHARED_EVAL_DIR > olid.tsv
       triage-milter -c CONF --eval olid.tsv

Reads SHARED_EVAL_DIR/olid_offenseval2019/olid-training-v1.0.tsv (columns
id, tweet, subtask_a, ...).  OFF (offensive: targeted insults, threats and
untargeted profanity) becomes "abusive|profanity" (either flag counts);
NOT becomes "none".  Prints "label<TAB>text" with a header line; tabs,
newlines and backslashes in the text are escaped as \\t \\n \\\\.
Exits 2 (message on stderr) when the file is missing.  Python 3 stdlib only.
"""
import os
import sys


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r", "\\r").replace("\n", "\\n"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: olid.py SHARED_EVAL_DIR")
    path = os.path.join(sys.argv[1], "olid_offenseval2019",
                        "olid-training-v1.0.tsv")
    try:
        f = open(path, encoding="utf-8", newline="")
    except OSError as e:
        print("olid.py: %s" % e, file=sys.stderr)
        sys.exit(2)
    out = sys.stdout
    out.write("label\ttext\n")
    with f:
        header = f.readline()
        if not header.startswith("id\t"):
            sys.exit("olid.py: %s: unexpected header" % path)
        for n, line in enumerate(f, 2):
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 3:
                print("olid.py: %s:%d: skipped" % (path, n), file=sys.stderr)
                continue
            tweet, a = cols[1], cols[2]
            if a == "OFF":
                label = "abusive|profanity"
            elif a == "NOT":
                label = "none"
            else:
                print("olid.py: %s:%d: label %r" % (path, n, a),
                      file=sys.stderr)
                continue
            out.write("%s\t%s\n" % (label, esc(tweet)))


if __name__ == "__main__":
    main()
