"""Answers plugin.register with whatever SHELF_DECLARATION holds."""

import _raw

_raw.serve()
