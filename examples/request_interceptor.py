"""A request interceptor, before and after auth: adds a header and tags the body.

``request.intercept_before`` runs on the client's request (``ToFormat`` empty,
``Model`` as requested); ``request.intercept_after`` runs once the executor is
chosen (``ToFormat`` its input format, ``Model`` the upstream one). Headers
given replace those of the same name; an empty ``Body`` keeps the body.
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import RequestInterceptRequest, RequestInterceptResponse

plugin = Plugin(
    "request-tagger",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


def tag(request: RequestInterceptRequest, stage: str) -> RequestInterceptResponse:
    headers = {f"X-Intercepted-{stage.title()}": [request.model]}
    try:
        body = json.loads(request.body)
    except ValueError:
        return RequestInterceptResponse(headers=headers)  # not JSON: headers only
    if not isinstance(body, dict):
        return RequestInterceptResponse(headers=headers)
    body.setdefault("metadata", {})[f"intercepted_{stage}"] = True
    return RequestInterceptResponse(headers=headers, body=json.dumps(body).encode(),
                                    clear_headers=["X-Debug"])  # fmt: skip


@plugin.on("request.intercept_before")
async def before(request: RequestInterceptRequest) -> RequestInterceptResponse:
    return tag(request, "before")


@plugin.on("request.intercept_after")
async def after(request: RequestInterceptRequest) -> RequestInterceptResponse:
    return tag(request, "after")


if __name__ == "__main__":
    run(plugin)
