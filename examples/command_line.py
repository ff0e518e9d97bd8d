"""A command-line plugin: adds ``--mock-login`` (and ``--mock-user NAME``) to the host's CLI.

The host registers the flags at start-up; when one is given, it calls
``command_line.execute`` instead of serving, writes the returned stdout and
stderr, saves the returned auths to its auth directory, and exits with
``ExitCode``.
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import (
    AuthData,
    CommandLineExecutionRequest,
    CommandLineExecutionResponse,
    CommandLineFlag,
    CommandLineRegistrationRequest,
    CommandLineRegistrationResponse,
)

plugin = Plugin(
    "mock-cli",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("command_line.register")
async def register(request: CommandLineRegistrationRequest) -> CommandLineRegistrationResponse:
    return CommandLineRegistrationResponse(flags=[
        CommandLineFlag(name="mock-login", type="bool", usage="log in to the mock provider"),
        CommandLineFlag(name="mock-user", type="string", usage="who logs in",
                        default_value="demo"),
    ])  # fmt: skip


@plugin.on("command_line.execute")
async def execute(request: CommandLineExecutionRequest) -> CommandLineExecutionResponse:
    login = request.triggered_flags.get("mock-login")
    if login is None or login.value != "true":  # not given, or -mock-login=false
        return CommandLineExecutionResponse(exit_code=0)
    user = request.flags["mock-user"].value if "mock-user" in request.flags else "demo"
    storage = json.dumps({"type": "mock", "token": f"token-{user}"}).encode()
    auth = AuthData(provider="mock", id=f"mock-{user}", file_name=f"mock-{user}.json",
                    label=user, storage_json=storage)  # fmt: skip
    return CommandLineExecutionResponse(
        stdout=f"logged in to mock as {user}; saving mock-{user}.json\n".encode(), auths=[auth]
    )


if __name__ == "__main__":
    run(plugin)
