"""Write pluginrt plugins as plain Python scripts.

::

    from plugin_sdk import Plugin, run
    from pluginrt.api import ExecutorRequest, ExecutorResponse

    plugin = Plugin("echo", version="1.0.0")
    plugin.executor("echo", input_formats=["openai"], output_formats=["openai"])

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(payload=request.payload)

    if __name__ == "__main__":
        run(plugin)
"""

from ._errors import PluginError as PluginError
from ._host import Host as Host
from ._host import HostStream as HostStream
from ._host import blocking as blocking
from ._host import host as host
from ._plugin import Plugin as Plugin
from ._run import protect_stdio_early as _protect_stdio_early
from ._run import run as run
from ._serve import serve as serve

# A plugin started by the host protects its protocol before any more of its own code runs.
_protect_stdio_early()

__all__ = [
    "Host",
    "HostStream",
    "Plugin",
    "PluginError",
    "blocking",
    "host",
    "run",
    "serve",
]
