#!/usr/bin/env python3
"""davidson.py - Davidson et al. 2017 hate/offensive tweets as --eval TSV

Usage: tests/eval/davidson.py SHARED_EVAL_DIR > davidson.tsv
       triage-milter -c CONF --eval davidson.tsv

Reads SHARED_EVAL_DIR/davidson_hate_offensive/labeled_data.csv.  class 0
(hate speech) and 1 (offensive language) become "abusive|profanity"
(either flag counts); class 2 (neither) becomes "none".  HTML entities
of the tweets (&amp; &#128514;) are decoded.  Prints "label<TAB>text"
with a header line, tabs/newlines/backslashes escaped as \\t \\n \\\\.
Python 3 stdlib only.
"""
import csv
import html
import os
import sys


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r", "\\r").replace("\n", "\\n"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: davidson.py SHARED_EVAL_DIR")
    path = os.path.join(sys.argv[1], "davidson_hate_offensive",
                        "labeled_data.csv")
    try:
        f = open(path, encoding="utf-8", newline="")
    except OSError as e:
        print("davidson.py: %s" % e, file=sys.stderr)
        sys.exit(2)
    out = sys.stdout
    out.write("label\ttext\n")
    with f:
        for row in csv.DictReader(f):
            cls = row["class"].strip()
            if cls in ("0", "1"):
                label = "abusive|profanity"
            elif cls == "2":
                label = "none"
            else:
                continue
            out.write("%s\t%s\n" % (label, esc(html.unescape(row["tweet"]))))


if __name__ == "__main__":
    main()
