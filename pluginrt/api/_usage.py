"""Usage records delivered to usage plugins (``usage.handle``)."""

from __future__ import annotations

import msgspec

from ._wire import ZERO_TIME, Duration, Header, Time, Wire, go

__all__ = ["UsageDetail", "UsageFailure", "UsageRecord"]


class UsageFailure(Wire, rename=go):
    """An upstream or executor failure."""

    status_code: int = 0
    body: str = ""


class UsageDetail(Wire, rename=go):
    """Token accounting counters."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    total_tokens: int = 0


class UsageRecord(Wire, rename=go):
    """Request usage and billing metadata; ``latency`` and ``ttft`` are nanoseconds."""

    provider: str = ""
    executor_type: str = ""
    model: str = ""
    alias: str = ""
    api_key: str = ""
    auth_id: str = ""
    auth_index: str = ""
    auth_type: str = ""
    source: str = ""
    reasoning_effort: str = ""
    service_tier: str = ""
    requested_at: Time = ZERO_TIME
    latency: Duration = 0
    ttft: Duration = 0
    failed: bool = False
    failure: UsageFailure = msgspec.field(default_factory=UsageFailure)
    detail: UsageDetail = msgspec.field(default_factory=UsageDetail)
    response_headers: Header = msgspec.field(default_factory=dict)
