#!/usr/bin/env python3
"""ham.py - ordinary mail and support text (all "none") for --eval

Usage:
  tests/eval/ham.py SHARED_EVAL_DIR --labels SET > SET.labels
      SET is easy-ham (spamassassin_public_corpus/easy-ham-1) or enron
      (enron_maildir_subset/maildir, every regular file).  Prints a labels
      file: "relative/path<TAB>none" per message, sorted, paths relative
      to the set's directory.  That directory is printed on stderr as
      "dir: PATH", and alone on stdout with --dir, so a script does
          dir=$(ham.py "$SHARED" --dir enron)
          ham.py "$SHARED" --labels enron > enron.labels
          triage-milter -c CONF --eval "$dir" --labels enron.labels
  tests/eval/ham.py SHARED_EVAL_DIR --dir SET
  tests/eval/ham.py SHARED_EVAL_DIR --tsv bitext > bitext.tsv
      Bitext customer-service utterances as "none<TAB>text" rows (header
      "label\\ttext").  Rows with Bitext's W flag (offensive language,
      mostly "damn"/"goddamn") are kept: mild swearing in a support request
      must not be called abusive, legal or public.

Every message counts as ham: the floor is how many get flagged abusive,
legal-threat or public-threat (at most 1 in 200).  Exits 2 with a message
when the data is missing.  Python 3 stdlib only.
"""
import csv
import os
import sys

SETS = {
    "easy-ham": os.path.join("spamassassin_public_corpus", "easy-ham-1"),
    "enron": os.path.join("enron_maildir_subset", "maildir"),
}
BITEXT = os.path.join("bitext_customer_service_intents",
                      "Bitext_Sample_Customer_Service_Training_Dataset.csv")


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r", "\\r").replace("\n", "\\n"))


def fail(msg):
    print("ham.py: %s" % msg, file=sys.stderr)
    sys.exit(2)


def set_dir(shared, name):
    if name not in SETS:
        fail("unknown set %r (one of: %s)" % (name, ", ".join(sorted(SETS))))
    d = os.path.join(shared, SETS[name])
    if not os.path.isdir(d):
        fail("%s: not a directory" % d)
    return d


def labels(shared, name):
    d = set_dir(shared, name)
    print("dir: %s" % d, file=sys.stderr)
    files = []
    for root, dirs, names in os.walk(d):
        dirs.sort()
        for n in names:
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(os.path.relpath(p, d))
    for rel in sorted(files):
        if "\t" in rel or "\n" in rel:
            continue
        sys.stdout.write("%s\tnone\n" % rel)


def bitext(shared):
    path = os.path.join(shared, BITEXT)
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        fail(str(e))
    sys.stdout.write("label\ttext\n")
    with f:
        for row in csv.DictReader(f):
            sys.stdout.write("none\t%s\n" % esc(row["utterance"]))


def main():
    a = sys.argv[1:]
    if len(a) != 3 or a[1] not in ("--labels", "--dir", "--tsv"):
        fail("usage: ham.py SHARED_EVAL_DIR --labels|--dir easy-ham|enron"
             " | --tsv bitext")
    shared, opt, name = a
    if opt == "--labels":
        labels(shared, name)
    elif opt == "--dir":
        print(set_dir(shared, name))
    elif name == "bitext":
        bitext(shared)
    else:
        fail("unknown TSV set %r (only: bitext)" % name)


if __name__ == "__main__":
    main()
