"""The ``pluginrt`` command line. Commands only parse arguments and call the library."""

from __future__ import annotations

from pathlib import Path

import click

from pluginrt.api._schema import check_schemas, write_schemas

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
