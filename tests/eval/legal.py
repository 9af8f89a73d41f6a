#!/usr/bin/env python3
"""legal.py - legal_threats TSVs as triage-milter --eval input.

Usage: legal.py SHARED_EVAL_DIR [dev|harvest|public|all]

Reads SHARED_EVAL_DIR/legal_threats/{dev,harvest_dev,public_dev}.tsv
(columns id, source, source_ref, label, text; text already has \\t and
\\n escaped) and prints "label<TAB>text" rows with a "label\\ttext"
header.  Labels map to flags: legal -> legal-threat, public ->
public-threat, mention and none -> none.  Texts are passed through
unchanged, so they stay escaped.  Exit 2 on a usage or read error.
"""
import os
import sys

FILES = {
    "dev": ["dev.tsv"],
    "harvest": ["harvest_dev.tsv"],
    "public": ["public_dev.tsv"],
}
FILES["all"] = FILES["dev"] + FILES["harvest"] + FILES["public"]
LABELS = {"legal": "legal-threat", "public": "public-threat",
          "mention": "none", "none": "none"}


def rows(path):
    """Yield (label, text) of one legal_threats TSV."""
    with open(path, encoding="utf-8", newline="\n") as f:
        header = f.readline().rstrip("\n").split("\t")
        li, ti = header.index("label"), header.index("text")
        for n, line in enumerate(f, 2):
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) <= max(li, ti):
                sys.exit("%s:%d: too few columns" % (path, n))
            label = LABELS.get(cols[li])
            if label is None:
                sys.exit("%s:%d: unknown label %r" % (path, n, cols[li]))
            # a stray tab would split the text: keep it, escaped
            yield label, "\\t".join(cols[ti:])


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] not in FILES):
        sys.stderr.write("usage: legal.py SHARED_EVAL_DIR "
                         "[dev|harvest|public|all]\n")
        return 2
    which = argv[2] if len(argv) == 3 else "dev"
    out = sys.stdout
    out.write("label\ttext\n")
    try:
        for name in FILES[which]:
            path = os.path.join(argv[1], "legal_threats", name)
            for label, text in rows(path):
                out.write("%s\t%s\n" % (label, text))
    except OSError as e:
        sys.stderr.write("legal.py: %s\n" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
