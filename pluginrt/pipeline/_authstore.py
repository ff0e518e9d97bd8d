"""The auth store: a directory of JSON auth files, parsed, refreshed and saved through plugins.

Guarantees: a malformed file is reported by its name and skipped, never
fatal; files are written atomically (temporary file, fsync, rename) with
mode 0600 in a directory created with mode 0700; a name with ``/`` or ``\\``
or not ending in ``.json``, and JSON that is not an object, are refused.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import trio

from pluginrt.api import (
    ZERO_TIME,
    AuthData,
    AuthLoginPollRequest,
    AuthLoginPollResponse,
    AuthLoginStartRequest,
    AuthLoginStartResponse,
    AuthModelRequest,
    AuthParseRequest,
    AuthParseResponse,
    AuthRefreshRequest,
    AuthRefreshResponse,
    HostAuthFileEntry,
    HostConfigSummary,
    ModelInfo,
    ModelResponse,
    SchedulerAuthCandidate,
)

from ._models import ModelRegistry
from ._rules import ordered
from ._types import PipelineError, PluginLike

__all__ = ["AuthEntry", "AuthStore", "AuthStoreError"]

logger = logging.getLogger("pluginrt.auth")


class AuthStoreError(ValueError):
    """A refused auth file name or content; the message says which rule."""


@dataclass
class AuthEntry:
    """One auth: its file, its parsed record, and the models it gives access to."""

    name: str
    path: Path
    data: AuthData
    models: list[ModelInfo] = field(default_factory=list)
    status: str = "active"
    status_message: str = ""
    last_refresh: datetime.datetime = ZERO_TIME
    #: The id of the plugin whose ``auth.parse`` handled the file ("" if none did):
    #: it refreshes the auth when no plugin's identifier is the auth's provider.
    parsed_by: str = ""

    @property
    def index(self) -> str:
        """The stable ``auth_index``: derived from the file name."""
        return hashlib.sha256(self.name.encode()).hexdigest()[:16]

    def candidate(self) -> SchedulerAuthCandidate:
        return SchedulerAuthCandidate(
            id=self.data.id,
            provider=self.data.provider,
            status=self.status,
            attributes=self.data.attributes,
            metadata=self.data.metadata,
        )

    def entry(self) -> HostAuthFileEntry:
        """What ``host.auth.list`` shows: never the file's contents."""
        try:
            stat = self.path.stat()
            size, modified = (
                stat.st_size,
                datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC),
            )
        except OSError:
            size, modified = 0, ZERO_TIME
        return HostAuthFileEntry(
            id=self.data.id,
            auth_index=self.index,
            name=self.name,
            type=self.data.provider,
            provider=self.data.provider,
            label=self.data.label,
            status=self.status,
            status_message=self.status_message,
            disabled=self.data.disabled,
            source="file",
            path=str(self.path),
            size=size,
            mod_time=modified,
            last_refresh=self.last_refresh,
            next_retry_after=self.data.next_refresh_after,
        )


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def check_name(name: str) -> str:
    """A valid auth file name, or :class:`AuthStoreError` naming the rule."""
    if not name or "/" in name or "\\" in name or name in (".json", "..json"):
        raise AuthStoreError(f"auth file name {name!r} must be a plain file name")
    if not name.endswith(".json"):
        raise AuthStoreError(f"auth file name {name!r} must end with .json")
    if name.startswith("."):
        raise AuthStoreError(f"auth file name {name!r} must not start with a dot")
    return name


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, mode 0600."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _merge(old: AuthData, new: AuthData) -> AuthData:
    """``new`` over ``old``: empty fields inherit; the host's attributes stay the host's."""
    merged = {}
    for name in AuthData.__struct_fields__:
        value = getattr(new, name)
        merged[name] = value if value and value != ZERO_TIME else getattr(old, name)
    data = AuthData(**merged)
    data.attributes = {**data.attributes, **_host_attributes(old)}
    return data


def _host_attributes(data: AuthData) -> dict[str, str]:
    """The attributes the host gives every auth from a file (SEMANTICS.md: path, source)."""
    return {name: data.attributes[name] for name in ("path", "source") if name in data.attributes}


class AuthStore:
    """The auth files of one directory, as :class:`AuthEntry` values by file name."""

    def __init__(
        self, directory: str | os.PathLike[str], models: ModelRegistry, host: HostConfigSummary
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self._models = models
        self._entries: dict[str, AuthEntry] = {}
        #: The Metadata each login under way answered at its start, by (provider, state):
        #: "plugin-defined polling context", handed back with every poll.
        self._logins: dict[tuple[str, str], dict[str, Any]] = {}

    # ------------------------------------------------------------- reading

    def ensure_directory(self) -> None:
        """Create the directory if need be; OSError names it as the ``auth-dir``."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            reason = f"cannot create the auth-dir {str(self.directory)!r}: {exc.strerror or exc}"
            raise OSError(exc.errno, reason) from None

    async def load(self, plugins: Sequence[PluginLike]) -> None:
        """(Re)read every ``.json`` file of the directory and its folders, as the Go host
        does, but dot files and dot folders; bad ones are logged and skipped."""
        self.ensure_directory()
        entries: dict[str, AuthEntry] = {}
        for path in self._files():
            entry = await self._parse(plugins, path)
            if entry is not None:
                entries[entry.name] = entry
        for gone in set(self._entries) - set(entries):
            self._models.forget_auth(self._entries[gone].data.id)
        self._entries = entries
        for entry in entries.values():
            await self._discover_models(plugins, entry)

    def _files(self) -> list[Path]:
        """The auth files, by path: any case of ``.json``, folders walked, links to
        folders not followed (a loop must not hang a reload)."""
        found = []
        for folder, folders, names in os.walk(self.directory):
            folders[:] = [f for f in folders if not f.startswith(".")]
            found += [
                Path(folder, name)
                for name in names
                if name.lower().endswith(".json") and not name.startswith(".")
            ]
        return sorted(found)

    async def _parse(self, plugins: Sequence[PluginLike], path: Path) -> AuthEntry | None:
        # A file's name is its path under the directory (a plain name at the top).
        name = path.relative_to(self.directory).as_posix()
        try:
            raw = await trio.Path(path).read_bytes()
            value = msgspec.json.decode(raw)
        except (OSError, msgspec.DecodeError) as exc:
            logger.error("auth file %s skipped: %s", name, exc)
            return None
        if not isinstance(value, dict):
            logger.error("auth file %s skipped: it is not a JSON object", name)
            return None
        kind = value.get("type")
        provider = kind.strip().lower() if isinstance(kind, str) else ""
        data: AuthData | None = None
        parsed_by = ""
        parsers = self._providers(plugins)
        matching = [p for p in parsers if _identifier(p) == provider]
        request = AuthParseRequest(
            provider=provider, path=str(path), file_name=name, raw_json=raw, host=self.host
        )
        for plugin in matching or parsers:
            try:
                answer = await plugin.call("auth.parse", request, AuthParseResponse)
            except Exception as exc:
                logger.error("auth file %s: auth.parse of %s failed: %s", name, plugin.id, exc)
                continue
            if answer.handled:
                data, parsed_by = answer.auth, plugin.id
                break
        if data is None:
            if not provider:
                logger.error('auth file %s skipped: no "type" and no plugin parses it', name)
                return None
            data = AuthData(provider=provider, storage_json=raw)
        data.provider = (data.provider or provider).lower()
        data.id = data.id or name
        data.file_name = data.file_name or name
        data.attributes = {**data.attributes, "path": str(path), "source": "file"}
        return AuthEntry(name=name, path=path, data=data, parsed_by=parsed_by)

    async def _discover_models(self, plugins: Sequence[PluginLike], entry: AuthEntry) -> None:
        """Ask the provider's model plugins for this auth's models (``model.for_auth``)."""
        for plugin in ordered(plugins):
            caps = plugin.capabilities
            if caps.model_provider is None or caps.executor_model_scope == "static":
                continue
            if self._models.provider_key(plugin) != entry.data.provider:
                continue
            request = AuthModelRequest(
                plugin=plugin.metadata,
                auth_id=entry.data.id,
                auth_provider=entry.data.provider,
                storage_json=entry.data.storage_json,
                metadata=entry.data.metadata,
                attributes=entry.data.attributes,
                host=self.host,
            )
            try:
                answer = await plugin.call("model.for_auth", request, ModelResponse)
            except Exception as exc:
                logger.warning("model.for_auth of %s for %s failed: %s", plugin.id, entry.name, exc)
                continue
            entry.models = list(answer.models)
            self._models.set_auth_models(entry.data.id, entry.data.provider, entry.models)
            if answer.auth_update.id or answer.auth_update.storage_json:
                entry.data = _merge(entry.data, answer.auth_update)
            return

    def _providers(self, plugins: Sequence[PluginLike]) -> list[PluginLike]:
        return [p for p in ordered(plugins) if p.capabilities.auth_provider is not None]

    # ------------------------------------------------------------- queries

    def entries(self) -> list[AuthEntry]:
        """Every auth, sorted by file name."""
        return [self._entries[name] for name in sorted(self._entries)]

    def get(self, auth_index: str) -> AuthEntry | None:
        return next((e for e in self._entries.values() if e.index == auth_index), None)

    def find(self, auth_id: str) -> AuthEntry | None:
        """The auth whose ID is ``auth_id`` (the first by file name), or None."""
        return next((e for e in self.entries() if e.data.id == auth_id), None)

    def candidates(self, provider: str, model: str) -> list[AuthEntry]:
        """The usable auths of ``provider`` for ``model``.

        The auths that list ``model`` among their own models (``model.for_auth``)
        when there are any; else every usable auth of the provider, since a
        static model is served with any of them.
        """
        usable = [e for e in self.entries() if e.data.provider == provider and not e.data.disabled]
        specific = [e for e in usable if any(m.id == model for m in e.models)]
        return specific or usable

    # -------------------------------------------------------------- writing

    def save(self, name: str, value: Any) -> Path:
        """Write ``value`` (a JSON object) as auth file ``name``; returns its path."""
        check_name(name)
        if not isinstance(value, dict):
            raise AuthStoreError(f"auth file {name!r}: the JSON must be an object")
        self.ensure_directory()
        path = self.directory / name
        write_atomically(path, msgspec.json.encode(value))
        logger.info("auth file %s saved", name)
        return path

    async def add(self, plugins: Sequence[PluginLike], name: str, value: Any) -> AuthEntry | None:
        """:meth:`save`, then parse the new file into the store."""
        path = self.save(name, value)
        entry = await self._parse(plugins, path)
        if entry is not None:
            self._entries[name] = entry
            await self._discover_models(plugins, entry)
        return entry

    async def save_auth(self, plugins: Sequence[PluginLike], auth: AuthData) -> AuthEntry | None:
        """Persist an auth a plugin produced (login, command line) as a new file."""
        try:
            value = msgspec.json.decode(auth.storage_json) if auth.storage_json else {}
        except msgspec.DecodeError:
            value = None
        if not isinstance(value, dict):
            value = {"storage": auth.storage_json.decode("utf-8", "replace")}
        if auth.provider:
            value.setdefault("type", auth.provider)
        for key, field_value in (("label", auth.label), ("id", auth.id)):
            if field_value:
                value.setdefault(key, field_value)
        stem = _SAFE_NAME.sub("-", auth.file_name.removesuffix(".json") or auth.id or "auth")
        name = f"{stem.strip('-.') or 'auth'}.json"
        if not auth.file_name:
            name = f"{auth.provider or 'auth'}-{name}" if auth.provider else name
        return await self.add(plugins, name, value)

    # ------------------------------------------------------------- refresh

    def next_refresh(self, plugins: Sequence[PluginLike]) -> datetime.datetime | None:
        """The soonest ``NextRefreshAfter`` of an auth a plugin can refresh, but of those
        whose last refresh failed (they wait for the next periodic look)."""
        providers = self._providers(plugins)
        return min(
            (
                entry.data.next_refresh_after
                for entry in self._entries.values()
                if entry.data.next_refresh_after != ZERO_TIME
                and entry.status != "error"
                and _refresher(providers, entry) is not None
            ),
            default=None,
        )

    async def refresh_due(
        self, plugins: Sequence[PluginLike], now: datetime.datetime | None = None
    ) -> int:
        """Refresh every auth whose ``NextRefreshAfter`` has passed; returns how many."""
        now = now or datetime.datetime.now(datetime.UTC)
        refreshed = 0
        for entry in self.entries():
            due = entry.data.next_refresh_after
            if due == ZERO_TIME or due > now:
                continue
            plugin = _refresher(self._providers(plugins), entry)
            if plugin is None:
                continue
            request = AuthRefreshRequest(
                auth_id=entry.data.id,
                auth_provider=entry.data.provider,
                storage_json=entry.data.storage_json,
                metadata=entry.data.metadata,
                attributes=entry.data.attributes,
                host=self.host,
            )
            try:
                answer = await plugin.call("auth.refresh", request, AuthRefreshResponse)
            except Exception as exc:
                entry.status, entry.status_message = "error", str(exc)
                logger.warning("refresh of auth %s by %s failed: %s", entry.name, plugin.id, exc)
                continue
            merged = _merge(entry.data, answer.auth)
            merged.next_refresh_after = (
                answer.next_refresh_after
                if answer.next_refresh_after != ZERO_TIME
                else answer.auth.next_refresh_after
            )
            entry.data = merged
            entry.status, entry.status_message = "active", ""
            entry.last_refresh = now
            self._persist(entry)
            refreshed += 1
            logger.info("auth %s refreshed by %s", entry.name, plugin.id)
        return refreshed

    def _persist(self, entry: AuthEntry) -> None:
        try:
            value = msgspec.json.decode(entry.data.storage_json)
        except msgspec.DecodeError:
            return
        if isinstance(value, dict):
            value.setdefault("type", entry.data.provider)
            write_atomically(entry.path, msgspec.json.encode(value))

    # --------------------------------------------------------------- login

    def _login_plugin(self, plugins: Sequence[PluginLike], provider: str) -> PluginLike:
        for plugin in self._providers(plugins):
            if _identifier(plugin) == provider.lower():
                return plugin
        raise PipelineError(404, f"no auth provider plugin for {provider!r}")

    async def start_login(
        self,
        plugins: Sequence[PluginLike],
        provider: str,
        base_url: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> AuthLoginStartResponse:
        plugin = self._login_plugin(plugins, provider)
        request = AuthLoginStartRequest(
            provider=provider, base_url=base_url, host=self.host, metadata=metadata or {}
        )
        started = await plugin.call("auth.login.start", request, AuthLoginStartResponse)
        self._logins[(provider.lower(), started.state)] = dict(started.metadata)
        while len(self._logins) > _LOGINS_KEPT:  # logins started and never polled to an end
            del self._logins[next(iter(self._logins))]
        return started

    async def poll_login(
        self,
        plugins: Sequence[PluginLike],
        provider: str,
        state: str,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[AuthLoginPollResponse, AuthEntry | None]:
        """Poll a login, with the Metadata its start answered (``metadata`` over it); on
        success the auth is saved as a new file and returned too. A success or an error
        ends the login."""
        plugin = self._login_plugin(plugins, provider)
        key = (provider.lower(), state)
        context = {**self._logins.get(key, {}), **(metadata or {})}
        request = AuthLoginPollRequest(
            provider=provider, state=state, host=self.host, metadata=context
        )
        answer = await plugin.call("auth.login.poll", request, AuthLoginPollResponse)
        if answer.status != "pending":
            self._logins.pop(key, None)
        entry = None
        if answer.status == "success":
            auth = answer.auth
            auth.provider = auth.provider or provider
            entry = await self.save_auth(plugins, auth)
        return answer, entry


#: The most logins under way whose polling context is kept (the oldest go first).
_LOGINS_KEPT = 1000


def _refresher(providers: Sequence[PluginLike], entry: AuthEntry) -> PluginLike | None:
    """The plugin that refreshes ``entry``: the one whose identifier is its provider,
    else the one that parsed its file (a fallback parser of a foreign ``type``)."""
    matching = next((p for p in providers if _identifier(p) == entry.data.provider), None)
    if matching is not None:
        return matching
    return next((p for p in providers if p.id == entry.parsed_by), None)


def _identifier(plugin: PluginLike) -> str:
    decl = plugin.capabilities.auth_provider
    return decl.identifier.strip().lower() if decl is not None else ""
