"""The HTTP gateway of ``pluginrt run``: client endpoints, the management API, resources.

::

    async with open_host(load_config("gateway.yaml")) as host:
        await serve(host, config_path="gateway.yaml")   # until SIGTERM or Ctrl-C

:class:`Gateway` is the ASGI app itself, for embedding in another ASGI server.
"""

from ._app import Gateway as Gateway
from ._errors import client_error as client_error
from ._report import CheckReport as CheckReport
from ._report import check_report as check_report
from ._report import summary as summary
from ._serve import serve as serve

__all__ = ["CheckReport", "Gateway", "check_report", "client_error", "serve", "summary"]
