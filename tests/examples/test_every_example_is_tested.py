"""A new example cannot go untested: each script in examples/ is started by some test here."""

from __future__ import annotations

import ast
from pathlib import Path

from examples_harness import EXAMPLES

HERE = Path(__file__).parent


def started_scripts() -> set[str]:
    """File names passed to ``start(...)`` (as a literal) anywhere in this folder's tests."""
    names: set[str] = set()
    for test in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(test.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "start" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return names


def test_every_python_example_is_started_by_a_test() -> None:
    examples = {path.name for path in EXAMPLES.glob("*.py")}
    assert examples, f"no examples found in {EXAMPLES}"
    assert examples - started_scripts() == set()


def test_every_example_is_a_runnable_script_with_a_docstring() -> None:
    for path in sorted(EXAMPLES.glob("*.py")):
        module = ast.parse(path.read_text())
        assert ast.get_docstring(module), f"{path.name} has no module docstring"
        assert 'if __name__ == "__main__":\n    run(plugin)' in path.read_text(), path.name


def test_the_node_example_is_tested() -> None:
    scripts = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.glob("node/*.js")}
    assert scripts == {"node/echo_plugin.js"}
    assert '"node" / "echo_plugin.js"' in (HERE / "test_node_plugin.py").read_text()
