"""The SDK served in-process through plugin_sdk.testing: declaration, calls, errors, streams."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import trio
import trio.testing

from plugin_sdk import Plugin, PluginError
from plugin_sdk._plugin import SERVABLE
from plugin_sdk.testing import open_test_host
from pluginrt.api import (
    METHODS,
    CapabilityDecl,
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStreamRequest,
    ExecutorStreamStart,
    FrontendAuthRequest,
    FrontendAuthResponse,
    PayloadResponse,
    RequestTransformRequest,
    UsageRecord,
    decode,
    encode,
)
from pluginrt.rpc import (
    INTERNAL_ERROR,
    METHOD_NOT_FOUND,
    CallTimeout,
    ProtocolError,
    RemoteError,
    StreamError,
)


def echo_plugin() -> Plugin:
    plugin = Plugin("echo", version="1.0.0", author="me")
    plugin.executor("echo", input_formats=["openai"], output_formats=["openai"], scope="static")

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(payload=request.payload, headers={"X-Model": [request.model]})

    return plugin


async def test_register_answers_metadata_and_the_capabilities_of_the_registered_handlers() -> None:
    plugin = echo_plugin()

    @plugin.on("request.normalize")
    def normalize(request: RequestTransformRequest) -> PayloadResponse:
        return PayloadResponse(body=request.body)

    async with open_test_host(plugin) as h:
        result = h.register_result
    assert result.protocol_version == 1
    assert (result.metadata.name, result.metadata.version) == ("echo", "1.0.0")
    caps = result.capabilities
    assert caps.executor == CapabilityDecl(identifier="echo")
    assert caps.executor_input_formats == ["openai"]
    assert caps.executor_model_scope == "static"
    assert caps.request_normalizer == CapabilityDecl()
    assert caps.request_translator is None
    assert caps.usage_plugin is None


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("thinking.apply", "plugin.thinking_applier(identifier)"),
        ("auth.parse", "plugin.auth_provider(identifier)"),
        ("auth.refresh", "plugin.auth_provider(identifier)"),
        ("executor.execute", "plugin.executor(identifier, input_formats=[...], "),
    ],
)
def test_a_capability_the_host_routes_by_identifier_must_be_declared_not_defaulted(
    method: str, call: str
) -> None:
    # Its identifier is a provider key: the plugin's name would never be routed to.
    plugin = Plugin("thinker")
    plugin.on(method)(lambda request: None)
    capability = SERVABLE[method].capability
    refused = f"plugin 'thinker' serves {method} but does not declare its {capability}: call "
    with pytest.raises(ValueError, match=re.escape(refused + call)):
        plugin.declaration()


def test_the_frontend_auth_identifier_is_a_label_that_defaults_to_the_plugin_name() -> None:
    plugin = Plugin("gate")

    @plugin.on("frontend_auth.authenticate")
    async def authenticate(request: FrontendAuthRequest) -> FrontendAuthResponse:
        return FrontendAuthResponse()

    assert plugin.declaration().capabilities.frontend_auth_provider == CapabilityDecl("gate")
    plugin.frontend_auth("keys", exclusive=True)
    caps = plugin.declaration().capabilities
    assert caps.frontend_auth_provider == CapabilityDecl(identifier="keys")
    assert caps.frontend_auth_provider_exclusive is True


def test_every_capability_of_the_contract_can_be_declared_by_registering_a_handler() -> None:
    plugin = Plugin("all")
    plugin.executor("x", input_formats=["openai"], output_formats=["openai"])
    plugin.auth_provider("x")
    plugin.thinking_applier("x")
    servable = [
        m for m in METHODS.values() if m.direction == "host->plugin" and m.capability is not None
    ]
    for method in servable:
        if method.name == "executor.execute_stream":

            async def handler(request: object) -> AsyncIterator[bytes]:
                yield b""

            plugin.on(method.name)(handler)
        else:
            plugin.on(method.name)(lambda request: None)
    wire = plugin.declaration().capabilities
    declared = {k for k, v in decode(encode(wire), dict).items() if isinstance(v, dict)}
    assert declared == {m.capability for m in servable}


def test_an_executor_without_formats_is_refused_before_serving() -> None:
    plugin = Plugin("bare")

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse()

    with pytest.raises(ValueError, match="input_formats"):
        plugin.declaration()


def test_handlers_are_refused_for_unknown_methods_and_the_wrong_function_kind() -> None:
    plugin = Plugin("p")
    with pytest.raises(ValueError, match="not a method a plugin serves"):
        plugin.on("executor.explode")
    with pytest.raises(ValueError, match="on_config"):
        plugin.on("plugin.register")
    with pytest.raises(TypeError, match="must be a generator"):
        plugin.on("executor.execute_stream")(lambda request: None)
    with pytest.raises(TypeError, match=r"plugin 'p': @plugin.on needs the method's name"):
        plugin.on(lambda request: None)  # type: ignore[arg-type]  # @plugin.on without (...)
    plugin.on("executor.execute")(lambda request: None)
    with pytest.raises(ValueError, match=r"plugin 'p': executor\.execute already has a handler"):
        plugin.on("executor.execute")(lambda request: None)


def test_formats_given_as_one_string_are_refused_not_split_into_letters() -> None:
    plugin = Plugin("p")
    with pytest.raises(TypeError, match=r"executor input_formats must be a list .*\['openai'\]"):
        plugin.executor("p", input_formats="openai", output_formats=["openai"])


async def test_an_async_handler_answers_with_its_struct() -> None:
    async with open_test_host(echo_plugin()) as h:
        response = await h.call("executor.execute", ExecutorRequest(model="m", payload=b"hi"))
    assert response == ExecutorResponse(payload=b"hi", headers={"X-Model": ["m"]})


async def test_a_sync_handler_runs_in_a_worker_thread_not_on_the_event_loop() -> None:
    plugin = echo_plugin()
    threads: list[threading.Thread] = []

    @plugin.on("request.translate")
    def translate(request: RequestTransformRequest) -> PayloadResponse:
        threads.append(threading.current_thread())
        return PayloadResponse(body=request.body.upper())

    async with open_test_host(plugin) as h:
        response = await h.call("request.translate", RequestTransformRequest(body=b"abc"))
    assert response.body == b"ABC"
    assert threads and threads[0] is not threading.main_thread()


async def test_a_method_of_a_capability_not_implemented_answers_method_not_found() -> None:
    async with open_test_host(echo_plugin()) as h:
        with pytest.raises(RemoteError) as info:
            await h.call("executor.count_tokens", ExecutorRequest())
        assert info.value.code == METHOD_NOT_FOUND
        with pytest.raises(RemoteError) as info:
            await h.call("scheduler.pick", {})
        assert info.value.code == METHOD_NOT_FOUND


async def test_a_plugin_error_reaches_the_host_with_code_status_and_retryable() -> None:
    plugin = echo_plugin()

    @plugin.on("executor.count_tokens")
    def count(request: ExecutorRequest) -> ExecutorResponse:
        raise PluginError("quota exhausted", code="quota", http_status=429, retryable=True)

    async with open_test_host(plugin) as h:
        with pytest.raises(RemoteError) as info:
            await h.call("executor.count_tokens", ExecutorRequest())
    error = info.value
    assert (error.code, error.message) == (-32000, "quota exhausted")
    assert error.data is not None and error.data.code == "quota"
    assert (error.http_status, error.retryable) == (429, True)


async def test_a_handler_returning_the_wrong_type_fails_the_call_with_a_clear_message() -> None:
    plugin = echo_plugin()

    @plugin.on("executor.count_tokens")
    async def count(request: ExecutorRequest) -> ExecutorResponse:
        return PayloadResponse()  # type: ignore[return-value]

    async with open_test_host(plugin) as h:
        with pytest.raises(RemoteError, match="must return ExecutorResponse") as info:
            await h.call("executor.count_tokens", ExecutorRequest())
    assert info.value.code == INTERNAL_ERROR


@pytest.mark.parametrize(
    ("response", "path"),
    [
        (ExecutorResponse(payload=123), "$.Payload"),  # type: ignore[arg-type]
        (ExecutorResponse(headers={"X-One": "one"}), "$.Headers[...]"),  # type: ignore[dict-item]
    ],
)
async def test_a_field_of_the_wrong_type_fails_the_authors_test_as_it_fails_the_host(
    response: ExecutorResponse, path: str
) -> None:
    # A Struct checks no field when built; the harness decodes the answer into
    # the method's result type, as the host does, so the test sees the mistake.
    plugin = echo_plugin()

    @plugin.on("executor.count_tokens")
    async def count(request: ExecutorRequest) -> ExecutorResponse:
        return response

    async with open_test_host(plugin) as h:
        with pytest.raises(ProtocolError) as info:
            await h.call("executor.count_tokens", ExecutorRequest())
    message = str(info.value)
    assert "executor.count_tokens answered with an invalid result (ExecutorResponse)" in message
    assert message.endswith(f"at `{path}`")


class Opaque:
    """Nothing msgspec can encode."""


async def test_a_result_that_cannot_be_encoded_fails_its_call_and_the_plugin_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin = echo_plugin()

    @plugin.on("executor.count_tokens")
    async def count(request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(metadata={"seen": {Opaque()}})

    async with open_test_host(plugin) as h:
        with pytest.raises(RemoteError) as info:
            await h.call("executor.count_tokens", ExecutorRequest())
        response = await h.call("executor.execute", ExecutorRequest(payload=b"next"))
    assert info.value.code == INTERNAL_ERROR
    assert info.value.message == (
        "executor.count_tokens failed: echo returned a result that cannot be "
        "encoded: Encoding objects of type Opaque is unsupported"
    )
    assert response.payload == b"next"
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "pluginrt.rpc"]
    assert logged == [("ERROR", info.value.message)]


async def test_stream_headers_that_cannot_be_encoded_fail_the_call_and_no_chunk_follows() -> None:
    plugin = echo_plugin()
    resumed = False
    closed = trio.Event()

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[object]:
        nonlocal resumed
        try:
            yield ExecutorStreamStart(headers={"X-Seen": [Opaque()]})  # type: ignore[list-item]
            resumed = True
            yield b"never sent"
        finally:
            closed.set()

    async with open_test_host(plugin) as h:
        with pytest.raises(RemoteError, match=r"^executor\.execute_stream failed: echo returned"):
            await h.stream(ExecutorRequest())
        with trio.fail_after(5):
            await closed.wait()
    assert not resumed


async def test_config_comes_from_register_and_reconfigure_through_the_hook() -> None:
    plugin = echo_plugin()
    seen: list[dict[str, object]] = []

    @plugin.on_config
    def configure(config: dict[str, object]) -> None:
        if config.get("bad"):
            raise PluginError("bad config", code="config")
        seen.append(config)

    async with open_test_host(plugin, config={"greeting": "hi"}, plugin_id="echo-1") as h:
        assert plugin.config == {"greeting": "hi"}
        assert plugin.plugin_id == "echo-1"
        await h.reconfigure({"greeting": "hello"})
        assert plugin.config == {"greeting": "hello"}
        with pytest.raises(RemoteError, match="bad config"):
            await h.reconfigure({"bad": True})
        assert plugin.config == {"greeting": "hello"}
    assert seen == [{"greeting": "hi"}, {"greeting": "hello"}]


async def test_usage_records_are_handled_as_notifications() -> None:
    plugin = Plugin("usage")
    got = trio.Event()
    records: list[UsageRecord] = []

    @plugin.on("usage.handle")
    async def handle(record: UsageRecord) -> None:
        records.append(record)
        got.set()

    async with open_test_host(plugin) as h:
        assert h.register_result.capabilities.usage_plugin == CapabilityDecl()
        await h.notify("usage.handle", UsageRecord(model="m"))
        with trio.fail_after(1):
            await got.wait()
    assert records[0].model == "m"


async def test_shutdown_is_answered_then_the_plugin_stops_serving() -> None:
    plugin = echo_plugin()
    async with open_test_host(plugin) as h:
        await h.shutdown()
        with trio.fail_after(1):
            await h.connection.wait_closed()


# ------------------------------------------------------------------ streams


def streaming_plugin() -> Plugin:
    plugin = echo_plugin()

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[bytes | ExecutorStreamStart]:
        yield ExecutorStreamStart(headers={"Content-Type": ["text/event-stream"]})
        for part in request.payload.split(b" "):
            yield part

    return plugin


async def test_an_async_generator_streams_its_headers_then_each_chunk() -> None:
    async with open_test_host(streaming_plugin()) as h:
        result = await h.stream(ExecutorRequest(payload=b"a b c"))
    assert result.headers == {"Content-Type": ["text/event-stream"]}
    assert result.chunks == [b"a", b"b", b"c"]


async def test_the_test_host_streams_an_executor_stream_request_as_the_handler_is_typed() -> None:
    async with open_test_host(streaming_plugin()) as h:
        result = await h.stream(ExecutorStreamRequest(payload=b"a b", stream_id="mine", window=1))
    assert result.chunks == [b"a", b"b"]


async def test_a_sync_generator_streams_too_and_str_chunks_are_utf8() -> None:
    plugin = echo_plugin()

    @plugin.on("executor.execute_stream")
    def stream(request: ExecutorRequest) -> Iterator[str]:
        yield "é"
        yield "!"

    async with open_test_host(plugin) as h:
        result = await h.stream(ExecutorRequest())
    assert result.headers == {}
    assert result.body == "é!".encode()


async def test_a_stream_never_sends_past_its_credit() -> None:
    plugin = echo_plugin()
    produced = 0

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[bytes]:
        nonlocal produced
        for i in range(10):
            produced += 1
            yield b"%d" % i

    async with open_test_host(plugin) as h, h.open_stream(ExecutorRequest(), window=2) as s:
        await trio.testing.wait_all_tasks_blocked()
        assert s.chunks.buffered == 2
        assert produced <= 3  # two sent, at most one more waiting for credit
        chunks = [chunk async for chunk in s.chunks]
    assert chunks == [b"%d" % i for i in range(10)]


async def test_an_error_before_the_first_chunk_fails_the_call_itself() -> None:
    plugin = echo_plugin()

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[bytes]:
        raise PluginError("unauthorized", code="auth", http_status=401)
        yield b""  # pragma: no cover

    async with open_test_host(plugin) as h:
        with pytest.raises(RemoteError, match="unauthorized") as info:
            await h.stream(ExecutorRequest())
    assert info.value.http_status == 401


async def test_an_error_mid_stream_ends_the_stream_with_message_code_and_status() -> None:
    plugin = echo_plugin()

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[bytes]:
        yield b"partial"
        raise PluginError("upstream broke", code="upstream", http_status=502)

    async with open_test_host(plugin) as h, h.open_stream(ExecutorRequest()) as s:
        assert await s.chunks.receive_batch() == [b"partial"]
        with pytest.raises(StreamError) as info:
            await s.chunks.receive_batch()
    assert (info.value.message, info.value.code, info.value.http_status) == (
        "upstream broke",
        "upstream",
        502,
    )


async def test_a_cancelled_stream_closes_its_generator() -> None:
    plugin = echo_plugin()
    closed = trio.Event()

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"more"
        finally:
            closed.set()

    async with open_test_host(plugin) as h:
        async with h.open_stream(ExecutorRequest(), window=1) as s:
            assert await s.chunks.receive_batch() == [b"more"]
        # leaving the block sent stream.cancel
        with trio.fail_after(1):
            await closed.wait()


async def test_a_cancelled_sync_generator_is_closed_in_its_thread() -> None:
    plugin = echo_plugin()
    closed = threading.Event()

    @plugin.on("executor.execute_stream")
    def stream(request: ExecutorRequest) -> Iterator[bytes]:
        try:
            while True:
                yield b"more"
        finally:
            closed.set()

    async with open_test_host(plugin) as h:
        async with h.open_stream(ExecutorRequest(), window=1) as s:
            assert await s.chunks.receive_batch() == [b"more"]
        with trio.fail_after(2):
            while not closed.is_set():  # noqa: ASYNC110 - a thread's event
                await trio.sleep(0.01)


async def test_a_call_the_host_gives_up_on_cancels_its_handler_and_answers_once() -> None:
    plugin = echo_plugin()
    cancelled = trio.Event()

    @plugin.on("executor.count_tokens")
    async def count(request: ExecutorRequest) -> ExecutorResponse:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()

    async with open_test_host(plugin) as h:
        with pytest.raises(CallTimeout):
            await h.connection.call(
                "executor.count_tokens", ExecutorRequest(), ExecutorResponse, timeout=0.05
            )
        with trio.fail_after(1):
            await cancelled.wait()
        # the connection is still healthy afterwards
        assert (await h.call("executor.execute", ExecutorRequest(payload=b"x"))).payload == b"x"


async def test_notifications_are_handled_one_at_a_time() -> None:
    plugin = Plugin("usage")
    running = 0
    overlapped = False
    done = trio.Semaphore(0)

    @plugin.on("usage.handle")
    async def handle(record: UsageRecord) -> None:
        nonlocal running, overlapped
        running += 1
        overlapped |= running > 1
        await trio.sleep(0.001)
        running -= 1
        done.release()

    async with open_test_host(plugin) as h:
        for i in range(20):
            await h.notify("usage.handle", UsageRecord(model=str(i)))
        with trio.fail_after(2):
            for _ in range(20):
                await done.acquire()
    assert not overlapped


def test_a_handler_that_cannot_take_its_params_is_refused_when_registered() -> None:
    plugin = Plugin("p")
    refused = r"plugin 'p': the scheduler.pick handler .*pick must take one argument, the "
    with pytest.raises(TypeError, match=refused + r"SchedulerPickRequest; it takes \(self, r"):

        @plugin.on("scheduler.pick")
        async def pick(self: object, request: object) -> None: ...

    # What it takes, not bind's "too many positional arguments" for a function taking none.
    refused = r"the usage.handle handler .*handle must take one argument, the UsageRecord; "
    with pytest.raises(TypeError, match=refused + "it takes none$"):

        @plugin.on("usage.handle")
        def handle() -> None: ...

    with pytest.raises(TypeError, match=r"the on_config hook .*configure must take one"):

        @plugin.on_config
        def configure() -> None: ...

    with pytest.raises(TypeError, match=r"the thinking.apply handler .* it takes \(\*, request\)$"):

        @plugin.on("thinking.apply")
        def apply(*, request: object) -> None: ...

    assert plugin.handlers == {}

    @plugin.on("request.translate")
    async def translate(request: object, *, extra: int = 1) -> None: ...


def test_a_capability_declared_without_a_handler_of_its_methods_is_refused_before_serving() -> None:
    plugin = Plugin("thinker")
    plugin.thinking_applier("gem")
    refused = r"plugin 'thinker' declares ThinkingApplier but serves none of its methods: .* for"
    with pytest.raises(ValueError, match=refused + " thinking.apply"):
        plugin.declaration()
    plugin.on("thinking.apply")(lambda request: PayloadResponse())
    assert plugin.declaration().capabilities.thinking_applier == CapabilityDecl(identifier="gem")


def test_an_executor_scope_that_is_not_a_model_scope_is_refused() -> None:
    plugin = Plugin("p")
    with pytest.raises(ValueError, match=r"plugin 'p': executor scope 'statik' is not one of"):
        plugin.executor("x", input_formats=["openai"], output_formats=["openai"], scope="statik")
    for scope in ("", "both", "static", "oauth"):
        plugin.executor("x", input_formats=["openai"], output_formats=["openai"], scope=scope)


async def test_open_test_host_raises_a_refused_handshake_and_a_bad_declaration_as_is() -> None:
    plugin = echo_plugin()

    @plugin.on_config
    def configure(config: dict[str, object]) -> None:
        raise PluginError("needs 'upstream'", code="bad_config", http_status=422)

    with pytest.raises(RemoteError, match="needs 'upstream'") as refused:
        async with open_test_host(plugin):
            pass
    assert refused.value.data is not None and refused.value.data.http_status == 422
    with pytest.raises(ValueError, match="declares no capability"):
        async with open_test_host(Plugin("bare")):
            pass
