#!/usr/bin/env python3
"""kaggle.py - Kaggle "Detecting Insults" (Impermium) train set as --eval TSV

Usage: tests/eval/kaggle.py SHARED_EVAL_DIR > kaggle.tsv
       triage-milter -c CONF --eval kaggle.tsv

Reads SHARED_EVAL_DIR/kaggle_insults_impermium/train.csv (columns Insult,
Date, Comment).  Insult=1 becomes "abusive", 0 becomes "none" (many
non-insults still swear: the set measures insult vs mere profanity).

The Comment field is wrapped in an extra pair of quotes and holds literal
backslash escapes written by the scraper: \\n, \\t, \\xNN (Latin-1 byte or
UTF-8 sequence), \\uNNNN, \\\\, \\' and \\".  They are decoded into the text;
\\xNN runs are taken as UTF-8 when they form valid UTF-8, else as Latin-1
(\\xa0 is a no-break space, written as a space).  About 1 in 400
comments was escaped more than once (\\\\xc2\\\\xa0); decoding repeats until
nothing changes (at most 4 passes).  Prints "label<TAB>text" with a header line,
tabs/newlines/backslashes escaped as \\t \\n \\\\.  Python 3 stdlib only.
"""
import csv
import os
import re
import sys

ESC = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)",
                 re.S)
SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"',
          "/": "/"}


def decode(s):
    """Undo the literal escapes; bytes from \\xNN runs go through UTF-8."""
    out = []
    pending = bytearray()

    def flush():
        if pending:
            try:
                out.append(pending.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(pending.decode("latin-1"))
            pending.clear()

    pos = 0
    for m in ESC.finditer(s):
        if m.start() > pos:
            flush()
            out.append(s[pos:m.start()])
        e = m.group(1)
        if e[0] == "x":
            pending.append(int(e[1:], 16))
        else:
            flush()
            if e[0] in "uU" and len(e) > 1:
                out.append(chr(int(e[1:], 16)))
            else:
                out.append(SIMPLE.get(e, "\\" + e))
        pos = m.end()
    flush()
    out.append(s[pos:])
    return "".join(out)


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r", "\\r").replace("\n", "\\n"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: kaggle.py SHARED_EVAL_DIR")
    path = os.path.join(sys.argv[1], "kaggle_insults_impermium", "train.csv")
    try:
        f = open(path, encoding="utf-8", newline="")
    except OSError as e:
        print("kaggle.py: %s" % e, file=sys.stderr)
        sys.exit(2)
    out = sys.stdout
    out.write("label\ttext\n")
    with f:
        for row in csv.DictReader(f):
            text = row["Comment"]
            if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
                text = text[1:-1]
            # some comments were escaped two or three times ("\\\\xc2\\\\xa0")
            for _ in range(4):
                decoded = decode(text)
                if decoded == text:
                    break
                text = decoded
            text = text.replace("\xa0", " ")
            label = "abusive" if row["Insult"].strip() == "1" else "none"
            out.write("%s\t%s\n" % (label, esc(text)))


if __name__ == "__main__":
    main()
