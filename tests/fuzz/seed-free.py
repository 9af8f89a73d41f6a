#!/usr/bin/env python3
"""seed-free.py - list corpus files that do not carry text of the seeds

Usage: seed-free.py SEED-DIR[:SEED-DIR...] DIR...

libFuzzer mutates the seed messages it is given (FUZZ_SEEDS, the MIME test
messages in ../shared/eval), so many inputs it generates are those messages
with a few bytes changed.  That text is not ours to commit: run.sh merges
into tests/fuzz/corpus only the files this prints, those with at most
MAX_COPIED bytes and MAX_SHARE of their length found verbatim in a seed
(sampled: every STEP bytes, a window of WINDOW bytes is looked up).
"""
import os
import sys

WINDOW = 64      # long enough that shared MIME boilerplate rarely matches
STEP = 32
MAX_COPIED = 512
MAX_SHARE = 0.2


def read_seeds(dirs):
    blob = bytearray()
    for d in dirs:
        for root, _, files in os.walk(d):
            for name in files:
                with open(os.path.join(root, name), 'rb') as f:
                    blob += f.read() + b'\0'
    return bytes(blob)


def copied(data, blob, limit):
    """bytes of data found in blob, counted by sampled windows; stops
    counting past limit"""
    found = 0
    for off in range(0, len(data) - WINDOW + 1, STEP):
        if blob.find(data[off:off + WINDOW]) >= 0:
            found += STEP
            if found > limit:
                break
    return found


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    blob = read_seeds(d for d in sys.argv[1].split(':') if d)
    for d in sys.argv[2:]:
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if not os.path.isfile(path):
                continue
            with open(path, 'rb') as f:
                data = f.read()
            limit = min(MAX_COPIED, MAX_SHARE * len(data))
            if not blob or copied(data, blob, limit) <= limit:
                print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
