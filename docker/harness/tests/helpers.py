"""Shared test helpers: paths, a config envelope builder, a harness subprocess runner, a schema checker,
the rule for tests that need transformers."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HARNESS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(HARNESS_DIR))
RESULT_SCHEMA = os.path.join(REPO_ROOT, "schemas", "result.schema.json")
HASH = "0123456789abcdef"

if HARNESS_DIR not in sys.path:
    sys.path.insert(0, HARNESS_DIR)


def _transformers_missing():
    """Why transformers (with tokenizers) cannot be imported, or None."""
    try:
        import tokenizers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


def needs_transformers(cls):
    """Class decorator for tests of the transformers path. Without transformers they skip (the bookworm image
    has none), unless LEM_REQUIRE_TRANSFORMERS=1: then each test fails, so an image that lost transformers
    cannot pass CI by skipping."""
    missing = _transformers_missing()
    if missing is None:
        return cls
    if os.environ.get("LEM_REQUIRE_TRANSFORMERS") == "1":
        def setUp(self):
            self.fail(f"LEM_REQUIRE_TRANSFORMERS=1 but transformers is not installed ({missing}); "
                      "pip install -r docker/harness/requirements.txt, or unset LEM_REQUIRE_TRANSFORMERS")
        cls.setUp = setUp
        cls.setUpClass = classmethod(lambda c: None)  # the class's own setup would fail first, less clearly
        return cls
    return unittest.skip(f"transformers is not installed ({missing})")(cls)


def tiny_hf_folder(cls) -> str:
    """A random-weight tiny Llama folder (hf_folder) for a test class, removed after the class."""
    from lem_harness.models.hf_folder import save_random_llama

    folder = tempfile.mkdtemp()
    cls.addClassCleanup(shutil.rmtree, folder)
    return save_random_llama(folder, "tiny", seed=0)


def tiny_config(**overrides) -> dict:
    """A full config (defaults applied, as the host sends it) for a few-second synthetic:tiny run."""
    config = {
        "model": "synthetic:tiny", "backend": "pytorch", "n": 4, "dataset": "synthetic", "precision": "fp32",
        "random_seed": 42, "max_input_tokens": 16, "max_output_tokens": 8,
        "decoder": {"temperature": 1.0, "do_sample": True, "top_k": 50, "top_p": 1.0,
                    "repetition_penalty": 1.0, "ignore_eos": True},
        "warmup": {"enabled": True, "n_warmup": 2},
        "baseline": {"enabled": True, "duration_seconds": 30},
        "energy": {"backend": "auto", "sample_interval_ms": 100},
        "pytorch": {"batch_size": 2, "device": "cpu", "attn_implementation": "sdpa", "num_threads": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


class ExchangeDir:
    """A temp exchange dir holding {hash}_config.json, as the host writes it."""

    def __init__(self, config: dict, hardware: str = "cpu:test"):
        self.path = tempfile.mkdtemp(prefix="llem-test-")
        self.config_path = os.path.join(self.path, f"{HASH}_config.json")
        envelope = {"protocol_version": 1, "hash": HASH, "cycle": 2, "total_cycles": 3,
                    "names": ["tiny-test"], "hardware": hardware, "config": config}
        with open(self.config_path, "w") as f:
            json.dump(envelope, f)
        self.result_path = os.path.join(self.path, f"{HASH}_result.json")
        self.error_path = os.path.join(self.path, f"{HASH}_error.json")

    def env(self, **extra) -> dict:
        env = dict(os.environ, LEM_CONFIG_PATH=self.config_path, PYTHONPATH=HARNESS_DIR)
        env.update(extra)
        return env

    def run(self, timeout: float = 120, **extra_env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lem_harness"], env=self.env(**extra_env),
                              capture_output=True, text=True, timeout=timeout)

    def start(self, **extra_env) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "lem_harness"], env=self.env(**extra_env),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def read(self, path: str) -> dict:
        with open(path) as f:
            return json.load(f)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def wait_for_line(stream, needle: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not seen on stderr; got: {''.join(seen)[-2000:]}")


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _type_ok(value, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def schema_errors(value, schema: dict, root: dict, path: str = "$") -> list:
    """The subset of JSON Schema the result schema uses: $ref, type, const, enum, required,
    properties, additionalProperties false, items, minimum, minLength, pattern."""
    import re

    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return schema_errors(value, node, root, path)
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            return [f"{path}: {value!r} is not of type {types}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: does not match {schema['pattern']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                errors.extend(schema_errors(item, props[key], root, f"{path}.{key}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(schema_errors(item, schema["items"], root, f"{path}[{i}]"))
    return errors


def result_schema_errors(result: dict) -> list:
    with open(RESULT_SCHEMA) as f:
        schema = json.load(f)
    return schema_errors(result, schema, schema)


def ajv_validate(path: str):
    """(valid, errors) from the repo's ajv, or None where node or ajv is missing."""
    if not shutil.which("node") or not os.path.isdir(os.path.join(REPO_ROOT, "node_modules", "ajv")):
        return None
    script = (
        "import('ajv/dist/2020.js').then(async ({Ajv2020})=>{const f=(await import('ajv-formats')).default;"
        "const a=new Ajv2020({allErrors:true}); f(a); const fs=await import('fs');"
        "const v=a.compile(JSON.parse(fs.readFileSync('schemas/result.schema.json','utf8')));"
        "const r=JSON.parse(fs.readFileSync(process.argv[1],'utf8'));"
        "console.log(JSON.stringify({valid: v(r), errors: v.errors}))})"
    )
    out = subprocess.run(["node", "-e", script, path], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return report["valid"], report["errors"]


def wait_until(predicate, timeout=15.0, interval=0.05):
    """Polls until predicate() is true or the timeout passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
