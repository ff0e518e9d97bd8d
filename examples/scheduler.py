"""A scheduler: picks the auth a request runs with, or hands over to a built-in.

A client that sends ``X-Mock-Auth: <auth id>`` gets that auth if it is a
candidate; otherwise the pick is delegated to the built-in ``fill-first``
scheduler (``round-robin`` is the other one).
"""

from plugin_sdk import Plugin, run
from pluginrt.api import SCHEDULER_BUILTIN_FILL_FIRST, SchedulerPickRequest, SchedulerPickResponse

plugin = Plugin(
    "header-scheduler",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("scheduler.pick")
async def pick(request: SchedulerPickRequest) -> SchedulerPickResponse:
    headers = {k.lower(): v for k, v in request.options.headers.items() if v}
    wanted = headers.get("x-mock-auth", [""])[0]
    if any(candidate.id == wanted for candidate in request.candidates):
        return SchedulerPickResponse(handled=True, auth_id=wanted)
    return SchedulerPickResponse(handled=True, delegate_builtin=SCHEDULER_BUILTIN_FILL_FIRST)


if __name__ == "__main__":
    run(plugin)
