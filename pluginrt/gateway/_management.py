"""The management API (``/v0/management/...``) and plugin resources (``/v0/resource/...``).

Guarantees: without a configured ``management-key`` every management path
answers 404, as if it did not exist; with one, a request without the key
(``Authorization: Bearer`` or ``X-Management-Key``, compared in constant
time) gets 401. Resources need no key, are GET only, and refuse ``..``. A HEAD is
answered as the GET on the same path is (the plugin is asked a GET).
A plugin's route or resource never sees the client's credentials: the
``Authorization``, ``Cookie`` and key headers and ``key``/``api_key`` query
values are dropped before ``management.handle`` (and it is never sent auth files).
Plugin route handlers that fail answer 502; string values of the JSON bodies
they return are HTML-escaped. ``POST api-call`` has an auth's executor send an
upstream request with that auth's credential (``executor.http_request``).
"""

from __future__ import annotations

import copy
import hmac
import html
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import trio

from pluginrt import api
from pluginrt._host import RESOURCE_BASE, Host, RouteBinding, host_methods, host_route
from pluginrt.config import ConfigError
from pluginrt.host import PluginError, PluginHandle, PluginStatistics
from pluginrt.host._group import PluginGroup
from pluginrt.pipeline import PipelineError
from pluginrt.pipeline._pipeline import message_of, status_of

from ._asgi import Headers, Response, allowed, json_response, parse_json

__all__ = ["Management", "capability_names", "management_error", "plugin_status"]

logger = logging.getLogger("pluginrt.gateway")

_CAPABILITY_FIELDS = {f.name: f.encode_name for f in msgspec.structs.fields(api.Capabilities)}


def capability_names(capabilities: api.Capabilities) -> list[str]:
    """The seed names of the capabilities declared (``Executor``, ``UsagePlugin``, ...)."""
    return [
        wire
        for name, wire in _CAPABILITY_FIELDS.items()
        if isinstance(getattr(capabilities, name), api.CapabilityDecl)
    ]


def _models_of(host: Host, handle: PluginHandle) -> list[str]:
    """The models ``handle`` registered, then those it serves for auths (``model.for_auth``)."""
    models = [m.id for m in handle.registrations.models]
    served = (
        info.id for info, route in host.models.listing(host.active()) if route.executor is handle
    )
    return models + [m for m in served if m not in models]


def plugin_status(host: Host, plugin_id: str) -> dict[str, Any]:
    """One plugin as the management API lists it."""
    configured = next((p for p in host.config.plugins if p.id == plugin_id), None)
    handle: PluginHandle | None = host.plugins.get(plugin_id)
    status: dict[str, Any] = {
        "id": plugin_id,
        "enabled": bool(configured and configured.enabled),
        "priority": configured.priority if configured else 0,
        "name": "",
        "version": "",
        "state": "disabled",
        "pid": None,
        "restarts": 0,
        "capabilities": [],
        "models": [],
        "statistics": {},
    }
    if handle is None:
        return status
    stats = handle.statistics()
    status.update(
        name=handle.metadata.name,
        version=handle.metadata.version,
        state=str(handle.state),
        pid=handle.pid,
        restarts=handle.restarts,
        capabilities=capability_names(handle.capabilities),
        models=_models_of(host, handle),
        statistics=_counters(stats),
    )
    if isinstance(handle, PluginGroup):  # instances: N
        status["instances"] = [
            {
                "instance": index,
                "state": str(member.state),
                "pid": member.pid,
                "restarts": member.restarts,
                "statistics": _counters(each),
            }
            for index, (member, each) in enumerate(
                zip(handle.instances, handle.instance_statistics(), strict=True)
            )
        ]
    return status


def _counters(stats: PluginStatistics) -> dict[str, Any]:
    return {
        "calls": stats.calls,
        "errors": stats.errors,
        "in_flight": stats.in_flight,
        "streams_open": stats.streams_open,
        "restarts": stats.restarts,
        "last_error": stats.last_error,
    }


def _has_usage(handle: PluginHandle) -> bool:
    declaration = handle.declaration
    return declaration is not None and declaration.capabilities.usage_plugin is not None


def management_error(status: int, message: str) -> Response:
    """The management API's error shape: ``{"error": {"message", "code": STATUS}}``."""
    return json_response(status, {"error": {"message": message, "code": status}})


def _not_allowed(methods: Sequence[str], what: str) -> Response:
    """405, with the ``Allow`` header HTTP requires of it (HEAD listed with GET)."""
    answer = management_error(405, f"use {' or '.join(methods)} on {what}")
    answer.headers["allow"] = [", ".join(allowed(methods))]
    return answer


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _wire(value: msgspec.Struct) -> Any:
    """A Struct as the JSON the wire uses (Go field names)."""
    return msgspec.json.decode(api.encode(value))


class Management:
    """Answers management and resource requests for ``host``."""

    def __init__(
        self, host: Host, reload: Callable[[], Awaitable[dict[str, Exception]]], lock: trio.Lock
    ) -> None:
        self.host = host
        self._reload = reload
        self._lock = lock  # the gateway's reload lock (reload takes it itself)

    async def handle(
        self, method: str, path: str, headers: Headers, query: Headers, body: bytes
    ) -> Response:
        if path.startswith(RESOURCE_BASE + "/"):
            return await self._resource(method, path, headers, query)
        if path.startswith("/v0/resource/"):
            return management_error(404, f"no resource at {path}")
        key = self.host.config.management_key
        if not key:
            return management_error(404, "the management API is off (no management-key configured)")
        if not _authorized(headers, key):
            return management_error(401, "missing or invalid management key")
        try:
            return await self._route(method, path.rstrip("/"), headers, query, body)
        except PipelineError as exc:
            return management_error(exc.status, exc.message)

    async def _route(
        self, method: str, path: str, headers: Headers, query: Headers, body: bytes
    ) -> Response:
        """The host's route for (method, path), else a plugin's, else 405 or 404.

        A HEAD without a HEAD route of its own is served by the GET route, called as a
        GET, and is refused as the GET is (its Content-Length must be the GET's).
        """
        routes = self.host.routes()
        asked = (method, "GET") if method == "HEAD" else (method,)
        for served in asked:
            route = host_route(served, path)
            if route is not None:
                return await self._host_route(served, *route, body)
            for binding in routes:
                if binding.path == path and binding.method == served:
                    return await self._call(
                        binding, served, path, headers, query, body, escape=True
                    )
        methods = [*host_methods(path), *(b.method for b in routes if b.path == path)]
        if methods:
            return _not_allowed(methods, path)
        return management_error(404, f"no management route {asked[-1]} {path}")

    async def _host_route(
        self, method: str, pattern: str, params: dict[str, str], body: bytes
    ) -> Response:
        """One of the host's own routes (HOST_ROUTES), ``params`` its ``{name}`` segments."""
        host = self.host
        if pattern == "plugins":
            ids = [p.id for p in host.config.plugins]
            ids += [i for i in host.plugins if i not in ids]
            return json_response(200, {"plugins": [plugin_status(host, i) for i in ids]})
        if pattern == "reload":
            try:
                refused = await self._reload()
            except ConfigError as exc:
                return management_error(400, str(exc))
            if refused:  # plugins that kept running as they were: their new config failed
                said = {i: message_of(exc) for i, exc in refused.items()}
                return json_response(200, {"reloaded": True, "refused": said})
            return json_response(200, {"reloaded": True})
        if pattern == "auth-files":
            files = [_wire(entry.entry()) for entry in host.auths.entries()]
            return json_response(200, {"files": files})
        if pattern == "usage":
            # Every usage plugin, with zeros until its first record.
            zeros = {"delivered": 0, "dropped": 0, "queued": 0}
            usage = {h.id: zeros for h in host.active() if _has_usage(h)}
            return json_response(200, {"plugins": usage | host.usage.statistics()})
        if pattern == "api-call":
            return await self._api_call(body)
        if pattern.startswith("plugins/{id}"):
            action = pattern.removeprefix("plugins/{id}")
            return await self._plugin(method, params["id"], action, body)
        if pattern.startswith("auth/{provider}/login"):
            return await self._login(params["provider"], params.get("state"), body)
        raise AssertionError(f"the host route {method} {pattern} has no handler")

    async def _plugin(self, method: str, plugin_id: str, action: str, body: bytes) -> Response:
        if action == "" or (action == "/config" and method == "GET"):
            return self._plugin_read(plugin_id, action)
        # One change at a time, the plugin looked up under the lock: a reload that
        # went first may have disabled or removed it.
        async with self._lock:
            return await self._plugin_change(plugin_id, action, body)

    def _plugin_read(self, plugin_id: str, action: str) -> Response:
        configured = next((p for p in self.host.config.plugins if p.id == plugin_id), None)
        if configured is None:
            return management_error(404, f"no plugin {plugin_id!r}")
        if action == "/config":
            return json_response(200, {"id": plugin_id, "config": configured.config})
        return json_response(200, plugin_status(self.host, plugin_id))

    async def _plugin_change(self, plugin_id: str, action: str, body: bytes) -> Response:
        host = self.host
        configured = next((p for p in host.config.plugins if p.id == plugin_id), None)
        if configured is None:
            return management_error(404, f"no plugin {plugin_id!r}")
        if action == "/restart":
            if plugin_id not in host.plugins or not configured.enabled:
                return management_error(409, f"plugin {plugin_id!r} is disabled; enable it first")
            try:
                await host.restart(plugin_id)
            except PluginError as exc:
                return management_error(
                    502, f"plugin {plugin_id!r} did not restart, it runs as it was: {exc.reason}"
                )
            logger.info("plugin %s restarted through the management API", plugin_id)
        elif action in ("/enable", "/disable"):
            await host.set_enabled(plugin_id, action == "/enable")
            logger.info("plugin %s %sd through the management API", plugin_id, action[1:])
        elif action == "/config":
            try:
                patch = parse_json(body or b"{}")
            except ValueError as exc:
                return management_error(400, f"the body is not JSON: {exc}")
            if not isinstance(patch, dict):
                return management_error(400, "the body must be a JSON object (a merge patch)")
            config = copy.deepcopy(host.config)
            plugin = next(p for p in config.plugins if p.id == plugin_id)
            plugin.config = merge_patch(plugin.config, patch)
            refused = (await host.reload(config)).get(plugin_id)
            if refused is not None:
                status = getattr(refused, "http_status", 0)
                return management_error(
                    status if 400 <= status <= 599 else 422,
                    f"plugin {plugin_id!r} refused the config: {message_of(refused)}",
                )
            return json_response(200, {"id": plugin_id, "config": plugin.config})
        return json_response(200, plugin_status(host, plugin_id))

    async def _api_call(self, body: bytes) -> Response:
        """``POST api-call``: an upstream request made with an auth's credential by the
        executor of its provider; the upstream's answer comes back as JSON, with 200."""
        try:
            auth_id, request = _api_call_request(body)
        except ValueError as exc:
            return management_error(400, f"api-call: {exc}")
        answer = await self.host.http_request(auth_id, request)  # PipelineError: handle()
        return json_response(
            200,
            {
                "status_code": answer.status_code,
                "header": answer.headers,
                "body": answer.body.decode("utf-8", "replace"),
            },
        )

    async def _login(self, provider: str, state: str | None, body: bytes) -> Response:
        """``POST`` starts a login (no ``state``), ``GET`` polls one."""
        host = self.host
        if state is None:
            try:
                options = parse_json(body) if body else {}
            except ValueError as exc:
                return management_error(400, f"the body is not JSON: {exc}")
            if not isinstance(options, dict):
                return management_error(400, "the body must be a JSON object")
            try:
                started = await host.auths.start_login(
                    host.active(),
                    provider,
                    base_url=str(options.get("base_url", "")),
                    metadata=options.get("metadata") or {},
                )
            except PluginError as exc:
                return management_error(status_of(exc), str(exc))
            return json_response(200, _wire(started))
        try:
            answer, entry = await host.auths.poll_login(host.active(), provider, state)
        except PluginError as exc:  # the plugin's own status (an unknown state: its 400)
            return management_error(status_of(exc), str(exc))
        result = _wire(answer)
        result.pop("Auth", None)  # never hand credentials back over HTTP
        if entry is not None:
            result["file"] = entry.name
        return json_response(200, result)

    async def _resource(self, method: str, path: str, headers: Headers, query: Headers) -> Response:
        if ".." in path.split("/"):
            return management_error(400, "'..' is not allowed in resource paths")
        if method not in ("GET", "HEAD"):
            return _not_allowed(["GET", "HEAD"], "a resource")
        for binding in self.host.resources():
            if binding.path == path:
                return await self._call(binding, "GET", path, headers, query, b"", escape=False)
        return management_error(404, f"no resource at {path}")

    async def _call(
        self,
        binding: RouteBinding,
        method: str,
        path: str,
        headers: Headers,
        query: Headers,
        body: bytes,
        *,
        escape: bool,
    ) -> Response:
        request = api.ManagementRequest(
            method=method,
            path=path,
            headers=_without(headers, _CREDENTIAL_HEADERS),
            query=_without(query, _CREDENTIAL_QUERY),
            body=body,
        )
        try:
            answer = await self.host.call_route(binding, request)
        except Exception as exc:
            logger.warning(
                "route %s %s of plugin %s failed: %s", method, path, binding.plugin_id, exc
            )
            # A PluginError names the plugin and the method itself.
            said = (
                str(exc) if isinstance(exc, PluginError) else f"plugin {binding.plugin_id!r}: {exc}"
            )
            return management_error(502, said)
        out = answer.body
        if escape:
            try:
                value = parse_json(out) if out else None
            except ValueError:
                value = None
            if isinstance(value, dict | list):
                out = json.dumps(_escape(value), ensure_ascii=False).encode()
        return Response(answer.status_code or 200, dict(answer.headers), out)


#: Client credentials a plugin route never receives (names lower-case, as the gateway keeps them).
_CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-goog-api-key",
        "x-management-key",
    }
)
_CREDENTIAL_QUERY = frozenset({"key", "api_key", "api-key"})


def _api_call_request(body: bytes) -> tuple[str, api.HTTPRequest]:
    """The auth ID and the request of an api-call body; ValueError names the bad field."""
    try:
        value = parse_json(body or b"null")
    except ValueError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object with auth_id, method and url")
    fields = {}
    for name in ("auth_id", "method", "url", "data"):
        field = value.get(name)
        if not isinstance(field, str | None):
            raise ValueError(f"{name} must be a string, got {type(field).__name__}")
        if not field and name != "data":
            raise ValueError(f"{name} is required")
        fields[name] = field or ""
    header = value.get("header") or {}
    if not isinstance(header, dict):
        raise ValueError("header must be an object of header names to a string or strings")
    headers: Headers = {}
    for name, values in header.items():
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"header {name!r} must be a string or a list of strings")
        headers[name] = values
    request = api.HTTPRequest(
        method=fields["method"],
        url=fields["url"],
        headers=headers,
        body=fields["data"].encode(),
    )
    return fields["auth_id"], request


def _without(values: Headers, names: frozenset[str]) -> Headers:
    return {name: list(v) for name, v in values.items() if name.lower() not in names}


def _authorized(headers: Headers, key: str) -> bool:
    presented = ""
    lowered = {name.lower(): values for name, values in headers.items()}
    for value in lowered.get("authorization", []):
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer":
            presented = token.strip()
    if not presented:
        presented = (lowered.get("x-management-key") or [""])[0].strip()
    return bool(presented) and hmac.compare_digest(presented.encode(), key.encode())
