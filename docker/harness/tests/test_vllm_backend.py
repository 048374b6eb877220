"""The vllm backend against a stand-in `vllm` module (no GPU here): request bookkeeping and timing
arithmetic; and the clear error where vllm is not installed."""

import sys
import types
import unittest

import helpers


class FakeOutput:
    def __init__(self, request_id, prompt, tokens, finished):
        self.request_id, self.prompt_token_ids, self.finished = request_id, prompt, finished
        self.outputs = [types.SimpleNamespace(token_ids=list(tokens))]


class FakeEngine:
    """Each step gives up to max_num_seqs unfinished requests one more token (cumulative outputs, like
    vLLM's default); batches records each step's batch size, the shapes vLLM would capture graphs for."""

    def __init__(self, max_num_seqs=256):
        self.requests = {}
        self.max_num_seqs = max_num_seqs
        self.batches = []

    def add_request(self, request_id, prompt, params):
        self.requests[request_id] = [prompt["prompt_token_ids"], 0, params.kwargs["max_tokens"]]

    def has_unfinished_requests(self):
        return any(done < limit for _, done, limit in self.requests.values())

    def step(self):
        outputs = []
        for rid, state in self.requests.items():
            if state[1] < state[2] and len(outputs) < self.max_num_seqs:
                state[1] += 1
                outputs.append(FakeOutput(rid, state[0], range(state[1]), state[1] == state[2]))
        self.batches.append(len(outputs))
        return outputs


def fake_vllm_module():
    module = types.ModuleType("vllm")
    module.__version__ = "0.0-fake"

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs):
            module.engine_kwargs = kwargs
            self.llm_engine = module.engine = FakeEngine(kwargs["max_num_seqs"])

    module.LLM, module.SamplingParams = LLM, SamplingParams
    return module


def vllm_config(**overrides):
    config = helpers.tiny_config(backend="vllm", n=3, max_output_tokens=4, **overrides)
    del config["pytorch"]
    config["vllm"] = {
        "engine": {"max_num_seqs": 256, "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1,
                   "enforce_eager": False, "max_model_len": None, "enable_prefix_caching": False},
        "sampling": {"min_tokens": None, "presence_penalty": 0, "frequency_penalty": 0},
    }
    return config


class VllmBackendTest(unittest.TestCase):
    def setUp(self):
        self.module = fake_vllm_module()
        self.saved = sys.modules.get("vllm")
        sys.modules["vllm"] = self.module
        self.addCleanup(self.restore)

    def restore(self):
        if self.saved is None:
            sys.modules.pop("vllm", None)
        else:
            sys.modules["vllm"] = self.saved

    def test_synthetic_preset_runs_on_dummy_weights_and_times_every_token(self):
        from lem_harness.backends import create_backend
        from lem_harness.config import with_defaults
        from lem_harness.prompts import build_prompts

        config = with_defaults(vllm_config())
        backend = create_backend(config)
        loaded = backend.load()
        kwargs = self.module.engine_kwargs
        self.assertEqual((kwargs["load_format"], kwargs["skip_tokenizer_init"]), ("dummy", True))
        self.assertEqual(kwargs["max_model_len"], 16 + 4)
        self.assertEqual(backend.sampling.kwargs["ignore_eos"], True)
        self.assertEqual(loaded.n_params, 106816)
        self.assertEqual(loaded.cuda_devices, [0])
        prompts, _ = build_prompts(config, loaded.vocab_size, None, 0)
        record = backend.generate(prompts)
        self.assertEqual((record.prompts, record.input_tokens, record.output_tokens), (3, 48, 12))
        self.assertEqual((len(record.ttft_ms), len(record.itl_ms), len(record.e2e_ms)), (3, 9, 3))
        self.assertIn("LLMEngine.step()", record.ttft_method)
        # The phase split's prefill pass: exactly one new token per prompt, the same prompts.
        prefill = backend.generate(prompts, new_tokens=1)
        self.assertEqual((prefill.prompts, prefill.input_tokens, prefill.output_tokens), (3, 48, 3))
        self.assertEqual(backend.sampling.kwargs["max_tokens"], 4, "the measured pass's sampling is left as it was")
        backend.close()

    def test_greedy_decoding_maps_to_temperature_zero_without_top_k(self):
        from lem_harness.backends.vllm_backend import VllmBackend
        from lem_harness.config import with_defaults

        backend = VllmBackend(with_defaults(vllm_config(decoder={"temperature": 0})))
        kwargs = backend._sampling_kwargs()
        self.assertEqual((kwargs["temperature"], kwargs["top_k"], kwargs["top_p"]), (0.0, -1, 1.0))


    def run_experiment(self, n, n_warmup, max_num_seqs, enabled=True):
        """The experiment around the vLLM backend (energy off): the engine's batch sizes in the warmup and
        in the window, and the result."""
        import os
        from unittest import mock

        from lem_harness import experiment
        from lem_harness.backends import create_backend
        from lem_harness.config import with_defaults

        config = vllm_config(warmup={"enabled": enabled, "n_warmup": n_warmup},
                             baseline={"enabled": False, "duration_seconds": 0},
                             energy={"backend": "none", "sample_interval_ms": 100})
        config["n"], config["vllm"]["engine"]["max_num_seqs"] = n, max_num_seqs
        config = with_defaults(config)
        backend = create_backend(config)
        phases, generate = [], backend.generate

        def tracked(prompts, new_tokens=None):
            start = len(self.module.engine.batches)
            record = generate(prompts, new_tokens)
            phases.append(self.module.engine.batches[start:])
            return record

        backend.generate = tracked
        envelope = {"hash": helpers.HASH, "cycle": 1, "names": ["vllm-warmup"], "config": config}
        with mock.patch.object(experiment, "log", lambda message: None), mock.patch.dict(os.environ):
            result = experiment._measure(envelope, config, config, backend, None, experiment.utc_now())
        backend.close()
        return phases, result

    def test_the_warmup_covers_the_windows_batch_shapes(self):
        phases, result = self.run_experiment(n=6, n_warmup=1, max_num_seqs=4)
        warmup, window = phases
        self.assertEqual(sorted(set(window)), [2, 4], "a batch of min(n, max_num_seqs), then the last 2")
        self.assertEqual(set(window) - set(warmup), set(), "no batch size is new to the window")
        self.assertEqual(result["effective_config"]["warmup_prompts"], 6)
        note = result["effective_config"]["warmup_note"]
        self.assertIn("warmup.n_warmup 1 raised to 6", note)
        self.assertIn("a batch of 4 (min(n 6, max_num_seqs 4)) and a last batch of 2", note)
        self.assertNotIn("no_warmup", result["quality_flags"])
        self.assertEqual(helpers.result_schema_errors(result), [])

    def test_a_window_within_max_num_seqs_is_warmed_up_at_its_whole_batch(self):
        phases, result = self.run_experiment(n=5, n_warmup=2, max_num_seqs=256)
        self.assertEqual((max(phases[0]), max(phases[1])), (5, 5))
        self.assertEqual(result["effective_config"]["warmup_prompts"], 5)

    def test_a_warmup_already_as_large_as_the_window_is_left_as_configured(self):
        phases, result = self.run_experiment(n=3, n_warmup=5, max_num_seqs=256)
        self.assertEqual((max(phases[0]), max(phases[1])), (5, 3))
        self.assertEqual(result["effective_config"]["warmup_prompts"], 5)
        self.assertNotIn("warmup_note", result["effective_config"])

    def test_a_disabled_warmup_stays_disabled_and_flagged(self):
        phases, result = self.run_experiment(n=3, n_warmup=2, max_num_seqs=256, enabled=False)
        self.assertEqual(len(phases), 1, "only the window ran")
        self.assertEqual(result["effective_config"]["warmup_prompts"], 0)
        self.assertIn("no_warmup", result["quality_flags"])


class VllmMissingTest(unittest.TestCase):
    def test_backend_unavailable_payload_says_what_to_install(self):
        try:
            import vllm  # noqa: F401
            self.skipTest("vllm is installed here")
        except ImportError:
            pass
        exchange = helpers.ExchangeDir(vllm_config())
        self.addCleanup(exchange.cleanup)
        proc = exchange.run()
        self.assertEqual(proc.returncode, 1, proc.stderr)
        payload = exchange.read(exchange.error_path)
        self.assertEqual(payload["type"], "BackendUnavailable")
        self.assertIn("vllm", payload["message"])


if __name__ == "__main__":
    unittest.main()
