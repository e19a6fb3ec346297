"""What the server sends, checked against its published description: docs/api/openapi.yaml (REST
answers) and docs/api/asyncapi.yaml (WebSocket and SSE messages), with the jsonschema validator
(Debian's python3-jsonschema; PyYAML reads the documents).

The shared harnesses call these on everything they receive (tdserver.Server.request,
test_server_http.ServerProcess.get, test_server_sse.SseStream.event, and every WebSocket message
once check_websocket_messages() is called), so each integration test also checks that the server
keeps to the documents: a wrong type, a missing required field, an unknown field, an undocumented
status or content type fails the test that received it with SchemaViolation.
"""
import contextlib
import copy
import functools
import hashlib
import json
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError:  # Debian's packages, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema
    import yaml

DOCS = os.path.join(os.path.abspath(os.environ.get("TAPEDECK_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))), "docs", "api")


class SchemaViolation(AssertionError):
    """The server sent something its API description does not allow."""


_docs = {}


def document(name):
    """docs/api/<name> parsed ("openapi.yaml" or "asyncapi.yaml")."""
    if name not in _docs:
        with open(os.path.join(DOCS, name), encoding="utf-8") as f:
            _docs[name] = yaml.safe_load(f)
    return _docs[name]


def _validator(doc_name, schema, draft):
    # The schema is validated as part of its document, so that "#/components/..." references
    # resolve: the document's components ride along at the root (unknown keywords are ignored).
    root = dict(schema)
    root["components"] = document(doc_name)["components"]
    return draft(root)


@functools.lru_cache(maxsize=None)
def _openapi_validator(pointer):
    node = document("openapi.yaml")
    for part in pointer.split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return _validator("openapi.yaml", node, jsonschema.Draft202012Validator)


@functools.lru_cache(maxsize=None)
def _asyncapi_validator(message):
    # AsyncAPI 3.0's default schema format is a superset of JSON Schema draft 7.
    payload = document("asyncapi.yaml")["components"]["messages"][message]["payload"]
    return _validator("asyncapi.yaml", payload, jsonschema.Draft7Validator)


def _fail(what, errors):
    lines = [f"{what} does not match the API description:"]
    for e in errors[:5]:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        lines.append(f"  at {where}: {e.message}")
    raise SchemaViolation("\n".join(lines))


def _check(validator, instance, what):
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        _fail(what, errors)


def _escape(key):
    return key.replace("~", "~0").replace("/", "~1")


@functools.lru_cache(maxsize=None)
def _path_patterns():
    """(regex, template) for every OpenAPI path, templates with fewer parameters first, so that a
    literal segment wins over a parameter."""
    out = []
    for template in document("openapi.yaml")["paths"]:
        regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((template.count("{"), re.compile(regex), template))
    out.sort(key=lambda t: t[0])
    return [(r, t) for _, r, t in out]


def path_template(path):
    """The OpenAPI path template that `path` (no query) matches, or None."""
    for regex, template in _path_patterns():
        if regex.match(path):
            return template
    return None


def _media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def check_response(method, target, status, headers, body):
    """Checks one HTTP answer against openapi.yaml. `headers`: any mapping with .get (case as the
    server sent, or lower case); `body`: bytes. Answers outside the API (the web UI's files, a
    CORS preflight) are let through."""
    method = method.upper()
    path = target.split("?", 1)[0].split("#", 1)[0]
    content_type = None
    for name in ("Content-Type", "content-type"):
        if headers is not None and headers.get(name) is not None:
            content_type = headers.get(name)
            break
    media = _media_type(content_type)
    what = f"{method} {target} -> {status}"
    template = path_template(path) if path.startswith("/") else None
    item = document("openapi.yaml")["paths"].get(template) if template else None
    op_method = "get" if method == "HEAD" else method.lower()
    if method == "OPTIONS":
        return
    if item is None or op_method not in item:
        # Not an API operation: the web UI's files, or an error (404 no route, 405 other method,
        # 400 a malformed request). Errors still carry the error body.
        if status >= 400 and media == "application/json":
            _check(_openapi_validator("/components/schemas/Error"), _json(body, what), what)
        return
    responses = item[op_method]["responses"]
    key = str(status)
    if key not in responses:
        if status < 400 or "default" not in responses:
            raise SchemaViolation(f"{what}: status {status} is not documented for "
                                  f"{op_method.upper()} {template}")
        key = "default"
    response = responses[key]
    pointer = f"/paths/{_escape(template)}/{op_method}/responses/{key}"
    if "$ref" in response:
        pointer = response["$ref"][1:]
        response = document("openapi.yaml")
        for part in pointer.split("/")[1:]:
            response = response[part]
    content = response.get("content")
    if method == "HEAD":
        return
    if not content:
        if body:
            raise SchemaViolation(f"{what}: documented without a body, got {body[:80]!r}")
        return
    if not body:
        raise SchemaViolation(f"{what}: documented with a body ({', '.join(content)}), got none")
    if media not in content:
        raise SchemaViolation(f"{what}: content type {content_type!r} is not documented "
                              f"(documented: {', '.join(content)})")
    schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
    # The same bytes against the same schema pass again: tests that re-read big answers (the
    # kill -9 loop reads every run's frames after each restart) pay for the first check only.
    seen = (schema_pointer, hashlib.sha1(body if isinstance(body, bytes) else body.encode()).digest())
    if seen in _passed:
        return
    if media == "application/json":
        instance = _json(body, what)
    else:
        instance = body.decode("utf-8") if isinstance(body, bytes) else body
    _check(_openapi_validator(schema_pointer), instance, what)
    if len(_passed) > 100_000:
        _passed.clear()
    _passed.add(seen)


_passed = set()  # (schema pointer, sha1 of the body) that passed


def _json(body, what):
    try:
        return json.loads(body)
    except ValueError as e:
        raise SchemaViolation(f"{what}: the body is not JSON ({e}): {body[:80]!r}")


# Server-to-client messages by channel: the message named by "t".
_SENT = {"webSocket": ("frame", "hb", "end", "err"), "eventStream": ("frame", "hb", "end", "err")}


def check_message(channel, message, event=None):
    """Checks one server-to-client message of `channel` ("webSocket" or "eventStream") against
    asyncapi.yaml. `message`: the JSON text (str or bytes) or the parsed object. `event`: the SSE
    event name, which must be the message's `t`."""
    what = f"a {channel} message"
    if isinstance(message, (bytes, str)):
        message = _json(message, what)
    if not isinstance(message, dict) or message.get("t") not in _SENT[channel]:
        raise SchemaViolation(f"{what} is none of {', '.join(_SENT[channel])}: {message!r}"[:300])
    kind = message["t"]
    if event is not None and event != kind:
        raise SchemaViolation(f"{what}: SSE event {event!r} carries a {kind!r} message")
    _check(_asyncapi_validator(kind), message, f"{what} ({kind})")
    return message


_CONTROLS = {"play": "play", "pause": "pause", "seek": "seek", "speed": "speed"}


def check_control(message):
    """Checks a client-to-server WebSocket message (a control or the client's hb) against
    asyncapi.yaml: for clients' messages, which the server also refuses (VALIDATION) when wrong."""
    what = "a webSocket control"
    if isinstance(message, (bytes, str)):
        message = _json(message, what)
    if isinstance(message, dict) and message.get("t") == "hb":
        kind = "clientHb"
    elif isinstance(message, dict) and message.get("t") == "ctrl" and message.get("cmd") in _CONTROLS:
        kind = _CONTROLS[message["cmd"]]
    else:
        raise SchemaViolation(f"{what} is none of play, pause, seek, speed, hb: {message!r}"[:300])
    _check(_asyncapi_validator(kind), message, f"{what} ({kind})")
    return message


def check_sse_event(fields):
    """An SSE event as a dict of its fields (event, id, data); the retry: block passes."""
    if "data" not in fields:
        return
    msg = check_message("eventStream", fields["data"], event=fields.get("event"))
    if msg["t"] == "frame" and "id" in fields and str(msg["i"]) != fields["id"]:
        raise SchemaViolation(f"SSE frame id {fields['id']!r} is not its window {msg['i']}")


def check_websocket_messages():
    """From now on, every text message a `websockets` client receives in this process is checked
    against the webSocket channel's server messages (the library's recv, which `async for` and
    every test use, is wrapped once)."""
    from websockets.legacy.protocol import WebSocketCommonProtocol
    if getattr(WebSocketCommonProtocol.recv, "_apischema", False):
        return
    original = WebSocketCommonProtocol.recv

    async def recv(self):
        msg = await original(self)
        if isinstance(msg, str):
            check_message("webSocket", msg)
        return msg

    recv._apischema = True
    WebSocketCommonProtocol.recv = recv


@contextlib.contextmanager
def replaced(doc_name, mutate):
    """For tests of the checks themselves: while inside, `doc_name` is a copy of the document
    changed by `mutate(doc)`."""
    doc = copy.deepcopy(document(doc_name))
    mutate(doc)
    _clear_caches()
    _docs[doc_name] = doc
    try:
        yield doc
    finally:
        del _docs[doc_name]
        _clear_caches()


def _clear_caches():
    _passed.clear()
    for f in (_openapi_validator, _asyncapi_validator, _path_patterns):
        f.cache_clear()
