"""A raw plugin that reads headers as Go does: ``http.Header.Get`` looks up canonical names.

Frontend auth: accepts exactly ``Headers["Authorization"] == ["Bearer go-token"]``.
Executor (model ``go-headers``): answers the sorted names of the headers it got, as JSON.
"""

import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "host" / "plugins"))

import _raw

_raw.CAPABILITIES = {
    "FrontendAuthProvider": {"identifier": "go-headers"},
    "Executor": {"identifier": "go-headers"},
    "ModelProvider": {},
    "ExecutorModelScope": "static",
    "ExecutorInputFormats": ["openai"],
    "ExecutorOutputFormats": ["openai"],
}


def authenticate(params, message):
    accepted = (params.get("Headers") or {}).get("Authorization") == ["Bearer go-token"]
    return {"Authenticated": accepted, "Principal": "gopher" if accepted else "", "Metadata": None}


def static(params, message):
    return {"Provider": "go-headers", "Models": [{"ID": "go-headers", "Object": "model"}]}


def execute(params, message):
    names = sorted(params.get("Headers") or {})
    body = {"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": json.dumps(names)}}]}  # fmt: skip
    return {"Payload": base64.b64encode(json.dumps(body).encode()).decode(), "Headers": None}


_raw.serve({
    "frontend_auth.authenticate": authenticate,
    "model.static": static,
    "executor.execute": execute,
})  # fmt: skip
