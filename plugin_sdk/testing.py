"""Test a plugin's handlers in the same process, against an in-memory host.

The tests are trio coroutines, so pytest needs the pytest-trio plugin
(``pip install pytest-trio``) and either ``trio_mode = true`` in its
configuration, as pluginrt's own tests have it, or ``@pytest.mark.trio`` on
each test (without either, pytest skips or fails an ``async def`` test)::

    # pyproject.toml
    [tool.pytest.ini_options]
    trio_mode = true

    # test_echo.py
    from echo import plugin
    from plugin_sdk.testing import open_test_host
    from pluginrt.api import ExecutorRequest

    async def test_echo_echoes() -> None:
        async with open_test_host(plugin, config={"greeting": "hi"}) as h:
            response = await h.call("executor.execute", ExecutorRequest(payload=b"x"))
            assert response.payload == b"x"
"""

from ._testing import HostCall as HostCall
from ._testing import StreamResult as StreamResult
from ._testing import TestHost as TestHost
from ._testing import TestStream as TestStream
from ._testing import open_test_host as open_test_host

__all__ = ["HostCall", "StreamResult", "TestHost", "TestStream", "open_test_host"]
