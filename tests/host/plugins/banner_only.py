"""Prints a banner on stdout, where only JSON-RPC belongs, and never registers."""

import sys

sys.stdout.write("my-plugin v1.0 listening\n")
sys.stdout.flush()
for _line in sys.stdin:
    pass
