"""The ``pluginrt`` command line. Commands only parse arguments and call the library."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import trio

from pluginrt.api._schema import check_schemas, write_schemas
from pluginrt.host import PluginError, PluginSpec, call_once, inspect_plugin, one_shot_spec

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


_VERBOSE = click.option(
    "--verbose", "-v", is_flag=True, help="Also show the plugin's stderr and host.log lines."
)


def _spec_from(
    command: tuple[str, ...], plugin_id: str | None, timeout: float, verbose: bool
) -> PluginSpec:
    # Plugins' stderr and host.log lines are logged at INFO: shown with --verbose.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not command:
        raise click.UsageError("give the plugin's command after --")
    return one_shot_spec(command, plugin_id=plugin_id, timeout=timeout)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--id", "plugin_id", help="The plugin id to hand it (default: the script's name).")
@click.option("--timeout", default=10.0, show_default=True, help="Handshake timeout, seconds.")
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
@click.option("--timeout", default=30.0, show_default=True, help="Handshake and call timeout.")
@click.option("--id", "plugin_id", help="The plugin id to hand it (default: the script's name).")
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

    Without --method the last argument after -- is the method. Exits 1 with
    the error (naming the plugin) if the plugin fails to start or the call fails.
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
        result = trio.run(call_once, spec, method, params.encode())
    except PluginError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(json.loads(result), indent=2))
