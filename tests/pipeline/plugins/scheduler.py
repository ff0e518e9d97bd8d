"""A scheduler driven by its config.

Config: ``pick`` (its answer: ``{"handled", "auth_id", "delegate"}``), ``fail`` (an error instead).
"""

from _probe import maybe_fail, note

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-scheduler", version="1", author="tests", github_repository="-")


@plugin.on("scheduler.pick")
async def pick(request: api.SchedulerPickRequest) -> api.SchedulerPickResponse:
    note(plugin, "pick", candidates=[c.id for c in request.candidates], model=request.model)
    maybe_fail(plugin.config.get("fail"))
    answer = plugin.config.get("pick", {})
    return api.SchedulerPickResponse(handled=answer.get("handled", True),
                                     auth_id=answer.get("auth_id", ""),
                                     delegate_builtin=answer.get("delegate", ""))  # fmt: skip


if __name__ == "__main__":
    run(plugin)
