"""The vLLM backend: offline inference with vllm.LLM. Requests are driven through LLMEngine.step() so each
request's first token and later tokens get wall-clock times; synthetic:<preset> models run with vLLM's
dummy (random) weights and no tokenizer."""

import json
import os
import shutil
import tempfile
import time
from typing import List, Optional, Tuple

from ..errors import BackendUnavailable
from ..models.param_count import safetensors_param_count
from ..models.presets import is_synthetic, resolve_preset
from .base import Backend, GenerationRecord, LoadedModel

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
STEP_NOTE = "wall clock at LLMEngine.step() returns (engine-step granularity)"
TTFT_STEP = f"from submitting the window's requests to the step that returned the request's first token; {STEP_NOTE}"
ITL_STEP = f"time between steps that returned the request's tokens, split evenly over tokens returned together; {STEP_NOTE}"
E2E_STEP = f"from submitting the window's requests to the step that finished the request; {STEP_NOTE}"


def _import_vllm():
    try:
        import vllm
        from vllm import LLM, SamplingParams
    except ImportError as e:
        raise BackendUnavailable(
            f"backend vllm needs the vllm package, which is not importable here ({e}); "
            "use the lem vLLM image (a CUDA GPU image with vllm installed) or backend pytorch"
        ) from e
    return vllm, LLM, SamplingParams


class VllmBackend(Backend):
    name = "vllm"

    def __init__(self, config: dict):
        self.config = config
        self.engine_cfg = config["vllm"]["engine"]
        self.synthetic = is_synthetic(config["model"])
        self.llm = None
        self.tokenizer = None
        self._workdir: Optional[str] = None
        self._next_id = 0
        self._devices: List[int] = []

    def load(self) -> LoadedModel:
        cfg, engine = self.config, self.engine_cfg
        preset = resolve_preset(cfg["model"]) if self.synthetic else None
        vllm, LLM, SamplingParams = _import_vllm()
        kwargs = {
            "model": cfg["model"], "dtype": DTYPES[cfg["precision"]], "seed": cfg["random_seed"],
            "max_num_seqs": engine["max_num_seqs"], "gpu_memory_utilization": engine["gpu_memory_utilization"],
            "tensor_parallel_size": engine["tensor_parallel_size"], "enforce_eager": engine["enforce_eager"],
            "enable_prefix_caching": engine["enable_prefix_caching"],
        }
        if engine["max_model_len"] is not None:
            kwargs["max_model_len"] = engine["max_model_len"]
        if preset is not None:
            self._workdir = tempfile.mkdtemp(prefix="lem-vllm-")
            with open(os.path.join(self._workdir, "config.json"), "w") as f:
                json.dump(preset.hf_config(), f)
            kwargs.update(model=self._workdir, load_format="dummy", skip_tokenizer_init=True)
            # The preset allows 128k positions; size the KV cache for this experiment unless told otherwise.
            kwargs.setdefault("max_model_len", cfg["max_input_tokens"] + cfg["max_output_tokens"])
        self.llm = LLM(**kwargs)
        self._sampling_params = SamplingParams
        self.sampling = SamplingParams(**self._sampling_kwargs())
        if preset is not None:
            vocab, n_params, n_method = preset.vocab_size, preset.n_params, "exact count of the preset's shapes"
        else:
            self.tokenizer = self.llm.get_tokenizer()
            vocab = len(self.tokenizer)
            try:
                vocab = min(vocab, self.llm.llm_engine.model_config.get_vocab_size())
            except AttributeError:
                pass
            n_params, n_method = safetensors_param_count(cfg["model"])
        self._devices = list(range(engine["tensor_parallel_size"]))
        import torch  # vLLM depends on it; imported only for its version

        effective = {
            "backend": "vllm", "device": "cuda", "dtype": DTYPES[cfg["precision"]], "num_threads": None,
            "attn_implementation": os.environ.get("VLLM_ATTENTION_BACKEND") or "chosen by vLLM",
            "torch_version": torch.__version__, "vllm_version": vllm.__version__,
            "engine_args": {k: v for k, v in kwargs.items() if k != "model"},
            "sampling_params": self._sampling_kwargs(), "stepwise_timing": self._stepwise(),
            "model_source": "vLLM dummy weights (random), preset shapes" if preset else "vLLM model loader",
        }
        return LoadedModel(
            n_params=n_params, n_params_method=n_method, vocab_size=vocab, device="cuda",
            cuda_devices=self._devices, effective=effective, gpu_name=self._gpu_name(),
        )

    def _sampling_kwargs(self) -> dict:
        d, s = self.config["decoder"], self.config["vllm"]["sampling"]
        greedy = d["temperature"] == 0 or not d["do_sample"]
        kwargs = {
            "n": 1, "max_tokens": self.config["max_output_tokens"],
            "temperature": 0.0 if greedy else float(d["temperature"]),
            "top_p": 1.0 if greedy else float(d["top_p"]),
            "top_k": d["top_k"] if d["top_k"] > 0 and not greedy else -1,
            "repetition_penalty": float(d["repetition_penalty"]),
            "presence_penalty": float(s["presence_penalty"]), "frequency_penalty": float(s["frequency_penalty"]),
            # Random weights have no end-of-sequence token: always generate max_tokens.
            "ignore_eos": bool(d["ignore_eos"]) or self.synthetic,
        }
        if s["min_tokens"] is not None:
            kwargs["min_tokens"] = s["min_tokens"]
        if self.synthetic:
            kwargs["detokenize"] = False
        return kwargs

    def _gpu_name(self) -> Optional[str]:
        from ..energy.nvml import Nvml, NvmlError
        from ..energy.nvml_meter import nvml_handles

        try:
            nvml = Nvml.get()
            return nvml.name(nvml_handles(nvml, self._devices[:1], None)[0])
        except (NvmlError, ValueError, IndexError):
            pass
        import torch  # without NVML; the engine has started, so touching CUDA here is harmless

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None

    def warmup_count(self, n_warmup: int, n_measured: int) -> Tuple[int, Optional[str]]:
        """(warmup prompts, why raised or None). vLLM captures a CUDA graph (and compiles) per batch size
        on first use: the warmup runs the window's batch, min(n, max_num_seqs) prompts at once, and after
        it the window's last, partial batch (n mod max_num_seqs, where n exceeds it), so the window
        meets no batch size for the first time."""
        max_seqs = self.engine_cfg["max_num_seqs"]
        batch = min(n_measured, max_seqs)
        tail = n_measured % max_seqs if n_measured > max_seqs else 0
        needed = batch + tail
        if n_warmup <= 0 or n_warmup >= needed:
            return n_warmup, None
        shapes = f"a batch of {batch} (min(n {n_measured}, max_num_seqs {max_seqs}))"
        if tail:
            shapes += f" and a last batch of {tail}"
        return needed, (f"warmup.n_warmup {n_warmup} raised to {needed}: the window runs {shapes}, and vLLM "
                        "captures CUDA graphs per batch size, so the warmup runs them first")

    def encode(self, text: str) -> List[int]:
        return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    def _stepwise(self) -> bool:
        engine = getattr(self.llm, "llm_engine", None)
        return all(hasattr(engine, name) for name in ("add_request", "step", "has_unfinished_requests"))

    def generate(self, prompts: List[List[int]], new_tokens: Optional[int] = None) -> GenerationRecord:
        sampling = self.sampling
        if new_tokens is not None:
            sampling = self._sampling_params(**{**self._sampling_kwargs(), "max_tokens": new_tokens, "min_tokens": new_tokens})
        return self._generate_stepwise(prompts, sampling) if self._stepwise() else self._generate_batch(prompts, sampling)

    def _generate_stepwise(self, prompts: List[List[int]], sampling) -> GenerationRecord:
        engine = self.llm.llm_engine
        record = GenerationRecord(ttft_method=TTFT_STEP, itl_method=ITL_STEP, e2e_method=E2E_STEP)
        ids = [f"lem-{self._next_id + i}" for i in range(len(prompts))]
        self._next_id += len(prompts)
        started = time.perf_counter()
        for request_id, prompt in zip(ids, prompts):
            engine.add_request(request_id, {"prompt_token_ids": prompt}, sampling)
        counts = dict.fromkeys(ids, 0)
        last_seen = {}
        while engine.has_unfinished_requests():
            outputs = engine.step()
            now = time.perf_counter()
            for out in outputs:
                rid = out.request_id
                if rid not in counts:
                    continue
                produced = len(out.outputs[0].token_ids)
                new = produced - counts[rid]
                if new > 0:
                    if counts[rid] == 0:
                        record.ttft_ms.append((now - started) * 1000.0)
                        new -= 1
                    if new > 0:  # tokens beyond the first arrived since the last step that returned this request
                        record.itl_ms.extend([(now - last_seen.get(rid, now)) * 1000.0 / new] * new)
                    last_seen[rid] = now
                    counts[rid] = produced
                if out.finished:
                    record.e2e_ms.append((now - started) * 1000.0)
                    record.input_tokens += len(out.prompt_token_ids or [])
                    record.output_tokens += produced
                    record.prompts += 1
        return record

    def _generate_batch(self, prompts: List[List[int]], sampling) -> GenerationRecord:
        """Fallback for a vLLM without a steppable engine: per-request times only from RequestOutput.metrics."""
        started = time.perf_counter()
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], sampling, use_tqdm=False)
        call_ms = (time.perf_counter() - started) * 1000.0
        record = GenerationRecord(itl_method="not measured: this vLLM exposes no per-token times to LLM.generate")
        for out in outputs:
            metrics = getattr(out, "metrics", None)
            first = getattr(metrics, "first_token_time", None)
            arrival = getattr(metrics, "arrival_time", None)
            finished = getattr(metrics, "finished_time", None) or getattr(metrics, "last_token_time", None)
            if first is not None and arrival is not None:
                record.ttft_ms.append((first - arrival) * 1000.0)
            record.e2e_ms.append((finished - arrival) * 1000.0 if finished and arrival else call_ms)
            record.input_tokens += len(out.prompt_token_ids or [])
            record.output_tokens += len(out.outputs[0].token_ids)
            record.prompts += 1
        record.ttft_method = ("RequestOutput.metrics first_token_time - arrival_time" if record.ttft_ms
                              else "not measured: RequestOutput.metrics is absent in this vLLM")
        record.e2e_method = ("RequestOutput.metrics finished_time - arrival_time" if record.ttft_ms
                             else "the whole LLM.generate call, for every request (no per-request metrics)")
        return record

    def peak_memory(self) -> dict:
        from ..energy.nvml import Nvml, NvmlError
        from ..energy.nvml_meter import nvml_handles

        try:
            nvml = Nvml.get()
            used = sum(nvml.memory_info(h).used for h in nvml_handles(nvml, self._devices, None))
        except (NvmlError, ValueError, IndexError) as e:
            return {"peak_bytes": None, "device": "cuda", "method": f"unavailable: NVML memory info ({e})"}
        return {"peak_bytes": used, "device": "cuda",
                "method": "nvmlDeviceGetMemoryInfo.used after the window (device-wide; vLLM preallocates gpu_memory_utilization)"}

    def close(self) -> None:
        self.llm = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
