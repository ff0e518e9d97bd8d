"""A command-line plugin: declares the flags of its config and journals each execution.

Config: ``flags`` (a list of ``{"name", "type", "usage", "default"}``), ``stdout``
and ``stderr`` (what ``command_line.execute`` writes), ``exit`` (its exit code).
"""

from _probe import note

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-flagger", version="1", author="tests", github_repository="-")


@plugin.on("command_line.register")
async def register(
    request: api.CommandLineRegistrationRequest,
) -> api.CommandLineRegistrationResponse:
    flags = [
        api.CommandLineFlag(name=f["name"], type=f.get("type", ""), usage=f.get("usage", ""),
                            default_value=f.get("default", ""))
        for f in plugin.config.get("flags", [])
    ]  # fmt: skip
    return api.CommandLineRegistrationResponse(flags=flags)


@plugin.on("command_line.execute")
async def execute(request: api.CommandLineExecutionRequest) -> api.CommandLineExecutionResponse:
    def values(flags: dict[str, api.CommandLineFlagValue]) -> dict[str, list[object]]:
        return {name: [v.type, v.value, v.set] for name, v in flags.items()}

    note(plugin, "command_line.execute", flags=values(request.flags),
         triggered=values(request.triggered_flags), program=request.program,
         args=request.args, config_path=request.config_path)  # fmt: skip
    return api.CommandLineExecutionResponse(
        stdout=plugin.config.get("stdout", "").encode(),
        stderr=plugin.config.get("stderr", "").encode(),
        exit_code=int(plugin.config.get("exit", 0)),
    )


if __name__ == "__main__":
    run(plugin)
