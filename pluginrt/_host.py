"""The host: plugins supervised, the pipeline, the auth store and the callbacks, from one config.

::

    async with open_host(load_config("gateway.yaml")) as host:
        request = ClientRequest("openai", Endpoint.GENERATE, model="m", body=b"...")
        answer = await host.handle(request)

Guarantees: leaving the block stops every plugin and closes every upstream
connection; a reload lets requests already in flight finish on the
arrangement they started with.
"""

from __future__ import annotations

import datetime
import logging
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from pluginrt.api import (
    CommandLineExecutionRequest,
    CommandLineExecutionResponse,
    CommandLineFlag,
    CommandLineFlagValue,
    ExecutorHTTPResponse,
    HostConfigSummary,
    HTTPRequest,
    ManagementRequest,
    ManagementResponse,
    ManagementRoute,
    ResourceRoute,
)
from pluginrt.host import (
    PluginError,
    PluginHandle,
    Plugins,
    PluginSpec,
    PluginState,
    RestartPolicy,
    open_plugins,
)

from . import _goflag
from ._logging import REDACTOR, protect_loggers
from .config import Config, PluginConfig
from .pipeline._authstore import AuthStore
from .pipeline._callbacks import CallbackRegistry
from .pipeline._models import ModelRegistry
from .pipeline._pipeline import Pipeline, PipelineSettings
from .pipeline._rules import ordered
from .pipeline._services import HostServices, HTTPBridge
from .pipeline._types import ClientRequest, ClientResponse, ClientStream, PluginLike
from .pipeline._usage import UsageQueue

__all__ = ["FlagBinding", "Host", "RouteBinding", "open_host"]

logger = logging.getLogger("pluginrt.host")

#: Plugin states whose declaration still takes part in the chains.
_SERVING = {PluginState.STARTING, PluginState.RUNNING, PluginState.RESTARTING}
#: Flags the host itself owns.
HOST_FLAGS = frozenset({"help", "h", "config", "version"})
_FLAG_TYPES = frozenset({"", "bool", "string", "int", "int64", "float64", "duration"})
MANAGEMENT_BASE = "/v0/management"
RESOURCE_BASE = "/v0/resource/plugins"
#: The management routes the host serves itself: (method, path under MANAGEMENT_BASE), where a
#: ``{name}`` segment matches any one segment. The gateway dispatches on this table, and a
#: plugin route is taken by the host exactly when it matches one of these pairs.
HOST_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "plugins"),
    ("GET", "plugins/{id}"),
    ("POST", "plugins/{id}/restart"),
    ("POST", "plugins/{id}/enable"),
    ("POST", "plugins/{id}/disable"),
    ("GET", "plugins/{id}/config"),
    ("PATCH", "plugins/{id}/config"),
    ("POST", "reload"),
    ("GET", "auth-files"),
    ("GET", "usage"),
    ("POST", "auth/{provider}/login"),
    ("GET", "auth/{provider}/login/{state}"),
    ("POST", "api-call"),
)


def host_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The host's own route for ``method`` on the absolute ``path``: its pattern and parameters."""
    for served, pattern in HOST_ROUTES:
        params = _match(pattern, path)
        if served == method and params is not None:
            return pattern, params
    return None


def host_methods(path: str) -> list[str]:
    """The methods the host itself serves on the absolute ``path`` (none: not a host path)."""
    return [served for served, pattern in HOST_ROUTES if _match(pattern, path) is not None]


def _match(pattern: str, path: str) -> dict[str, str] | None:
    """The ``{name}`` parameters of ``path`` if it matches the management ``pattern``."""
    expected = f"{MANAGEMENT_BASE}/{pattern}".split("/")
    given = path.split("/")
    if len(expected) != len(given):
        return None
    params: dict[str, str] = {}
    for want, got in zip(expected, given, strict=True):
        if want.startswith("{") and want.endswith("}") and got:
            params[want[1:-1]] = got
        elif want != got:
            return None
    return params


@dataclass(frozen=True)
class FlagBinding:
    """A plugin-owned command-line flag that survived the conflict rules."""

    plugin_id: str
    flag: CommandLineFlag


@dataclass(frozen=True)
class RouteBinding:
    """A plugin route: its method, absolute path and the plugin that handles it."""

    plugin_id: str
    method: str
    path: str
    menu: str = ""
    description: str = ""


def plugin_spec(config: Config, plugin: PluginConfig) -> PluginSpec:
    """The process-layer spec of a configured plugin."""
    restart = plugin.restart
    return PluginSpec(
        id=plugin.id,
        command=config.plugin_command(plugin),
        env=dict(plugin.env),
        env_allow=tuple(config.env_allow),
        priority=plugin.priority,
        call_timeout=plugin.timeout or None,
        handshake_timeout=plugin.handshake_timeout,
        instances=plugin.instances,
        max_line=plugin.max_line,
        restart=RestartPolicy(
            max_restarts=restart.max_restarts,
            backoff_initial=restart.backoff,
            backoff_max=restart.backoff_max,
            healthy_after=restart.healthy_after,
        ),
        config=dict(plugin.config),
    )


class Host:
    """A running host. Obtain one with :func:`open_host`; it has no public constructor."""

    def __init__(self, config: Config, plugins: Plugins, services: _Services) -> None:
        self.config = config
        self.plugins = plugins
        self.pipeline = services.pipeline
        self.auths = services.auths
        self.usage = services.usage
        self.models = services.models
        self._services = services
        #: Secrets a reload added to the log redactor (released when the host closes).
        self._secrets: list[str] = []
        #: Registration problems already logged (routes are listed on every request).
        self._warned: set[str] = set()

    # ---------------------------------------------------------- requests

    async def handle(self, request: ClientRequest) -> ClientResponse | ClientStream:
        """Carry one client request through the pipeline (errors come back as responses)."""
        return await self.pipeline.handle(request)

    async def http_request(self, auth_id: str, request: HTTPRequest) -> ExecutorHTTPResponse:
        """Send ``request`` with auth ``auth_id``'s credential, through the executor of the
        auth's provider (``executor.http_request``); see :meth:`Pipeline.http_request`."""
        return await self.pipeline.http_request(auth_id, request)

    def active(self) -> list[PluginHandle]:
        """The plugins taking part in the chains now, in order."""
        return ordered(
            h
            for h in self.plugins.values()
            if h.state in _SERVING and h.declaration is not None and self._enabled(h.id)
        )

    def down(self) -> list[PluginHandle]:
        """Enabled plugins out of the chains now: failed ones, and ones that never declared
        themselves (their capabilities are unknown). The pipeline lets no client in while
        one of them may be the frontend auth that would have refused it."""
        return [
            h
            for h in self.plugins.values()
            if (h.state not in _SERVING or h.declaration is None) and self._enabled(h.id)
        ]

    def _enabled(self, plugin_id: str) -> bool:
        return any(p.id == plugin_id and p.enabled for p in self.config.plugins)

    # ------------------------------------------------------ registrations

    def _warn_once(self, message: str, *args: object) -> None:
        """Log a registration problem once, not again each time routes are listed."""
        text = message % args
        if text not in self._warned:
            self._warned.add(text)
            logger.warning("%s", text)

    def flags(self) -> list[FlagBinding]:
        """Plugin flags in order; invalid or taken ones (and ones whose default Go's flag
        package would refuse for the type) are skipped with a warning."""
        taken = set(HOST_FLAGS)
        bound: list[FlagBinding] = []
        for handle in self.active():
            for flag in handle.registrations.flags:
                name = flag.name
                problem = ""
                if not name:
                    problem = "its name is empty"
                elif name.startswith("-"):
                    problem = "it starts with '-'"
                elif any(c.isspace() for c in name) or "=" in name:
                    problem = "it holds whitespace or '='"
                elif flag.type not in _FLAG_TYPES:
                    problem = f"its type {flag.type!r} is unknown"
                elif name in ("help", "h"):
                    problem = "help and h are reserved for --help"
                elif name in taken:
                    problem = "the name is already taken"
                elif error := _default_error(flag):
                    problem = f"its default {flag.default_value!r} is not a valid {error}"
                if problem:
                    self._warn_once("flag %r of plugin %s skipped: %s", name, handle.id, problem)
                    continue
                taken.add(name)
                bound.append(FlagBinding(handle.id, flag))
        return bound

    def _rearranged(self) -> None:
        """The plugins taking part changed: list their models afresh, and log what their
        routes and resources conflict over now, not at the first management request."""
        active = self.active()
        self._services.refresh_models(active)
        self.usage.rebind(active)
        self.routes()
        self.resources()

    def routes(self) -> list[RouteBinding]:
        """Management routes in order, resolved under /v0/management; conflicts skipped."""
        taken: dict[tuple[str, str], str] = {}  # (method, path) -> "plugin <id>" that has it
        bound: list[RouteBinding] = []
        for handle in self.active():
            for route in handle.registrations.routes:
                binding = _management_route(handle.id, route, self._warn_once)
                if binding is None:
                    continue
                key = (binding.method, binding.path)
                owner = "the host" if host_route(*key) is not None else taken.get(key)
                if owner is not None:
                    self._warn_once(
                        "route %s %s of plugin %s skipped: already taken by %s",
                        binding.method,
                        binding.path,
                        handle.id,
                        owner,
                    )
                    continue
                taken[key] = f"plugin {handle.id}"
                bound.append(binding)
        return bound

    def resources(self) -> list[RouteBinding]:
        """GET resources under /v0/resource/plugins/<id>/ (including GET routes with a Menu)."""
        bound: list[RouteBinding] = []
        seen: set[str] = set()
        for handle in self.active():
            items: list[ResourceRoute | ManagementRoute] = [
                *handle.registrations.resources,
                *(
                    r
                    for r in handle.registrations.routes
                    if r.menu and (r.method or "GET").upper() == "GET"
                ),
            ]
            for item in items:
                binding = _resource_route(handle.id, item, self._warn_once)
                if binding is not None and binding.path not in seen:
                    seen.add(binding.path)
                    bound.append(binding)
        return bound

    async def call_route(
        self, binding: RouteBinding, request: ManagementRequest
    ) -> ManagementResponse:
        """Send a management or resource request to the plugin that owns the route."""
        return await self.plugins[binding.plugin_id].call(
            "management.handle", request, ManagementResponse
        )

    # ------------------------------------------------------- command line

    async def execute_flags(
        self,
        values: Mapping[str, str],
        *,
        program: str,
        args: Sequence[str],
        config_path: str,
    ) -> list[tuple[str, CommandLineExecutionResponse]]:
        """Run ``command_line.execute`` on each plugin owning a given flag, in order.

        Each flag's value (given in ``values``, else its default) is the parsed
        value as Go prints it (``0x10`` is ``16``, an empty default the type's
        zero value); a given value Go would refuse is a ValueError. Returned
        auths are saved to the auth directory. The answers come back in order;
        the caller writes their output and exits with the first non-zero exit
        code.
        """
        bindings = self.flags()
        every = {
            b.flag.name: CommandLineFlagValue(
                name=b.flag.name,
                type=b.flag.type or "bool",
                value=_goflag.canonical(b.flag.type, values.get(b.flag.name, b.flag.default_value)),
                set=b.flag.name in values,
            )
            for b in bindings
        }
        answers: list[tuple[str, CommandLineExecutionResponse]] = []
        for handle in self.active():
            triggered = {
                b.flag.name: every[b.flag.name]
                for b in bindings
                if b.plugin_id == handle.id and b.flag.name in values
            }
            if not triggered:
                continue
            request = CommandLineExecutionRequest(
                plugin=handle.metadata,
                program=program,
                args=list(args),
                config_path=config_path,
                host=self._services.summary,
                flags=every,
                triggered_flags=triggered,
            )
            answer = await handle.call(
                "command_line.execute", request, CommandLineExecutionResponse
            )
            for auth in answer.auths:
                await self.auths.save_auth(self.active(), auth)
            answers.append((handle.id, answer))
        return answers

    # ----------------------------------------------------------- reload

    async def reload(self, config: Config) -> dict[str, Exception]:
        """Apply a new config: reconfigure changed plugins, start new ones, stop removed ones.

        A plugin whose change needs a new process is started anew beside the old
        one, which new requests leave for it as soon as it is up; removed and
        disabled plugins take no new requests at once. Requests in flight keep
        the processes they started with, for up to ``shutdown-grace``; those
        processes stop after. A plugin whose ``plugin.reconfigure`` fails keeps
        its previous section, and a running one whose new process does not come up
        keeps running as it was (its entry in ``config`` too); those errors are
        returned by plugin id.
        """
        old = {p.id: p for p in self.config.plugins}
        new = {p.id: p for p in config.plugins}
        env_changed = list(self.config.env_allow) != list(config.env_allow)
        self._secrets += _protect_logs(config)
        self.config = config  # removed and disabled plugins leave the chains here
        self._warned.clear()  # the new arrangement's problems are logged afresh
        self.pipeline.settings.api_keys = tuple(config.api_keys)
        self.pipeline.settings.scheduler = config.scheduler
        refused: dict[str, Exception] = {}
        retiring: list[PluginHandle] = []  # out of the registry: stopped once drained
        disabling: list[str] = []  # handles kept, stopped once drained
        starting: list[PluginSpec] = []
        replacing: list[PluginSpec] = []
        for plugin_id in old.keys() - new.keys():
            logger.info("reload: stopping plugin %s (no longer in the config)", plugin_id)
            if plugin_id in self.plugins:
                retiring.append(self.plugins.forget(plugin_id))
            self.models.forget_plugin(plugin_id)
        for plugin_id, plugin in new.items():
            before = old.get(plugin_id)
            handle = self.plugins.get(plugin_id)
            if not plugin.enabled:
                if handle is not None:
                    if before is None or before.enabled:
                        logger.info("reload: stopping plugin %s (disabled)", plugin_id)
                    disabling.append(plugin_id)
                continue
            spec = plugin_spec(config, plugin)
            if handle is None or before is None or handle.state is PluginState.STOPPED:
                if handle is not None:
                    await self.plugins.remove(plugin_id)
                logger.info("reload: starting plugin %s", plugin_id)
                starting.append(spec)
                continue
            changed = _restart_keys(before, plugin, env_allow_changed=env_changed)
            if changed or (
                # Not running (restarting, failed): reconfigure cannot reach it, and
                # its next start would register with the old section.
                before.config != plugin.config and handle.state is not PluginState.RUNNING
            ):
                why = ", ".join(changed or ["config"])
                logger.info("reload: restarting plugin %s (changed: %s)", plugin_id, why)
                replacing.append(spec)
            elif before.config != plugin.config and handle.state is PluginState.RUNNING:
                logger.info("reload: handing plugin %s its new config section", plugin_id)
                try:
                    await handle.reconfigure(plugin.config)
                except Exception as exc:
                    logger.error(
                        "plugin %s refused its new config, it keeps the previous one: %s",
                        plugin_id,
                        exc,
                    )
                    plugin.config = before.config
                    refused[plugin_id] = exc
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.plugins.start_many, starting)
            fresh = await self.plugins.start_beside(replacing)
        failed = [handle for handle in fresh if self._kept_instead(handle, "reload")]
        for handle in failed:
            index = next(i for i, p in enumerate(config.plugins) if p.id == handle.id)
            config.plugins[index] = old[handle.id]  # what runs: compared at the next reload
            refused[handle.id] = _why_not_started(handle)
        await self.plugins.retire(failed)
        retiring += [self.plugins.swap(handle) for handle in fresh if handle not in failed]
        self._rearranged()
        if retiring or disabling:
            await self._drain_then(retiring, [self.plugins[i] for i in disabling])
        await self.auths.load(self.active())
        return refused

    async def _drain_then(
        self, retiring: Sequence[PluginHandle], stopping: Sequence[PluginHandle] = ()
    ) -> None:
        """Let the requests in flight finish (bounded by the shutdown grace), since they
        hold the handles they started with; then stop the processes of ``retiring``
        (handles out of the registry) and of ``stopping`` (handles kept, stopped)."""
        await self.pipeline.drain(self.config.shutdown_grace)
        going = [
            (handle, which, ", ".join(str(pid) for pid in handle.pids if pid is not None))
            for handles, which in ((retiring, "its previous process"), (stopping, "its process"))
            for handle in handles
        ]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.plugins.retire, retiring)
            for handle in stopping:
                nursery.start_soon(self.plugins.stop, handle.id)
        for handle, which, pids in going:
            if pids:
                logger.info("plugin %s: %s (pid %s) stopped", handle.id, which, pids)

    def _kept_instead(self, fresh: PluginHandle, why: str) -> bool:
        """Whether the running handle ``fresh`` was started to replace stays instead: it
        does when ``fresh`` did not come up (a running plugin is not traded for a
        failed one)."""
        running = self.plugins[fresh.id]
        if fresh.state is PluginState.RUNNING or running.state is not PluginState.RUNNING:
            return False
        logger.error(
            "%s: plugin %s: its new process did not start (%s); the running one (pid %s) "
            "keeps serving, as it was",
            why,
            fresh.id,
            fresh.last_error,
            ", ".join(str(pid) for pid in running.pids if pid is not None),
        )
        return True

    async def restart(self, plugin_id: str) -> PluginHandle:
        """Start a configured plugin anew, on a new handle (its counters reset) that new
        requests go to once it is up; the old process keeps the requests it has for up
        to ``shutdown-grace``, then stops. If the new one does not come up while the old
        one runs, the old one stays and :class:`PluginError` says why. KeyError for a
        plugin not configured."""
        plugin = next((p for p in self.config.plugins if p.id == plugin_id), None)
        if plugin is None:
            raise KeyError(plugin_id)
        logger.info("restart: starting plugin %s anew", plugin_id)
        (fresh,) = await self.plugins.start_beside([plugin_spec(self.config, plugin)])
        if self._kept_instead(fresh, "restart"):
            await self.plugins.retire([fresh])
            raise _why_not_started(fresh)
        replaced = self.plugins.swap(fresh)
        self._rearranged()
        await self._drain_then([replaced])
        return fresh

    async def set_enabled(self, plugin_id: str, enabled: bool) -> None:
        """Enable or disable a configured plugin (started or stopped accordingly; a
        disabled one takes no new requests, and stops once those it has are done, or
        ``shutdown-grace`` has passed)."""
        for plugin in self.config.plugins:
            if plugin.id == plugin_id:
                plugin.enabled = enabled
                break
        else:
            raise KeyError(plugin_id)
        handle = self.plugins.get(plugin_id)
        if enabled and (handle is None or handle.state is PluginState.STOPPED):
            if handle is not None:
                await self.plugins.remove(plugin_id)
            await self.plugins.start(plugin_spec(self.config, plugin))
        elif not enabled and handle is not None:
            self._rearranged()
            await self._drain_then((), [handle])
        self._rearranged()


def _why_not_started(handle: PluginHandle) -> Exception:
    error = handle.last_error
    return error if isinstance(error, Exception) else PluginError(handle.id, "did not start")


def _restart_needed(
    before: PluginConfig, after: PluginConfig, *, env_allow_changed: bool = False
) -> bool:
    """Changes other than the config section need a new process.

    So does a change of the global ``env-allow`` (the environment is fixed at
    spawn), of ``max-line`` and ``instances`` (fixed when the pipes open).
    """
    return bool(_restart_keys(before, after, env_allow_changed=env_allow_changed))


#: The keys of a plugin whose change needs a new process (all but ``config``, ``enabled``).
_PROCESS_KEYS = (
    "command", "env", "priority", "timeout", "restart", "max-line", "instances",
    "handshake-timeout",
)  # fmt: skip


def _restart_keys(
    before: PluginConfig, after: PluginConfig, *, env_allow_changed: bool = False
) -> list[str]:
    """The changed keys that need ``before``'s processes restarted (see _restart_needed)."""
    changed = [
        key
        for key in _PROCESS_KEYS
        if getattr(before, key.replace("-", "_")) != getattr(after, key.replace("-", "_"))
    ]
    return [*changed, "env-allow"] if env_allow_changed else changed


#: Why a route's path is refused (SEMANTICS.md, and segments no request path can match).
_BAD_PATH = "bad path (whitespace, ':' or '*', or an empty, '.' or '..' segment)"


def _clean_path(path: str) -> str | None:
    """A route's path as requests will name it (percent escapes decoded), or None if bad."""
    path = urllib.parse.unquote(path.strip())
    if not path or any(c.isspace() for c in path) or ":" in path or "*" in path:
        return None
    segments = path.removeprefix("/").split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return None
    return path


def _default_error(flag: CommandLineFlag) -> str:
    """Why Go's flag package would refuse ``flag``'s default ("" if it would not)."""
    try:
        _goflag.canonical(flag.type, flag.default_value)
    except ValueError as exc:
        return f"{flag.type or 'bool'}: {exc}"
    return ""


def _management_route(
    plugin_id: str, route: ManagementRoute, warn: Callable[..., None] = logger.warning
) -> RouteBinding | None:
    method = (route.method or "GET").upper()
    path = _clean_path(route.path)
    if path is None:
        warn("route %r of plugin %s refused: %s", route.path, plugin_id, _BAD_PATH)
        return None
    if not path.startswith("/"):
        path = f"{MANAGEMENT_BASE}/{path}"
    if not path.startswith(MANAGEMENT_BASE + "/"):
        warn("route %s of plugin %s refused: not under %s", route.path, plugin_id, MANAGEMENT_BASE)
        return None
    return RouteBinding(plugin_id, method, path, route.menu, route.description)


def _resource_route(
    plugin_id: str,
    route: ResourceRoute | ManagementRoute,
    warn: Callable[..., None] = logger.warning,
) -> RouteBinding | None:
    base = f"{RESOURCE_BASE}/{plugin_id}"
    path = _clean_path(route.path)
    if path is None:
        warn("resource %r of plugin %s refused: %s", route.path, plugin_id, _BAD_PATH)
        return None
    if path.startswith(MANAGEMENT_BASE + "/"):
        path = path[len(MANAGEMENT_BASE) + 1 :]
    if path.startswith(RESOURCE_BASE + "/") and not path.startswith(base + "/"):
        warn("resource %s of plugin %s refused: not under %s/", route.path, plugin_id, base)
        return None
    if not path.startswith(base + "/"):
        path = f"{base}/{path.lstrip('/')}"
    return RouteBinding(plugin_id, "GET", path, route.menu, route.description)


class _Services:
    """The pipeline's parts, created together and wired to the plugin registry."""

    def __init__(self, config: Config) -> None:
        self.summary = HostConfigSummary(
            auth_dir=str(config.resolve(config.auth_dir)), proxy_url=config.proxy_url
        )
        self.models = ModelRegistry()
        self.usage = UsageQueue()
        self.callbacks = CallbackRegistry()
        self.auths = AuthStore(self.summary.auth_dir, self.models, self.summary)
        self.http = HTTPBridge(config.proxy_url, timeout=config.request_timeout)
        self.host: Host | None = None
        self.pipeline = Pipeline(
            self._active,
            PipelineSettings(api_keys=tuple(config.api_keys), scheduler=config.scheduler),
            self.models,
            self.usage,
            self.callbacks,
            self.auths,
            down=self._down,
        )
        self.host_services = HostServices(
            self.pipeline, self.auths, self.http, self.callbacks, self._active
        )

    def _active(self) -> list[PluginLike]:
        return list(self.host.active()) if self.host is not None else []

    def _down(self) -> list[PluginLike]:
        return list(self.host.down()) if self.host is not None else []

    def refresh_models(self, plugins: Sequence[PluginHandle]) -> None:
        """Record each plugin's registered models; an ``oauth`` scope has only per-auth ones."""
        for handle in plugins:
            registrations = handle.registrations
            models = registrations.models
            if handle.capabilities.executor_model_scope == "oauth":
                models = ()
            if models or registrations.provider:
                self.models.set_plugin_models(handle.id, registrations.provider, models)

    def callbacks_for(self, handle: PluginHandle) -> Any:
        return self.host_services.handlers_for(handle)


@asynccontextmanager
async def open_host(config: Config) -> AsyncIterator[Host]:
    """Start every enabled plugin of ``config`` and serve until the block ends."""
    services = _Services(config)
    specs = [plugin_spec(config, p) for p in config.plugins if p.enabled]
    secrets = _protect_logs(config)
    # The block's own exception is re-raised outside the nurseries, unwrapped.
    error: BaseException | None = None
    host: Host | None = None
    try:
        async with open_plugins(
            specs, callbacks=services.callbacks_for, host=services.summary
        ) as plugins:
            host = Host(config, plugins, services)
            services.host = host
            host._rearranged()
            await services.auths.load(host.active())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(services.usage.run)
                nursery.start_soon(_refresh_auths, host)
                try:
                    yield host
                except BaseException as exc:
                    error = exc
                finally:
                    with trio.move_on_after(_USAGE_FLUSH) as flushing:
                        flushing.shield = True
                        await services.usage.flush()
                    nursery.cancel_scope.cancel()
                    with trio.CancelScope(shield=True):
                        await services.host_services.aclose()
    finally:
        with trio.CancelScope(shield=True):
            await services.http.aclose()
        REDACTOR.remove(secrets)
        if host is not None:
            REDACTOR.remove(host._secrets)
    if error is not None:
        raise error


def _protect_logs(config: Config) -> list[str]:
    """Redact ``config``'s keys from the logs; protect its plugins' loggers (stderr, host.log)."""
    protect_loggers(*(f"pluginrt.plugin.{p.id}" for p in config.plugins))
    return REDACTOR.add([*config.api_keys, config.management_key])


#: How long a stopping host waits for its queued usage records to reach the usage plugins.
_USAGE_FLUSH = 2.0


async def _refresh_auths(host: Host, most: float = 30.0, least: float = 1.0) -> None:
    """Refresh the auths as their ``NextRefreshAfter`` passes: at the soonest one, and at
    least every ``most`` seconds (new files, failed refreshes), never twice in ``least``."""
    while True:
        wait = most
        due = host.auths.next_refresh(host.active())
        if due is not None:
            left = (due - datetime.datetime.now(datetime.UTC)).total_seconds()
            wait = min(most, max(least, left))
        await trio.sleep(wait)
        try:
            await host.auths.refresh_due(host.active())
        except Exception:
            logger.exception("auth refresh failed")
