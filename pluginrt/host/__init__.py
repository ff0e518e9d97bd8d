"""The host's process layer: spawn, handshake, supervise and stop plugin processes.

::

    async with open_plugins([PluginSpec(id="echo", command=("echo.py",))]) as plugins:
        echo = plugins["echo"]
        result = await echo.call("executor.execute", request, ExecutorResponse)
"""

from ._declaration import Declaration as Declaration
from ._errors import PluginClosed as PluginClosed
from ._errors import PluginCrashed as PluginCrashed
from ._errors import PluginDeclarationError as PluginDeclarationError
from ._errors import PluginError as PluginError
from ._errors import PluginFailed as PluginFailed
from ._errors import PluginProtocolError as PluginProtocolError
from ._errors import PluginRemoteError as PluginRemoteError
from ._errors import PluginStartError as PluginStartError
from ._errors import PluginTimeout as PluginTimeout
from ._errors import PluginUnavailable as PluginUnavailable
from ._inspect import PluginReport as PluginReport
from ._inspect import call_once as call_once
from ._inspect import inspect_plugin as inspect_plugin
from ._inspect import one_shot_spec as one_shot_spec
from ._plugin import Callbacks as Callbacks
from ._plugin import PluginHandle as PluginHandle
from ._plugin import PluginState as PluginState
from ._plugin import PluginStatistics as PluginStatistics
from ._plugin import Registrations as Registrations
from ._plugins import Plugins as Plugins
from ._plugins import open_plugins as open_plugins
from ._spec import PluginSpec as PluginSpec
from ._spec import RestartPolicy as RestartPolicy

__all__ = [
    "Callbacks",
    "Declaration",
    "PluginClosed",
    "PluginCrashed",
    "PluginDeclarationError",
    "PluginError",
    "PluginFailed",
    "PluginHandle",
    "PluginProtocolError",
    "PluginRemoteError",
    "PluginReport",
    "PluginSpec",
    "PluginStartError",
    "PluginState",
    "PluginStatistics",
    "PluginTimeout",
    "PluginUnavailable",
    "Plugins",
    "Registrations",
    "RestartPolicy",
    "call_once",
    "inspect_plugin",
    "one_shot_spec",
    "open_plugins",
]
