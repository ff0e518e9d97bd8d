"""A supervised plugin: its handle, lifecycle, handshake and calls.

Guarantees:

- A crash fails every call in flight on the plugin at once with
  :class:`PluginCrashed` (exit status or signal, stderr tail); so does a
  stdout that closes while the process keeps running (the process is killed).
- A crashed plugin is restarted with exponential backoff, up to its
  :class:`RestartPolicy`'s limit; then it is ``failed`` and calls fail fast
  with :class:`PluginFailed`. A refused declaration is failed at once.
- Calls on a plugin that is not running fail fast with
  :class:`PluginUnavailable`; they never wait for a restart.
- Whatever happens (stop, crash, cancellation of the supervising task),
  the process and its group are killed and reaped before the attempt ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import trio

from pluginrt.api import (
    Capabilities,
    CommandLineFlag,
    CommandLineRegistrationRequest,
    CommandLineRegistrationResponse,
    HostConfigSummary,
    LogParams,
    ManagementRegistrationRequest,
    ManagementRegistrationResponse,
    ManagementRoute,
    Metadata,
    ModelInfo,
    ModelRegistrationRequest,
    ModelRegistrationResponse,
    ModelResponse,
    ReconfigureParams,
    RegisterParams,
    ResourceRoute,
    StaticModelRequest,
)
from pluginrt.rpc import (
    PROTOCOL_VERSION,
    CallContext,
    Connection,
    Empty,
    Handler,
    IncomingStream,
    ProtocolError,
    RPCError,
    StreamError,
    StreamTimeout,
    open_connection,
)

from ._declaration import Declaration, RegisterAnswer, validate
from ._errors import (
    PluginClosed,
    PluginCrashed,
    PluginDeclarationError,
    PluginError,
    PluginFailed,
    PluginProtocolError,
    PluginStartError,
    PluginUnavailable,
    map_error,
)
from ._launcher import Launchers
from ._process import PluginProcess, spawn
from ._spec import PluginSpec

__all__ = [
    "Callbacks",
    "PluginHandle",
    "PluginState",
    "PluginStatistics",
    "Registrations",
]

T = TypeVar("T")

#: The management paths a plugin's routes are mounted under.
MANAGEMENT_BASE_PATH: Final = "/v0/management"
RESOURCE_BASE_PATH: Final = "/v0/resource/plugins"

#: The call that opens an executor stream: its errors are named after it.
STREAM_METHOD: Final = "executor.execute_stream"

#: How long to wait for the last stderr lines once the process is gone.
_STDERR_SETTLE = 0.5

_LOG_LEVELS: Final = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "critical": logging.CRITICAL,
}


def log_plugin_line(logger: logging.Logger, params: LogParams, where: str = "") -> None:
    """Write a plugin's ``host.log`` line to ``logger`` at its level, ``where`` in brackets."""
    level = _LOG_LEVELS.get(params.level.lower(), logging.INFO)
    suffix = ""
    if params.fields:
        suffix += " " + " ".join(f"{k}={v!r}" for k, v in params.fields.items())
    if where:
        suffix += f" ({where})"
    logger.log(level, "%s%s", params.message, suffix)


class PluginState(enum.StrEnum):
    """Where a plugin is in its lifecycle."""

    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Registrations:
    """What a plugin registered after its handshake (empty where it declared nothing)."""

    provider: str = ""
    models: tuple[ModelInfo, ...] = ()
    flags: tuple[CommandLineFlag, ...] = ()
    routes: tuple[ManagementRoute, ...] = ()
    resources: tuple[ResourceRoute, ...] = ()


@dataclass(frozen=True, slots=True)
class PluginStatistics:
    """Counters over the handle's life (across restarts)."""

    state: PluginState
    calls: int
    errors: int
    in_flight: int
    #: Streams open on the current run, either way (executor streams, host streams).
    streams_open: int
    restarts: int
    last_error: str | None


#: Host callbacks (``host.*`` methods) served to plugins: a mapping, or a
#: factory called once per handle. ``host.log`` is served by default.
Callbacks = Mapping[str, Handler] | Callable[["PluginHandle"], Mapping[str, Handler]]

_DEFAULT: Any = object()
_KEY = object()


class PluginHandle:
    """One supervised plugin. Obtained from :class:`~pluginrt.host.Plugins`, never constructed.

    The same handle lives across restarts; ``state``, ``pid``, the
    declaration and the registrations describe the current (or last) run.
    """

    def __init__(
        self,
        key: object,
        spec: PluginSpec,
        callbacks: Callbacks | None,
        host: HostConfigSummary,
        launchers: Launchers | None = None,
    ) -> None:
        if key is not _KEY:
            raise TypeError("PluginHandle has no public constructor; use open_plugins()")
        self.spec = spec
        self._launchers = launchers
        self.logger = logging.getLogger(f"pluginrt.plugin.{spec.id}")
        self._host = host
        self._handlers = self._build_handlers(callbacks)
        self._state = PluginState.STOPPED
        self._process: PluginProcess | None = None
        self._connection: Connection | None = None
        self._declaration: Declaration | None = None
        self._registrations = Registrations()
        self._last_error: BaseException | None = None
        self._restarts = 0
        self._calls = 0
        self._errors = 0
        self._in_flight = 0
        #: Which instance of its plugin this handle runs (see PluginGroup), or None.
        self.instance: int | None = None
        self._stream_prefix = "s"
        # Per supervisor run:
        self._stop_requested = False
        self._attempt_scope: trio.CancelScope | None = None
        self._settled = trio.Event()
        self._done = trio.Event()
        self._done.set()

    # ------------------------------------------------------------ properties

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def priority(self) -> int:
        """Chain order: higher first (ties by id)."""
        return self.spec.priority

    @property
    def state(self) -> PluginState:
        return self._state

    @property
    def pid(self) -> int | None:
        """The running process's pid, or None."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def pids(self) -> tuple[int | None, ...]:
        """Each instance's pid (None where it is not running): this one's only."""
        return (self.pid,)

    @property
    def restarts(self) -> int:
        """Restarts after crashes over the handle's life."""
        return self._restarts

    @property
    def declaration(self) -> Declaration | None:
        return self._declaration

    @property
    def metadata(self) -> Metadata:
        return self._declaration.metadata if self._declaration else Metadata()

    @property
    def capabilities(self) -> Capabilities:
        return self._declaration.capabilities if self._declaration else Capabilities()

    @property
    def registrations(self) -> Registrations:
        return self._registrations

    @property
    def last_error(self) -> BaseException | None:
        """Why the last run ended or the last call failed, if it did."""
        return self._last_error

    def statistics(self) -> PluginStatistics:
        connection = self._connection
        return PluginStatistics(
            state=self._state,
            calls=self._calls,
            errors=self._errors,
            in_flight=self._in_flight,
            streams_open=0 if connection is None else connection.statistics().streams_open,
            restarts=self._restarts,
            last_error=None if self._last_error is None else str(self._last_error),
        )

    def __repr__(self) -> str:
        return f"<PluginHandle {self.id!r} {self._state} pid={self.pid}>"

    # ----------------------------------------------------------------- calls

    async def call(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        timeout: float | None = _DEFAULT,  # noqa: ASYNC109 - mapped to PluginTimeout
        callback_id: str | None = None,
    ) -> T:
        """Call ``method`` on the plugin and return its result as ``result_type``.

        ``timeout`` defaults to the spec's ``call_timeout`` (None: no timeout).
        Raises only :class:`PluginError` subclasses: PluginUnavailable/Failed
        at once if the plugin is not running, else PluginCrashed, PluginTimeout,
        PluginClosed, PluginRemoteError or PluginProtocolError.
        """
        connection = self._connection
        if connection is None or self._state is not PluginState.RUNNING:
            connection = self._live_connection()  # raises why not
        process = self._process
        if timeout is _DEFAULT:
            timeout = self.spec.call_timeout
        self._calls += 1
        self._in_flight += 1
        try:
            return await connection.call(
                method, params, result_type, timeout=timeout, callback_id=callback_id
            )
        except (RPCError, PluginError) as exc:
            error = map_error(self.id, method, exc)
            if isinstance(error, PluginClosed) and process is not None:
                error = map_error(self.id, method, await self._unless_crashed(error, process))
            self._errors += 1
            self._last_error = error
            raise error from None
        finally:
            self._in_flight -= 1

    async def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Hand the plugin a new config section (``plugin.reconfigure``); fails like
        :meth:`call`. Once accepted, it is also what a restart registers with."""
        await self.call("plugin.reconfigure", ReconfigureParams(config=dict(config)), Empty)
        self.spec = dataclasses.replace(self.spec, config=config)

    async def notify(self, method: str, params: Any, *, callback_id: str | None = None) -> None:
        """Send a notification (e.g. ``usage.handle``); fails like :meth:`call` does."""
        connection = self._live_connection()
        try:
            await connection.notify(method, params, callback_id=callback_id)
        except (RPCError, PluginError) as exc:
            raise map_error(self.id, method, exc) from None

    def open_stream(self, window: int) -> IncomingStream:
        """Open the consumer end of an executor stream on the current run.

        Pass its ``stream_id`` and ``window`` in ``executor.execute_stream``.
        The spec's ``call_timeout`` bounds each wait for the next chunk: then
        the plugin is sent ``stream.cancel`` and the read raises
        :class:`PluginTimeout`. If the plugin crashes, reading raises
        :class:`PluginCrashed`; both name ``executor.execute_stream``. A
        stream the plugin ended with an error raises its :class:`StreamError`.
        """
        connection = self._live_connection()
        try:
            return connection.open_stream(
                window, idle_timeout=self.spec.call_timeout, map_error=self._stream_error
            )
        except RPCError as exc:
            raise map_error(self.id, "open_stream", exc) from None

    def _stream_error(self, exc: BaseException) -> BaseException:
        """A failed stream read, in the host's tree (the plugin's own stream errors as they are)."""
        if isinstance(exc, StreamError) and not isinstance(exc, StreamTimeout):
            return exc
        if not isinstance(exc, RPCError | PluginError):
            return exc
        error = map_error(self.id, STREAM_METHOD, exc)
        self._errors += 1
        self._last_error = error
        return error

    async def _unless_crashed(self, error: PluginError, process: PluginProcess) -> PluginError:
        # A dying plugin can break its stdin before its stdout reports EOF; the
        # engine then closes without the exit status. Not our doing: say crashed.
        if self._stop_requested:
            return error
        return await self._crash_report(process, error.reason)

    async def _crash_report(self, process: PluginProcess, detail: str) -> PluginCrashed:
        """The crash report once the process is gone (killed if still running)."""
        if self._state is PluginState.RUNNING and process is self._process:
            # Before any caller hears of the crash, so none can see "running" after it.
            self._state = PluginState.RESTARTING
        if not await process.wait_exited(self.spec.grace_period):
            detail = f"{detail}; killed" if detail else "killed"
            await process.kill()
        with trio.move_on_after(_STDERR_SETTLE):
            await process.stderr_done.wait()
        return process.crash_report(detail)

    def _live_connection(self) -> Connection:
        connection = self._connection
        if self._state is PluginState.RUNNING and connection is not None:
            return connection
        if self._state is PluginState.FAILED:
            raise PluginFailed(self.id, self._last_error)
        raise PluginUnavailable(self.id, self._state.value)

    # ------------------------------------------------------------- callbacks

    def _build_handlers(self, callbacks: Callbacks | None) -> dict[str, Handler]:
        handlers = {"host.log": Handler(LogParams, self._on_log)}
        if callbacks is not None:
            handlers.update(callbacks(self) if callable(callbacks) else callbacks)
        return handlers

    async def _on_log(self, params: LogParams, context: CallContext) -> None:
        callback = context.callback_id
        log_plugin_line(self.logger, params, f"callback {callback}" if callback else "")

    # ------------------------------------------------------------ supervision

    def _launch(self, nursery: trio.Nursery) -> None:
        """Start supervising in ``nursery`` (a fresh run: restart count reset)."""
        assert self._done.is_set(), "already supervised"
        self._stop_requested = False
        self._settled = trio.Event()
        self._done = trio.Event()
        self._state = PluginState.STARTING
        nursery.start_soon(self._supervise)

    async def _wait_settled(self) -> None:
        """Wait until the first start attempt of this run succeeded or failed."""
        await self._settled.wait()

    async def _stop(self) -> None:
        """Stop supervising: shut the plugin down gracefully and wait until it is gone."""
        if self._done.is_set():
            self._state = PluginState.STOPPED
            return
        self._stop_requested = True
        if self._state is PluginState.RUNNING:
            self._state = PluginState.STOPPING
        # Aborts the handshake, the wait while running, or the backoff sleep.
        if self._attempt_scope is not None:
            self._attempt_scope.cancel()
        await self._done.wait()

    async def _supervise(self) -> None:
        in_a_row = 0
        try:
            while not self._stop_requested:
                self._state = PluginState.STARTING
                started = trio.current_time()
                error = await self._attempt()
                self._settled.set()
                if self._stop_requested or error is None:
                    break
                self._last_error = error
                if isinstance(error, PluginDeclarationError):
                    self.logger.error("%s", error)
                    self._state = PluginState.FAILED
                    return
                if trio.current_time() - started >= self.spec.restart.healthy_after:
                    in_a_row = 0
                if in_a_row >= self.spec.restart.max_restarts:
                    self.logger.error(
                        "failed after %d restart(s) in a row; not restarted again until a "
                        "restart or a reload asks for it: %s",
                        in_a_row,
                        error,
                    )
                    self._state = PluginState.FAILED
                    return
                delay = self.spec.restart.backoff(in_a_row)
                self.logger.warning("%s; restarting in %gs", error, delay)
                self._state = PluginState.RESTARTING
                in_a_row += 1
                with trio.CancelScope() as self._attempt_scope:
                    await trio.sleep(delay)
                self._attempt_scope = None
                if not self._stop_requested:
                    self._restarts += 1
            self._state = PluginState.STOPPED
        finally:
            if self._state not in (PluginState.FAILED, PluginState.STOPPED):
                self._state = PluginState.STOPPED
            self._settled.set()
            self._done.set()

    async def _attempt(self) -> PluginError | None:
        """One run: spawn, handshake, serve until it ends. Returns why, or None if stopped."""
        try:
            process = await spawn(self.spec, self._launchers)
        except PluginStartError as exc:
            return exc
        plugin = PluginProcess(self.id, process, self.logger)
        self._process = plugin
        self.logger.debug("started, pid %d", plugin.pid)
        result: PluginError | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(plugin.run)
                try:
                    result = await self._serve(plugin)
                finally:
                    with trio.CancelScope(shield=True):
                        await plugin.kill()
                        with trio.move_on_after(_STDERR_SETTLE):
                            await plugin.stderr_done.wait()
                    nursery.cancel_scope.cancel()
        finally:
            self._connection = None
            await plugin.close_pipes()
            self.logger.debug("gone: %s", plugin.returncode)
        return result

    async def _serve(self, plugin: PluginProcess) -> PluginError | None:
        async def on_eof() -> BaseException:
            if self._stop_requested:
                return PluginClosed(self.id)
            if await plugin.wait_exited(self.spec.grace_period):
                return await self._crash_report(plugin, "")
            return await self._crash_report(plugin, "closed its stdout but kept running")

        async with open_connection(
            plugin.stdin,
            plugin.stdout,
            self._handlers,
            name=f"plugin {self.id}",
            max_line=self.spec.max_line,
            on_eof=on_eof,
            stream_prefix=self._stream_prefix,
        ) as connection:
            handshake_error: PluginError | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._close_when_exited, plugin, connection)
                with trio.CancelScope() as self._attempt_scope:
                    if self._stop_requested:
                        self._attempt_scope.cancel()
                    try:
                        await self._handshake(connection)
                    except PluginError as exc:
                        handshake_error = exc
                    else:
                        self._connection = connection
                        self._state = PluginState.RUNNING
                        self._settled.set()
                        self.logger.info(
                            "running (pid %d, %s %s)",
                            plugin.pid,
                            self.metadata.name,
                            self.metadata.version,
                        )
                        await connection.wait_closed()
                self._attempt_scope = None
                nursery.cancel_scope.cancel()
            self._connection = None
            if self._stop_requested:
                self._state = PluginState.STOPPING
                await self._retire(plugin, connection)
                return None
            if isinstance(handshake_error, PluginDeclarationError):
                # It answered; let it go politely before it is marked failed.
                await self._retire(plugin, connection)
            if handshake_error is not None:
                return handshake_error
            self._state = PluginState.RESTARTING
            return await self._why_closed(plugin, connection)

    async def _close_when_exited(self, plugin: PluginProcess, connection: Connection) -> None:
        # Normally stdout's EOF reports the crash (on_eof); this covers a pipe
        # kept open by a process that escaped the group.
        await plugin.exited.wait()
        await trio.sleep(self.spec.grace_period)
        connection.close(plugin.crash_report("its stdout stayed open after it exited"))

    async def _why_closed(self, plugin: PluginProcess, connection: Connection) -> PluginError:
        reason = connection.closed_reason
        if isinstance(reason, PluginError):
            return reason
        if isinstance(reason, ProtocolError):  # named by the connection ("plugin <id>: ...")
            said = str(reason).removeprefix(f"plugin {self.id}: ")
            return PluginProtocolError(self.id, f"{said}; killed")
        return await self._crash_report(plugin, str(reason) if reason else "")

    async def _retire(self, plugin: PluginProcess, connection: Connection) -> None:
        """``plugin.shutdown``, then the answers still due (bounded together by the
        shutdown timeout), then stdin closed, SIGTERM, SIGKILL (see terminate)."""
        if not connection.closed:
            with trio.move_on_after(self.spec.shutdown_timeout):
                # Closed under it (the plugin exited first: a PluginError) is fine too.
                with contextlib.suppress(RPCError, PluginError):
                    await connection.call("plugin.shutdown", Empty(), Empty)
                    # It answers the calls still in flight before it exits (PROTOCOL.md).
                    while connection.statistics().calls_in_flight:  # noqa: ASYNC110
                        await trio.sleep(0.01)
            connection.close(PluginClosed(self.id))
        await plugin.terminate(self.spec.grace_period)

    async def _handshake(self, connection: Connection) -> None:
        """``plugin.register``, validation, then the registration calls; raises PluginError."""
        timeout = self.spec.handshake_timeout
        try:
            with trio.fail_after(timeout):
                answer = await connection.call(
                    "plugin.register",
                    RegisterParams(
                        protocol_version=PROTOCOL_VERSION,
                        plugin_id=self.id,
                        config=dict(self.spec.config),
                        host=self._host,
                    ),
                    RegisterAnswer,
                )
                again = self._declaration is not None
                declaration = validate(self.id, answer, self.logger, again=again)
                self._declaration = declaration
                self._registrations = await self._register(connection, declaration)
        except trio.TooSlowError:
            reason = f"did not finish its handshake within {timeout:g}s"
            if (complaint := connection.last_complaint) is not None:
                # A print to stdout, say: the one clue a timeout has (stdout is the wire).
                reason += f"; the last line it wrote that was not an answer: {complaint}"
            raise PluginStartError(self.id, reason) from None
        except (RPCError, PluginError) as exc:
            error = map_error(self.id, "plugin.register", exc)
            if isinstance(error, PluginStartError):
                raise error from None
            raise PluginStartError(self.id, f"failed to start: {error.reason}") from error

    async def _register(self, connection: Connection, declaration: Declaration) -> Registrations:
        capabilities = declaration.capabilities
        metadata = declaration.metadata
        provider = ""
        models: list[ModelInfo] = []
        # SEMANTICS.md: model.static for a ModelProvider, else model.register; an
        # "oauth" executor's models come per auth only (model.for_auth), never static.
        if capabilities.model_provider is not None:
            if capabilities.executor_model_scope != "oauth":
                static = await connection.call(
                    "model.static",
                    StaticModelRequest(plugin=metadata, host=self._host),
                    ModelResponse,
                )
                provider, models = static.provider, static.models
        elif capabilities.model_registrar is not None:
            registered = await connection.call(
                "model.register",
                ModelRegistrationRequest(plugin=metadata),
                ModelRegistrationResponse,
            )
            provider, models = registered.provider, registered.models
        flags: list[CommandLineFlag] = []
        if capabilities.command_line_plugin is not None:
            cli = await connection.call(
                "command_line.register",
                CommandLineRegistrationRequest(plugin=metadata),
                CommandLineRegistrationResponse,
            )
            flags = cli.flags
        routes: list[ManagementRoute] = []
        resources: list[ResourceRoute] = []
        if capabilities.management_api is not None:
            management = await connection.call(
                "management.register",
                ManagementRegistrationRequest(
                    plugin=metadata,
                    base_path=MANAGEMENT_BASE_PATH,
                    resource_base_path=f"{RESOURCE_BASE_PATH}/{self.id}",
                ),
                ManagementRegistrationResponse,
            )
            routes, resources = management.routes, management.resources
        return Registrations(
            provider=provider,
            models=tuple(models),
            flags=tuple(flags),
            routes=tuple(routes),
            resources=tuple(resources),
        )
