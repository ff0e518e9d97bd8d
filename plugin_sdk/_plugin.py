"""The :class:`Plugin`: metadata, handlers by method, and the declaration built from them.

Capabilities are never listed by hand: registering a handler for a method
declares the capability :data:`pluginrt.api.METHODS` ties that method to,
so the declaration the host receives always matches what is served. Where
the host routes by the capability's identifier (executor, auth provider,
thinking applier) the plugin must also declare it: it is never guessed.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

import msgspec

from pluginrt.api import (
    METHODS,
    Capabilities,
    CapabilityDecl,
    ConfigField,
    ExecutorModelScope,
    HostConfigSummary,
    Metadata,
    RegisterResult,
)
from pluginrt.rpc import PROTOCOL_VERSION

__all__ = ["Plugin"]

F = TypeVar("F", bound=Callable[..., Any])
ConfigHook = Callable[[dict[str, Any]], Awaitable[None] | None]

#: The methods a plugin author may serve: host-to-plugin calls that belong to a capability.
SERVABLE: Final = {
    name: m for name, m in METHODS.items() if m.direction == "host->plugin" and m.capability
}
#: Capability wire key (``"Executor"``) -> :class:`Capabilities` attribute (``"executor"``).
#: (From the names alone: msgspec.structs.fields would resolve every annotation at import.)
_ATTRIBUTE: Final = dict(
    zip(Capabilities.__struct_encode_fields__, Capabilities.__struct_fields__, strict=True)
)
#: Capabilities whose identifier is a provider key the host routes by, so it must be
#: declared: the call that declares it, and what the identifier must name.
_PROVIDER_KEYED: Final = {
    "Executor": (
        "plugin.executor(identifier, input_formats=[...], output_formats=[...])",
        "the provider it executes for",
    ),
    "AuthProvider": ("plugin.auth_provider(identifier)", "the auth file type it handles"),
    "ThinkingApplier": (
        "plugin.thinking_applier(identifier)",
        "the provider whose requests it applies thinking to",
    ),
}
#: A capability whose identifier is only a label: it defaults to the plugin's name.
_LABELLED: Final = "FrontendAuthProvider"
STREAM_METHOD: Final = "executor.execute_stream"
#: The model scopes of an executor (ExecutorModelScope; empty means both).
_SCOPES: Final = ("", *(scope.value for scope in ExecutorModelScope))


class Plugin:
    """One plugin: its metadata, its handlers, and the config the host gave it.

    Register handlers with :meth:`on`; declare identifiers and formats with
    :meth:`executor`, :meth:`auth_provider`, :meth:`frontend_auth` and
    :meth:`thinking_applier` (all but :meth:`frontend_auth` are required with
    their handlers: the host routes by those identifiers); serve with
    :func:`plugin_sdk.run`. ``config``, ``plugin_id`` and ``host_config`` hold
    what the host's ``plugin.register`` (and ``plugin.reconfigure``) sent.
    """

    def __init__(
        self,
        name: str,
        *,
        version: str = "",
        author: str = "",
        github_repository: str = "",
        logo: str = "",
        config_fields: Iterable[ConfigField] = (),
    ) -> None:
        if not name.strip():
            raise ValueError("a plugin needs a non-blank name")
        self.metadata = Metadata(
            name=name,
            version=version,
            author=author,
            github_repository=github_repository,
            logo=logo,
            config_fields=list(config_fields),
        )
        self.config: dict[str, Any] = {}
        self.plugin_id = ""
        self.host_config = HostConfigSummary()
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.config_hook: ConfigHook | None = None
        self._declared: dict[str, CapabilityDecl] = {}
        self._plain = Capabilities()

    @property
    def name(self) -> str:
        return self.metadata.name

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, methods={sorted(self.handlers)})"

    # ------------------------------------------------------------ handlers

    def on(self, method: str) -> Callable[[F], F]:
        """Decorate the handler of ``method`` (a name from the protocol's method table).

        The handler takes the method's params Struct and returns its result
        Struct (nothing for ``usage.handle``). ``async def`` runs on the
        event loop; a plain ``def`` runs in a worker thread. The
        ``executor.execute_stream`` handler is a generator (async or plain)
        of chunks, each ``bytes`` or ``str`` (sent as UTF-8), whose first item
        may be an :class:`~pluginrt.api.ExecutorStreamStart` carrying the headers.
        """
        if not isinstance(method, str):
            raise TypeError(
                f"plugin {self.name!r}: @plugin.on needs the method's name, as in "
                '@plugin.on("executor.execute")'
            )
        if method not in SERVABLE:
            hint = (
                " (use @plugin.on_config for register/reconfigure)"
                if method.startswith("plugin.")
                else ""
            )
            raise ValueError(f"{method!r} is not a method a plugin serves{hint}; "
                             f"choose one of: {', '.join(sorted(SERVABLE))}")  # fmt: skip

        def register(fn: F) -> F:
            generator = inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)
            if (method == STREAM_METHOD) != generator:
                raise TypeError(
                    f"{method} handler {fn.__qualname__} must "
                    + ("" if method == STREAM_METHOD else "not ")
                    + "be a generator function"
                )
            if method in self.handlers:
                raise ValueError(
                    f"plugin {self.name!r}: {method} already has a handler, "
                    f"{self.handlers[method].__qualname__}"
                )
            _check_arity(self.name, f"{method} handler", fn, SERVABLE[method].params.__name__)
            self.handlers[method] = fn
            return fn

        return register

    def on_config(self, fn: F) -> F:
        """Decorate a hook called with the config section on register and on reconfigure.

        It runs before ``plugin.config`` is replaced; raising
        :class:`~plugin_sdk.PluginError` refuses the config (and fails the call).
        """
        _check_arity(self.name, "on_config hook", fn, "config dict")
        self.config_hook = fn
        return fn

    # ---------------------------------------------------------- declaration

    def executor(
        self,
        identifier: str,
        *,
        input_formats: Iterable[str],
        output_formats: Iterable[str],
        scope: str = "",
    ) -> None:
        """Declare the executor: its provider ``identifier``, formats and model scope
        (``"static"``, ``"oauth"``, ``"both"`` or ``""`` for both)."""
        if scope not in _SCOPES:
            raise ValueError(
                f"plugin {self.name!r}: executor scope {scope!r} is not one of "
                + ", ".join(repr(s) for s in _SCOPES)
            )
        for name, formats in (("input_formats", input_formats), ("output_formats", output_formats)):
            if isinstance(formats, str):
                raise TypeError(
                    f"plugin {self.name!r}: executor {name} must be a list of format names, "
                    f"as in [{formats!r}], not a string"
                )
        self._declare("Executor", identifier)
        self._plain.executor_input_formats = list(input_formats)
        self._plain.executor_output_formats = list(output_formats)
        self._plain.executor_model_scope = scope

    def auth_provider(self, identifier: str) -> None:
        """Declare the auth provider's identifier (the auth file ``type`` it parses)."""
        self._declare("AuthProvider", identifier)

    def frontend_auth(self, identifier: str, *, exclusive: bool = False) -> None:
        """Declare the frontend auth provider; ``exclusive`` replaces every other one.

        Optional: the identifier is only a label, the plugin's name by default."""
        self._declare("FrontendAuthProvider", identifier)
        self._plain.frontend_auth_provider_exclusive = exclusive

    def thinking_applier(self, identifier: str) -> None:
        """Declare the thinking applier's provider identifier."""
        self._declare("ThinkingApplier", identifier)

    def _declare(self, capability: str, identifier: str) -> None:
        if not identifier.strip():
            raise ValueError(f"{capability} needs a non-blank identifier")
        self._declared[capability] = CapabilityDecl(identifier=identifier)

    def declaration(self) -> RegisterResult:
        """The ``plugin.register`` answer. Raises ValueError for what the host would refuse,
        for a capability declared (:meth:`executor` ...) without a handler of its methods,
        and for an executor, auth provider or thinking applier served but not declared."""
        served = {SERVABLE[method].capability for method in self.handlers}
        for unserved in sorted(self._declared.keys() - served):
            methods = [name for name, m in SERVABLE.items() if m.capability == unserved]
            raise ValueError(
                f"plugin {self.name!r} declares {unserved} but serves none of its methods: "
                f"register a handler with @plugin.on(...) for {' or '.join(methods)}"
            )
        declared: dict[str, CapabilityDecl] = dict(self._declared)
        for method in self.handlers:
            capability = SERVABLE[method].capability
            assert capability is not None
            if capability in _PROVIDER_KEYED and capability not in declared:
                call, names = _PROVIDER_KEYED[capability]
                raise ValueError(
                    f"plugin {self.name!r} serves {method} but does not declare its {capability}: "
                    f"call {call} with {names} (the host finds it by that identifier, "
                    "not by the plugin's name)"
                )
            if capability not in declared:
                identifier = self.name if capability == _LABELLED else ""
                declared[capability] = CapabilityDecl(identifier=identifier)
        if not declared:
            raise ValueError(f"plugin {self.name!r} serves no method, so declares no capability")
        plain = self._plain
        if "Executor" in declared and not (
            plain.executor_input_formats and plain.executor_output_formats
        ):
            raise ValueError(
                f"plugin {self.name!r} serves executor methods: declare its formats with "
                "plugin.executor(identifier, input_formats=[...], output_formats=[...])"
            )
        capabilities = msgspec.structs.replace(
            plain, **{_ATTRIBUTE[key]: decl for key, decl in declared.items()}
        )
        return RegisterResult(
            protocol_version=PROTOCOL_VERSION, metadata=self.metadata, capabilities=capabilities
        )


def _check_arity(plugin: str, what: str, fn: Callable[..., Any], takes: str) -> None:
    """Refuse, at registration rather than at the first call, a function that cannot take
    its one argument."""
    try:
        signature = inspect.signature(fn)
    except ValueError:  # no signature to check (some builtins): the call will tell
        return
    try:
        signature.bind(None)
    except TypeError:
        name = getattr(fn, "__qualname__", repr(fn))
        # What it takes instead, as in "(self, request)": bind's own error ("too many
        # positional arguments" for none) reads as if it took too many.
        plain = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
        has = str(signature.replace(parameters=plain, return_annotation=signature.empty))
        raise TypeError(
            f"plugin {plugin!r}: the {what} {name} must take one argument, the {takes}; "
            f"it takes {has if plain else 'none'}"
        ) from None
