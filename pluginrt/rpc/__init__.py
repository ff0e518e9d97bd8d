"""The JSON-RPC 2.0 engine shared by the host and plugin_sdk: framing, messages, Connection."""

from ._connection import CallContext as CallContext
from ._connection import Connection as Connection
from ._connection import ConnectionStatistics as ConnectionStatistics
from ._connection import Handler as Handler
from ._connection import open_connection as open_connection
from ._errors import CallTimeout as CallTimeout
from ._errors import ConnectionClosed as ConnectionClosed
from ._errors import HandlerError as HandlerError
from ._errors import ProtocolError as ProtocolError
from ._errors import RemoteError as RemoteError
from ._errors import RPCError as RPCError
from ._errors import StreamError as StreamError
from ._errors import StreamTimeout as StreamTimeout
from ._framing import DEFAULT_MAX_LINE as DEFAULT_MAX_LINE
from ._framing import LineFramer as LineFramer
from ._framing import LineTooLong as LineTooLong
from ._messages import CANCELLED as CANCELLED
from ._messages import HANDLER_ERROR as HANDLER_ERROR
from ._messages import INTERNAL_ERROR as INTERNAL_ERROR
from ._messages import INVALID_PARAMS as INVALID_PARAMS
from ._messages import INVALID_REQUEST as INVALID_REQUEST
from ._messages import METHOD_NOT_FOUND as METHOD_NOT_FOUND
from ._messages import PARSE_ERROR as PARSE_ERROR
from ._messages import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._messages import Empty as Empty
from ._messages import ErrorData as ErrorData
from ._messages import StreamEndError as StreamEndError
from ._streams import IncomingStream as IncomingStream
from ._streams import OutgoingStream as OutgoingStream

__all__ = [
    "CANCELLED",
    "DEFAULT_MAX_LINE",
    "HANDLER_ERROR",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "PROTOCOL_VERSION",
    "CallContext",
    "CallTimeout",
    "Connection",
    "ConnectionClosed",
    "ConnectionStatistics",
    "Empty",
    "ErrorData",
    "Handler",
    "HandlerError",
    "IncomingStream",
    "LineFramer",
    "LineTooLong",
    "OutgoingStream",
    "ProtocolError",
    "RPCError",
    "RemoteError",
    "StreamEndError",
    "StreamError",
    "StreamTimeout",
    "open_connection",
]
