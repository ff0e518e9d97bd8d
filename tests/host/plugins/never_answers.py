"""Reads everything and answers nothing, not even the handshake."""

import sys

for _line in sys.stdin:
    pass
