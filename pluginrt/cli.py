"""The ``pluginrt`` command line. Commands only parse arguments and call the library."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import click
import trio

from pluginrt import _goflag
from pluginrt._host import FlagBinding, open_host
from pluginrt._logging import protect_handlers, protect_loggers
from pluginrt.api._schema import check_schemas, write_schemas
from pluginrt.config import Config, ConfigError, load_config
from pluginrt.gateway import check_report, serve, summary
from pluginrt.gateway._serve import RESOLVE_TIMEOUT, check_address
from pluginrt.host import (
    PluginError,
    PluginRemoteError,
    PluginSpec,
    call_once,
    inspect_plugin,
    one_shot_spec,
)
from pluginrt.rpc import StreamError

__all__ = ["main"]


@click.group()
@click.version_option(package_name="pluginrt", prog_name="pluginrt")
def main() -> None:
    """pluginrt: a subprocess JSON-RPC plugin runtime."""


@main.command()
@click.argument(
    "directory",
    default="schemas",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
def schemas(directory: Path, check: bool) -> None:
    """Write the JSON Schema of every method's params and result to DIRECTORY."""
    if check:
        drifted = check_schemas(directory)
        if drifted:
            click.echo(f"{len(drifted)} schema file(s) out of date in {directory}:", err=True)
            for name in drifted:
                click.echo(f"  {name}", err=True)
            click.echo("Run `pluginrt schemas` to regenerate them.", err=True)
            raise SystemExit(1)
        click.echo(f"{directory}: schemas up to date")
        return
    changed = write_schemas(directory)
    click.echo(f"{directory}: {len(changed)} file(s) written or removed")


_ID_HELP = (
    "The plugin id to hand it (default: the name, without extension, of the first "
    "argument after the program that is a file, else of the program)."
)
_VERBOSE = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also show the plugin's stderr and host.log lines, and the host's warnings.",
)
_SECONDS = click.FloatRange(min=0, min_open=True)


def _spec_from(
    command: tuple[str, ...], plugin_id: str | None, timeout: float, verbose: bool
) -> PluginSpec:
    # Plugins' stderr and host.log lines are logged at INFO: shown with --verbose. Without
    # it, the one error line is the command's own (a failed start is not logged twice).
    logging.basicConfig(
        level=logging.INFO if verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
    )
    protect_handlers()
    if not command:
        raise click.UsageError("give the plugin's command after --")
    if plugin_id is not None and not plugin_id.strip():
        raise click.BadParameter("the plugin id must not be blank", param_hint="--id")
    return one_shot_spec(command, plugin_id=plugin_id, timeout=timeout)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--id", "plugin_id", help=_ID_HELP)
@click.option(
    "--timeout", default=10.0, type=_SECONDS, show_default=True, help="Handshake timeout, seconds."
)
@_VERBOSE
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def inspect(
    command: tuple[str, ...], as_json: bool, plugin_id: str | None, timeout: float, verbose: bool
) -> None:
    """Start a plugin, handshake, print what it declares and registers, and stop it.

    \b
        pluginrt inspect -- ./my_plugin.py
        pluginrt inspect --json -- node plugin.js

    A script path alone (ending in .py) runs under the current Python.
    """
    spec = _spec_from(command, plugin_id, timeout, verbose)
    try:
        report = trio.run(inspect_plugin, spec)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(report.to_text())


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--method", "-m", help="The method to call; if omitted, the last argument is.")
@click.option("--params", default="{}", show_default=True, help="The params, as JSON.")
@click.option(
    "--timeout",
    default=30.0,
    type=_SECONDS,
    show_default=True,
    help="Handshake and call timeout, seconds.",
)
@click.option("--id", "plugin_id", help=_ID_HELP)
@_VERBOSE
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def call(
    command: tuple[str, ...],
    method: str | None,
    params: str,
    timeout: float,
    plugin_id: str | None,
    verbose: bool,
) -> None:
    """Start a plugin, send one METHOD with JSON params, print the JSON result, stop it.

    \b
        pluginrt call --params '{"Model": "m"}' -- ./plugin.py executor.execute
        pluginrt call -m executor.execute -- node plugin.js

    Without --method the last argument after -- is the method. For
    executor.execute_stream the host opens the stream (stream_id, window): its
    chunks print as they come, then its headers. Exits 1 with the error (naming
    the plugin) if the plugin fails to start, the call fails or the stream ends
    with an error.
    """
    if method is None:
        if len(command) < 2:
            raise click.UsageError("give COMMAND... METHOD after --, or use --method")
        command, method = command[:-1], command[-1]
    try:
        json.loads(params)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
    spec = _spec_from(command, plugin_id, timeout, verbose)
    try:
        result = trio.run(call_once, spec, method, params.encode(), _print_chunk)
    except PluginError as exc:
        raise click.ClickException(str(exc) + _error_details(exc)) from None
    except StreamError as exc:  # a stream the plugin ended with an error, after its chunks
        said = f"plugin {spec.id!r}: {method}: the stream ended with an error: {exc}"
        raise click.ClickException(said) from None
    click.echo(json.dumps(json.loads(result), indent=2))


def _print_chunk(chunk: bytes) -> None:
    """A chunk of ``executor.execute_stream`` as it comes (the headers print at the end)."""
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def _error_details(exc: PluginError) -> str:
    """The error's ``data`` a plugin gave (code, http_status, retryable), for the reader."""
    if not isinstance(exc, PluginRemoteError):
        return ""
    details = [
        f"{name} {value}"
        for name, value in (
            ("code", exc.error_code and repr(exc.error_code)),
            ("http_status", exc.http_status),
            ("retryable", exc.retryable),
        )
        if value
    ]
    return f" [{', '.join(details)}]" if details else ""


# ------------------------------------------------------------------ run, check


def _load(config_path: str) -> Config:
    """The config, or exit 2 with the ConfigError (file:line: key: reason)."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


def _serve_config(main_task: Callable[[], Awaitable[int]], config_path: str) -> NoReturn:
    """Run ``main_task`` and exit with its status; an OSError (an auth-dir that cannot be
    created, say) is one error line and status 1."""
    try:
        status = trio.run(main_task)
    except OSError as exc:
        click.echo(f"error: {config_path}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
    raise SystemExit(status)


def _logging(level: str) -> None:
    # Only pluginrt's own loggers get the level: an embedding (or a test) keeps its root.
    logging.basicConfig(
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("pluginrt").setLevel(level.upper())
    # Keys and credential headers never reach the log, whichever logger wrote them.
    protect_handlers()
    protect_loggers()


#: The metavar of a plugin flag's value in --help, by type.
_METAVARS = {"int": "INTEGER", "int64": "INTEGER", "float64": "FLOAT", "duration": "DURATION"}


def _go_value(flag_type: str) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    """A click callback reading a plugin flag's value as Go's flag package reads it, to the
    text ``command_line.execute`` gets (``0x10`` is ``16``, ``90s`` is ``1m30s``)."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:  # given empty, Go refuses it: only a default's emptiness means the zero value
            return _goflag.format_value(flag_type, _goflag.parse(flag_type, value))
        except ValueError as exc:
            raise click.BadParameter(f"{value!r}: {exc}", ctx, param) from None

    return convert


class _BoolOption(click.Option):
    """A Go bool flag: ``--name`` alone (spelled ``--name=true`` before parsing, see
    :func:`pluginrt._goflag.spell_flags`) or ``--name=false``; help shows ``--name``."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        return None if record is None else (record[0].split(" ", 1)[0], record[1])


def _flag_command(bindings: list[FlagBinding]) -> click.Command:
    """A click command whose options are the plugins' flags (parsed with click, not by hand;
    the values as Go's flag package reads them)."""
    params: list[click.Parameter] = []
    for position, binding in enumerate(bindings):
        flag = binding.flag
        decls = [f"--{flag.name}", f"flag{position}"]
        usage = f"{flag.usage or flag.name}  [plugin {binding.plugin_id}]"
        convert = _go_value(flag.type)
        if flag.type in ("", "bool"):
            params.append(_BoolOption(decls, callback=convert, help=usage))
        else:
            # Shown as Go prints it; the host checked that it parses.
            default = flag.default_value and _goflag.canonical(flag.type, flag.default_value)
            params.append(
                click.Option(decls, metavar=_METAVARS.get(flag.type, "TEXT"), callback=convert,
                             default=default or None, show_default=bool(default), help=usage)
            )  # fmt: skip
    # Go's flag package takes -h and -help (spelled --h and --help here) for --help too.
    params.append(click.Option(["--help", "--h", "help"], is_flag=True, hidden=True))
    params.append(click.Argument(["args"], nargs=-1))
    return click.Command("run", params=params, add_help_option=False)


def _plugin_flags_help(ctx: click.Context, bindings: list[FlagBinding], config_path: str) -> str:
    command = _flag_command(bindings)
    formatter = ctx.make_formatter()
    rows = [
        row
        for param in command.params
        if isinstance(param, click.Option)
        and (row := param.get_help_record(click.Context(command))) is not None
    ]
    with formatter.section(f"Plugin flags (from {config_path})"):
        if rows:
            formatter.write_dl(rows)
        else:
            formatter.write_text("(the plugins declare none)")
    return formatter.getvalue()


#: The other spellings of ``--help`` that Go's flag package takes.
_GO_HELP = frozenset({"-h", "-help", "--h"})


def _parse_flags(
    bindings: list[FlagBinding], args: tuple[str, ...]
) -> tuple[dict[str, str], list[str], bool]:
    """The plugin flags given on the command line (name -> value as Go prints it), the
    rest, and whether help was asked for. Each is read as Go's flag package reads it:
    ``-name`` or ``--name``, then ``=value`` or the next argument (a bool: ``=value``
    only)."""
    command = _flag_command(bindings)
    bools = {b.flag.name for b in bindings if b.flag.type in ("", "bool")}
    valued = {b.flag.name for b in bindings} - bools
    spelled = _goflag.spell_flags(args, bools, valued)
    ctx = command.make_context("pluginrt run CONFIG", spelled)
    values: dict[str, str] = {}
    for position, binding in enumerate(bindings):
        name = f"flag{position}"
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            values[binding.flag.name] = ctx.params[name]
    return values, list(ctx.params["args"]), bool(ctx.params["help"])


@main.command(
    # What follows CONFIG is left as it is (a "--" too) for the plugin flags' parser.
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    add_help_option=False,
)
@click.argument("config_path", metavar="CONFIG", required=False)
@click.argument("flags", nargs=-1, type=click.UNPROCESSED)
@click.option("--help", "show_help", is_flag=True, help="Show this message and exit.")
@click.pass_context
def run(
    ctx: click.Context, config_path: str | None, flags: tuple[str, ...], show_help: bool
) -> None:
    """Serve the plugins of CONFIG over HTTP (OpenAI, Claude and Gemini endpoints).

    \b
        pluginrt run examples/gateway.yaml
        pluginrt run gateway.yaml --help      # also lists the plugins' own flags

    A plugin flag given after CONFIG runs that plugin's command-line handler
    instead of serving, saves any auths it returns, and exits with its code.
    Ctrl-C or SIGTERM shut down gracefully; SIGHUP reloads CONFIG.

    Plugin flags are read as Go's flag package reads them: -name or --name,
    then =VALUE or VALUE (a bool flag: alone for true, or -name=false).
    """
    if config_path in _GO_HELP:  # not a config: asking for help as Go's flag package does
        config_path, show_help = None, True
    if config_path is None:
        if show_help:
            click.echo(ctx.get_help())
            click.echo("\nGive CONFIG before --help to see the plugins' flags too.")
            return
        raise click.UsageError("give the config file: pluginrt run CONFIG")
    config = _load(config_path)
    _logging("warning" if show_help or not _GO_HELP.isdisjoint(flags) else config.logging.level)

    async def main_task() -> int:
        async with open_host(config) as host:
            bindings = host.flags()
            try:  # --help shows the flags however the others are spelled
                values, args, asks_help = _parse_flags(bindings, () if show_help else flags)
            except click.ClickException as exc:
                exc.show()
                return 2
            if show_help or asks_help:
                click.echo(ctx.get_help() + "\n")
                click.echo(_plugin_flags_help(ctx, bindings, config_path), nl=False)
                return 0
            if values:
                # The seed: Program is os.Args[0], Args every argument after it, flags included.
                answers = await host.execute_flags(
                    values,
                    program=sys.argv[0],
                    args=sys.argv[1:],
                    config_path=str(Path(config_path)),
                )
                codes = []
                for _plugin_id, answer in answers:
                    click.echo(answer.stdout, nl=False)
                    click.echo(answer.stderr, nl=False, err=True)
                    codes.append(answer.exit_code)
                return next((code for code in codes if code), 0)
            if args:
                click.echo(f"error: unexpected argument(s): {' '.join(args)}", err=True)
                return 2
            async with trio.open_nursery() as nursery:
                try:
                    binds = await nursery.start(partial(serve, host, config_path=config_path))
                except OSError as exc:
                    click.echo(f"error: {config_path}: {exc.strerror}", err=True)
                    return 1
                click.echo(summary(host, binds), err=True)
            return 0

    _serve_config(main_task, config_path)


@main.command()
@click.argument("config_path", metavar="CONFIG")
def check(config_path: str) -> None:
    """Validate CONFIG and handshake every plugin, without serving.

    Exits 2 on a bad config (naming the file, line and key), 1 if its host
    cannot be listened on or a plugin fails to start, 0 when everything is ready.
    """
    config = _load(config_path)
    _logging("warning")

    async def main_task() -> int:
        if not await check_address(config.host, config.port):
            click.echo(
                f"warning: {config_path}: the host {config.host!r} did not resolve within "
                f"{RESOLVE_TIMEOUT:g}s; not checked",
                err=True,
            )
        async with open_host(config) as host:
            report = check_report(host)
        click.echo(report.text)
        return 0 if report.ok else 1

    _serve_config(main_task, config_path)
