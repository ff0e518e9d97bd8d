"""Dies before the handshake, explaining itself on stderr."""

import sys

sys.stderr.write("crash_on_start: cannot read my config\n")
sys.exit(3)
