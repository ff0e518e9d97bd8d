"""Writes a line of 300,000 bytes to stderr between two short ones, in pieces, then dies."""

import sys

sys.stderr.write("before\n")
for _ in range(30):  # in pieces, as a plugin dumping a blob would
    sys.stderr.write("x" * 10_000)
    sys.stderr.flush()
sys.stderr.write("\nafter\n")
sys.exit(3)
