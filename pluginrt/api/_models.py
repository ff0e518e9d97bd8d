"""Model metadata: registration, static and per-auth model discovery."""

from __future__ import annotations

from typing import Any

import msgspec

from ._auth import AuthData
from ._metadata import HostConfigSummary, Metadata
from ._wire import Bytes, List, Map, Wire, go

__all__ = [
    "AuthModelRequest",
    "ModelInfo",
    "ModelRegistrationRequest",
    "ModelRegistrationResponse",
    "ModelResponse",
    "StaticModelRequest",
    "ThinkingSupport",
]


class ThinkingSupport(Wire, rename=go):
    """Supported reasoning budget controls."""

    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: List[str] = msgspec.field(default_factory=list)


class ModelInfo(Wire, rename=go):
    """A model contributed by a plugin."""

    id: str = ""
    object: str = ""
    created: int = 0
    owned_by: str = ""
    type: str = ""
    display_name: str = ""
    name: str = ""
    version: str = ""
    description: str = ""
    input_token_limit: int = 0
    output_token_limit: int = 0
    supported_generation_methods: List[str] = msgspec.field(default_factory=list)
    context_length: int = 0
    max_completion_tokens: int = 0
    supported_parameters: List[str] = msgspec.field(default_factory=list)
    supported_input_modalities: List[str] = msgspec.field(default_factory=list)
    supported_output_modalities: List[str] = msgspec.field(default_factory=list)
    thinking: ThinkingSupport | None = None
    user_defined: bool = False


class ModelRegistrationRequest(Wire, rename=go):
    """Host context for model registration (``model.register``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)


class ModelRegistrationResponse(Wire, rename=go):
    """Provider and model metadata to register."""

    provider: str = ""
    models: List[ModelInfo] = msgspec.field(default_factory=list)


class StaticModelRequest(Wire, rename=go):
    """Host context for provider static models (``model.static``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)


class AuthModelRequest(Wire, rename=go):
    """Auth context for provider model discovery (``model.for_auth``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)
    auth_id: str = ""
    auth_provider: str = ""
    storage_json: Bytes = b""
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)
    attributes: Map[str, str] = msgspec.field(default_factory=dict)
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)


class ModelResponse(Wire, rename=go):
    """Provider and model metadata discovered by a plugin."""

    provider: str = ""
    models: List[ModelInfo] = msgspec.field(default_factory=list)
    auth_update: AuthData = msgspec.field(default_factory=AuthData)
