"""Serving a host over HTTP with hypercorn's trio worker, until a signal says stop.

Guarantees: SIGTERM or Ctrl-C stop accepting connections and let requests in
flight (streams included) finish within ``shutdown-grace`` (a stream still open
then ends with an error event); a second one stops at once. SIGHUP re-reads the
config file. ``serve`` returns once the server is down; the caller's
``open_host`` block then stops the plugins.
"""

from __future__ import annotations

import logging
import signal
import socket
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio

from pluginrt._host import Host
from pluginrt.config import ConfigError

from ._app import Gateway

__all__ = ["check_address", "serve"]

logger = logging.getLogger("pluginrt.gateway")
#: hypercorn's own log; its "Running on ..." says what ``pluginrt listening on`` says.
server_log = logging.getLogger("pluginrt.gateway.server")
server_log.addFilter(lambda record: not str(record.msg).startswith("Running on "))

#: Seconds an idle keep-alive connection is kept. Longer than clients keep theirs
#: (httpx and the OpenAI SDK: 5 s), or the server may close a connection just as a
#: client reuses it; not much longer, because hypercorn's trio worker closes a
#: connection the client dropped only once this idle timer has run out.
KEEP_ALIVE_TIMEOUT = 15.0

#: Seconds :func:`check_address` waits for the host's name to resolve: a DNS server that does
#: not answer could hold it for much longer.
RESOLVE_TIMEOUT = 5.0


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` as hypercorn binds one (IPv6 if the host has a
    ``:``), closed again if it cannot be bound."""
    host = host.replace("[", "").replace("]", "")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Config(hypercorn.config.Config):
    """hypercorn's config, its one socket made by :func:`_socket`: hypercorn's own leaves a
    socket that failed to bind (port in use, unknown host) to the GC, a ResourceWarning."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.address = (host, port)
        self.bind = [_bind(host, port)]

    def create_sockets(self) -> hypercorn.config.Sockets:
        return hypercorn.config.Sockets([], [_socket(*self.address)], [])


async def check_address(host: str, port: int) -> bool:
    """Raise the OSError :func:`serve` would if ``host`` cannot be listened on (a name that
    does not resolve, an address not this machine's); False if the name did not resolve
    within RESOLVE_TIMEOUT.

    The port is not bound (a gateway already running holds it): port 0 stands in for it.
    """

    def bind() -> None:
        _socket(host, 0).close()

    with trio.move_on_after(RESOLVE_TIMEOUT):
        try:
            await trio.to_thread.run_sync(bind, abandon_on_cancel=True)
        except OSError as exc:
            raise _listen_error(_bind(host, port), exc) from None
        return True
    return False


async def serve(
    host: Host,
    *,
    config_path: str | None = None,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``host`` on its configured address; ``task_status`` gets the bound URLs.

    Raises OSError naming the address if it cannot be listened on (in use, unknown host).

    With ``handle_signals``, SIGTERM and SIGINT shut down gracefully and SIGHUP
    reloads ``config_path``. Cancel the caller's scope to stop at once.
    """
    app = Gateway(host, config_path=config_path)
    config = _Config(host.config.host, host.config.port)
    config.graceful_timeout = float(host.config.shutdown_grace)
    config.accesslog = None  # the Gateway writes one access line per request itself
    config.errorlog = server_log
    config.include_server_header = False
    # Longer than clients keep idle connections (httpx and the OpenAI SDK: 5 s), so the
    # server never closes a connection at the moment a client reuses it.
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT
    stop = trio.Event()
    hypercorn_serve: Any = hypercorn.trio.serve
    binds: list[str] = []
    try:
        async with trio.open_nursery() as nursery:

            async def server(task_status: trio.TaskStatus[list[str]]) -> None:
                await hypercorn_serve(
                    app, config, shutdown_trigger=stop.wait, task_status=task_status
                )
                nursery.cancel_scope.cancel()  # the server is down: stop watching signals

            if handle_signals:
                await nursery.start(_signals, app, stop, nursery.cancel_scope)
            binds = await nursery.start(server)
            task_status.started(binds)
    except* OSError as group:
        if binds:
            raise
        raise _listen_error(config.bind[0], group) from None
    logger.info("stopped serving %s; stopping the plugins", ", ".join(binds))


def _listen_error(bind: str, error: OSError | BaseExceptionGroup[OSError]) -> OSError:
    """One OSError saying which address could not be listened on, and why."""
    cause: BaseException = error
    while isinstance(cause, BaseExceptionGroup):
        cause = cause.exceptions[0]
    reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
    errno = cause.errno if isinstance(cause, OSError) else None
    return OSError(errno, f"cannot listen on {bind} (the config's host and port): {reason}")


async def _signals(
    app: Gateway,
    stop: trio.Event,
    now: trio.CancelScope,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        task_status.started()
        async for signum in signals:
            if signum == signal.SIGHUP:
                try:
                    await app.reload()
                except ConfigError as exc:
                    logger.error("reload refused, the running config stays: %s", exc)
                except Exception:
                    logger.exception("reload failed")
                continue
            if stop.is_set():
                logger.warning("second %s: stopping now", signal.Signals(signum).name)
                now.cancel()
                return
            grace = app.host.config.shutdown_grace
            logger.warning(
                "%s: shutting down; requests in flight get %gs to finish",
                signal.Signals(signum).name,
                grace,
            )
            stop.set()
