"""pluginrt: a subprocess JSON-RPC plugin runtime for LLM-proxy hosts.

The host is opened from a config and carries client requests through the
plugins' capabilities::

    async with open_host(load_config("gateway.yaml")) as host:
        answer = await host.handle(ClientRequest("openai", Endpoint.GENERATE, model="m"))
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._host import FlagBinding as FlagBinding
    from ._host import Host as Host
    from ._host import RouteBinding as RouteBinding
    from ._host import open_host as open_host
    from .config import Config as Config
    from .config import ConfigError as ConfigError
    from .config import PluginConfig as PluginConfig
    from .config import load_config as load_config
    from .pipeline import ClientRequest as ClientRequest
    from .pipeline import ClientResponse as ClientResponse
    from .pipeline import ClientStream as ClientStream
    from .pipeline import Endpoint as Endpoint

# Imported on first use, so a plugin (which needs only pluginrt.api and
# pluginrt.rpc) does not pay for the host, the pipeline and httpx at startup.
_LAZY = {
    "FlagBinding": "._host",
    "Host": "._host",
    "RouteBinding": "._host",
    "open_host": "._host",
    "Config": ".config",
    "ConfigError": ".config",
    "PluginConfig": ".config",
    "load_config": ".config",
    "ClientRequest": ".pipeline",
    "ClientResponse": ".pipeline",
    "ClientStream": ".pipeline",
    "Endpoint": ".pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "ClientRequest",
    "ClientResponse",
    "ClientStream",
    "Config",
    "ConfigError",
    "Endpoint",
    "FlagBinding",
    "Host",
    "PluginConfig",
    "RouteBinding",
    "__version__",
    "load_config",
    "open_host",
]
