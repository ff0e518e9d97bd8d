"""The host's error tree: what a call on a plugin can end with.

Every error names the plugin (``plugin_id``). Engine errors are mapped into
this tree at exactly one seam (:func:`map_error`), so callers of the host
never see :mod:`pluginrt.rpc` exceptions for a call:

- :class:`PluginError`: the base.
- :class:`PluginCrashed`: the process died (or closed its stdout); carries
  the exit status or signal and the tail of its stderr.
- :class:`PluginTimeout`: no answer within the call's timeout (the plugin
  was sent ``$/cancel``), or no chunk of a stream for that long (the plugin
  was sent ``stream.cancel``).
- :class:`PluginClosed`: *we* stopped the plugin while the call was in flight.
- :class:`PluginUnavailable`: the plugin is not running (starting,
  restarting, stopped); :class:`PluginFailed` when it was given up on.
- :class:`PluginRemoteError`: the plugin answered with an error object
  (``code``, ``message``, ``http_status``, ``retryable``).
- :class:`PluginProtocolError`: the plugin broke the wire protocol.
- :class:`PluginStartError`: the plugin did not come up (a crash or a
  timeout during the handshake); :class:`PluginDeclarationError` when its
  declaration was refused (the message names the rule), which is final.
"""

from __future__ import annotations

import signal

from pluginrt.rpc import (
    CallTimeout,
    ConnectionClosed,
    ProtocolError,
    RemoteError,
    RPCError,
    StreamTimeout,
)

__all__ = [
    "PluginClosed",
    "PluginCrashed",
    "PluginDeclarationError",
    "PluginError",
    "PluginFailed",
    "PluginProtocolError",
    "PluginRemoteError",
    "PluginStartError",
    "PluginTimeout",
    "PluginUnavailable",
    "describe_exit",
    "map_error",
]


class PluginError(Exception):
    """Base of every error the host raises about one plugin."""

    def __init__(self, plugin_id: str, message: str) -> None:
        super().__init__(f"plugin {plugin_id!r}: {message}")
        self.plugin_id = plugin_id
        #: The message without the plugin's name.
        self.reason = message


def describe_exit(returncode: int | None) -> str:
    """``exited with status 3`` / ``killed by SIGKILL`` / ``still running``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


class PluginCrashed(PluginError):
    """The plugin's process died, or closed its stdout and was killed.

    ``returncode`` is the process's (negative: the signal), ``stderr_tail``
    the last lines it wrote to stderr, ``method`` the call it failed (a
    stream's: the call that opened it; empty where no call did, e.g. the
    crash that ended a run).
    """

    def __init__(
        self,
        plugin_id: str,
        returncode: int | None,
        stderr_tail: str,
        *,
        detail: str = "",
        method: str = "",
    ) -> None:
        status = describe_exit(returncode)
        message = f"crashed during {method}" if method else "crashed"
        message += f" ({detail}; {status})" if detail else f" ({status})"
        #: Without the stderr tail: what an HTTP client may read (it is the plugin's output).
        self.summary = f"plugin {plugin_id!r}: {message}"
        if stderr_tail:
            # Indented: in a log, the plugin's own lines must not read as the host's.
            quoted = "\n".join(f"    | {line}" for line in stderr_tail.splitlines())
            message += f"; stderr tail:\n{quoted}"
        super().__init__(plugin_id, message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.detail = detail
        self.method = method

    @property
    def signal(self) -> signal.Signals | None:
        """The signal that killed the process, if one did."""
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode)
        except ValueError:
            return None

    def _copy(self, method: str = "") -> PluginCrashed:
        return PluginCrashed(
            self.plugin_id,
            self.returncode,
            self.stderr_tail,
            detail=self.detail,
            method=method or self.method,
        )


class PluginTimeout(PluginError):
    """The plugin did not answer ``method`` within ``timeout`` seconds (``idle``: a stream
    it opened sent no chunk for that long)."""

    def __init__(self, plugin_id: str, method: str, timeout: float, *, idle: bool = False) -> None:
        waited = " waiting for a chunk" if idle else ""
        super().__init__(plugin_id, f"{method} timed out after {timeout:g}s{waited}")
        self.method = method
        self.timeout = timeout
        self.idle = idle


class PluginClosed(PluginError):
    """The host stopped the plugin while the call was in flight."""

    def __init__(self, plugin_id: str, message: str = "stopped by the host") -> None:
        super().__init__(plugin_id, message)


class PluginUnavailable(PluginError):
    """The plugin is not running, so the call was not sent; ``state`` says why."""

    def __init__(self, plugin_id: str, state: str, message: str = "") -> None:
        super().__init__(plugin_id, message or f"not available (state: {state})")
        self.state = state


class PluginFailed(PluginUnavailable):
    """The plugin kept failing and was given up on; ``last_error`` is the final failure."""

    def __init__(self, plugin_id: str, last_error: BaseException | None) -> None:
        # The last error's own text, without the plugin's name again.
        detail = f": {getattr(last_error, 'reason', last_error)}" if last_error is not None else ""
        super().__init__(plugin_id, "failed", f"failed and is no longer started{detail}")
        self.last_error = last_error


class PluginRemoteError(PluginError):
    """The plugin answered with a JSON-RPC error object."""

    def __init__(
        self,
        plugin_id: str,
        method: str,
        code: int,
        message: str,
        *,
        error_code: str = "",
        http_status: int = 0,
        retryable: bool = False,
    ) -> None:
        # pluginrt's own plugins already say "<method> failed: ..." (a handler's exception).
        said = message if message.startswith(f"{method} ") else f"{method} failed: {message}"
        super().__init__(plugin_id, f"{said} (code {code})")
        self.method = method
        self.code = code
        self.message = message
        #: ``error.data.code``: the plugin's own error code, if it gave one.
        self.error_code = error_code
        self.http_status = http_status
        self.retryable = retryable


class PluginProtocolError(PluginError):
    """The plugin broke the wire protocol (an over-long line, a malformed result)."""


class PluginStartError(PluginError):
    """The plugin did not come up: it crashed, broke the protocol, or timed out in the handshake."""


class PluginDeclarationError(PluginStartError):
    """The plugin's ``plugin.register`` answer was refused; the message names the rule.

    This is final: the plugin is marked failed without restarts.
    """


def map_error(plugin_id: str, method: str, exc: RPCError | PluginError) -> PluginError:
    """Map an engine error from a call into the host's tree (the one seam).

    Host errors already in the tree are copied fresh, since the engine hands
    the same close-reason object to every call in flight.
    """
    if isinstance(exc, ConnectionClosed) and isinstance(exc.__cause__, PluginError):
        return map_error(plugin_id, method, exc.__cause__)
    if isinstance(exc, PluginCrashed):
        return exc._copy(method)
    if isinstance(exc, PluginClosed):
        return PluginClosed(plugin_id)
    if isinstance(exc, PluginError):
        return exc
    if isinstance(exc, RemoteError):
        data = exc.data
        return PluginRemoteError(
            plugin_id,
            method,
            exc.code,
            exc.message,
            error_code=data.code if data else "",
            http_status=exc.http_status,
            retryable=exc.retryable,
        )
    if isinstance(exc, CallTimeout):
        return PluginTimeout(plugin_id, method, exc.timeout)
    if isinstance(exc, StreamTimeout):
        return PluginTimeout(plugin_id, method, exc.timeout, idle=True)
    if isinstance(exc, ProtocolError):  # named by the connection ("plugin <id>: ...") already
        return PluginProtocolError(plugin_id, str(exc).removeprefix(f"plugin {plugin_id}: "))
    if isinstance(exc, ConnectionClosed):
        return PluginClosed(plugin_id, f"connection closed during {method}: {exc}")
    return PluginError(plugin_id, f"{method} failed: {exc}")
