"""Translators and normalizers driven by their config; each marks what it touched.

Config: ``translate`` (``answer``, ``decline`` or ``fail``; default
``decline``), ``formats`` (``[from, to]`` pairs answered, default any),
``normalize`` (bool: the normalizers append a mark; ``fail``: they fail), ``tag``.
Request translation appends ``|rt:<tag>``, response translation
``|st:<tag>``, the normalizers ``|rn:``, ``|nb:``, ``|na:`` and the tag.
"""

from _probe import maybe_fail, note

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-transformer", version="1", author="tests", github_repository="-")


def translated(mark: str, source: str, target: str, body: bytes) -> api.PayloadResponse:
    config = plugin.config
    note(plugin, mark, source=source, target=target)
    mode = config.get("translate", "decline")
    pairs = config.get("formats")
    if pairs is not None and [source, target] not in pairs:
        return api.PayloadResponse()
    if mode == "fail":
        maybe_fail("configured translation failure")
    if mode != "answer":
        return api.PayloadResponse()
    return api.PayloadResponse(body=body + f"|{mark}:{config['tag']}".encode())


def normalized(mark: str, body: bytes) -> api.PayloadResponse:
    note(plugin, mark)
    if plugin.config.get("normalize") == "fail":
        maybe_fail("configured normalizer failure")
    if not plugin.config.get("normalize"):
        return api.PayloadResponse()
    return api.PayloadResponse(body=body + f"|{mark}:{plugin.config['tag']}".encode())


@plugin.on("request.translate")
async def request_translate(request: api.RequestTransformRequest) -> api.PayloadResponse:
    return translated("rt", request.from_format, request.to_format, request.body)


@plugin.on("response.translate")
async def response_translate(request: api.ResponseTransformRequest) -> api.PayloadResponse:
    return translated("st", request.from_format, request.to_format, request.body)


@plugin.on("request.normalize")
async def request_normalize(request: api.RequestTransformRequest) -> api.PayloadResponse:
    return normalized("rn", request.body)


@plugin.on("response.normalize_before")
async def normalize_before(request: api.ResponseTransformRequest) -> api.PayloadResponse:
    return normalized("nb", request.body)


@plugin.on("response.normalize_after")
async def normalize_after(request: api.ResponseTransformRequest) -> api.PayloadResponse:
    return normalized("na", request.body)


if __name__ == "__main__":
    run(plugin)
