"""The host pipeline: every capability combined across plugins, as SEMANTICS.md says."""

from ._authstore import AuthEntry as AuthEntry
from ._authstore import AuthStore as AuthStore
from ._authstore import AuthStoreError as AuthStoreError
from ._pipeline import Pipeline as Pipeline
from ._pipeline import PipelineSettings as PipelineSettings
from ._types import ClientRequest as ClientRequest
from ._types import ClientResponse as ClientResponse
from ._types import ClientStream as ClientStream
from ._types import Endpoint as Endpoint
from ._types import PipelineError as PipelineError
from ._types import PluginLike as PluginLike

__all__ = [
    "AuthEntry",
    "AuthStore",
    "AuthStoreError",
    "ClientRequest",
    "ClientResponse",
    "ClientStream",
    "Endpoint",
    "Pipeline",
    "PipelineError",
    "PipelineSettings",
    "PluginLike",
]
