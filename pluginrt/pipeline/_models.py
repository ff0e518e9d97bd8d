"""The model registry: which executor serves which model (SEMANTICS.md "Executors and models").

A plugin's provider key is the provider of its registered models, else its
executor identifier, lowercased. One executor per provider: the first in
order. Per model, the first executor in order that declares it serves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pluginrt.api import ModelInfo

from ._types import PluginLike

__all__ = ["ModelRegistry", "Route"]


@dataclass(frozen=True)
class Route:
    """Where a model goes: the executor plugin, its provider key, the model's info."""

    executor: PluginLike
    provider: str
    info: ModelInfo | None


class ModelRegistry:
    """Models by provider key, from ``model.static``/``model.register`` and per auth."""

    def __init__(self) -> None:
        self._plugin_models: dict[str, tuple[str, list[ModelInfo]]] = {}
        self._auth_models: dict[str, tuple[str, list[ModelInfo]]] = {}

    def set_plugin_models(self, plugin_id: str, provider: str, models: Iterable[ModelInfo]) -> None:
        """Record what a plugin registered (an empty ``provider`` means its executor's)."""
        self._plugin_models[plugin_id] = (provider.lower(), list(models))

    def forget_plugin(self, plugin_id: str) -> None:
        self._plugin_models.pop(plugin_id, None)

    def registered_by(self, model: str) -> list[str]:
        """The ids of the plugins that registered ``model``, running or not (a plugin being
        restarted keeps what it registered until it registers anew)."""
        return [
            plugin_id
            for plugin_id, (_, models) in self._plugin_models.items()
            if any(info.id == model for info in models)
        ]

    def set_auth_models(self, auth_id: str, provider: str, models: Iterable[ModelInfo]) -> None:
        """Record the models an auth gives access to (``model.for_auth``)."""
        self._auth_models[auth_id] = (provider.lower(), list(models))

    def forget_auth(self, auth_id: str) -> None:
        self._auth_models.pop(auth_id, None)

    def auth_models(self, auth_id: str) -> list[ModelInfo]:
        return self._auth_models.get(auth_id, ("", []))[1]

    def provider_key(self, plugin: PluginLike) -> str:
        provider, _ = self._plugin_models.get(plugin.id, ("", []))
        if provider:
            return provider
        executor = plugin.capabilities.executor
        return executor.identifier.lower() if executor is not None else ""

    def _models_by_provider(self, plugins: Sequence[PluginLike]) -> dict[str, list[ModelInfo]]:
        by_provider: dict[str, list[ModelInfo]] = {}
        for plugin in plugins:
            if plugin.id in self._plugin_models:
                by_provider.setdefault(self.provider_key(plugin), []).extend(
                    self._plugin_models[plugin.id][1]
                )
        for provider, models in self._auth_models.values():
            by_provider.setdefault(provider, []).extend(models)
        return by_provider

    def _executors(self, plugins: Sequence[PluginLike]) -> dict[str, PluginLike]:
        """The serving executor of each provider key: the first in order."""
        executors: dict[str, PluginLike] = {}
        for plugin in plugins:
            if plugin.capabilities.executor is not None:
                executors.setdefault(self.provider_key(plugin), plugin)
        return executors

    def executor(self, plugins: Sequence[PluginLike], provider: str) -> PluginLike | None:
        """The executor serving ``provider`` among ``plugins`` (already in order), or None."""
        return self._executors(plugins).get(provider.lower())

    def route(self, plugins: Sequence[PluginLike], model: str) -> Route | None:
        """The route of ``model`` among ``plugins`` (already in order), or None."""
        by_provider = self._models_by_provider(plugins)
        for provider, executor in self._executors(plugins).items():
            for info in by_provider.get(provider, ()):
                if info.id == model:
                    return Route(executor, provider, info)
        return None

    def listing(self, plugins: Sequence[PluginLike]) -> list[tuple[ModelInfo, Route]]:
        """Every routable model once, in executor order."""
        by_provider = self._models_by_provider(plugins)
        seen: set[str] = set()
        listed: list[tuple[ModelInfo, Route]] = []
        for provider, executor in self._executors(plugins).items():
            for info in by_provider.get(provider, ()):
                if info.id not in seen:
                    seen.add(info.id)
                    listed.append((info, Route(executor, provider, info)))
        return listed
