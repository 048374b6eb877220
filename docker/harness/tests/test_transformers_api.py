"""transformers' own API, as lem relies on it: generate's min/max_new_tokens (optimum-benchmark's phase split),
left padding, attention implementation names, and what HFAdapter calls. An upgrade that changes any of it
fails here rather than in a measurement. Runs on a random-weight folder from lem_harness.models.hf_folder,
which is itself checked first: a complete folder that transformers loads like a downloaded one."""

import contextlib
import io
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

import helpers

PROMPTS = ["hello world", "the quick brown fox jumps over a lazy dog"]


@helpers.needs_transformers
class RandomLlamaFolderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = helpers.tiny_hf_folder(cls)

    def read(self, name: str) -> dict:
        with open(os.path.join(self.folder, name)) as f:
            return json.load(f)

    def test_the_folder_has_every_file_a_served_model_needs(self):
        for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json"):
            self.assertTrue(os.path.isfile(os.path.join(self.folder, name)), name)
        tokenizer_config = self.read("tokenizer_config.json")
        self.assertIn("chat_template", tokenizer_config)
        self.assertEqual(tokenizer_config["tokenizer_class"], "PreTrainedTokenizerFast")  # a name transformers 4 knows
        mode = {name: os.stat(os.path.join(self.folder, name)).st_mode & 0o777
                for name in ("model.safetensors", "config.json")}
        self.assertEqual(mode["model.safetensors"], mode["config.json"], "weights must be as readable as the config")

    def test_tokenizer_model_and_generation_config_agree(self):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from lem_harness.models.presets import PRESETS

        tokenizer = AutoTokenizer.from_pretrained(self.folder)
        model = AutoModelForCausalLM.from_pretrained(self.folder)
        tiny = PRESETS["tiny"]
        self.assertEqual(len(tokenizer), tiny.vocab_size)
        self.assertEqual(model.config.vocab_size, tiny.vocab_size)
        self.assertEqual(sum(p.numel() for p in model.parameters()), tiny.n_params)
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            self.assertEqual(getattr(model.config, name), getattr(tokenizer, name), name)
            self.assertEqual(getattr(model.generation_config, name), getattr(tokenizer, name), name)
        self.assertFalse(model.generation_config.do_sample)
        self.assertEqual(tokenizer("hello world")["input_ids"][0], tokenizer.bos_token_id)  # like Llama's
        self.assertNotIn(tokenizer.unk_token_id, tokenizer(" ".join(PROMPTS))["input_ids"])

    def test_chat_template_renders_string_and_text_part_messages(self):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.folder)
        messages = [{"role": "system", "content": "be quick"},
                    {"role": "user", "content": [{"type": "text", "text": "hello world"}]}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        tokens = tokenizer.convert_ids_to_tokens(ids["input_ids"])
        self.assertEqual(tokens, ["<s>", "<|system|>", "be", "quick", "</s>", "<|user|>", "hello", "world", "</s>",
                                  "<|assistant|>"])

    def test_the_cli_builds_the_same_folder_for_the_same_seed(self):
        from lem_harness.models.hf_folder import main

        out = os.path.join(self.folder, "again")
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            self.assertEqual(main([out, "--preset", "tiny", "--seed", "0"]), 0)
        self.assertEqual(stdout.getvalue().strip(), out)
        with open(os.path.join(out, "model.safetensors"), "rb") as a, \
                open(os.path.join(self.folder, "model.safetensors"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_the_cli_without_transformers_names_the_fix_in_one_line(self):
        stub = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, stub)
        os.makedirs(os.path.join(stub, "transformers"))
        with open(os.path.join(stub, "transformers", "__init__.py"), "w") as f:
            f.write("raise ImportError('No module named transformers')\n")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([stub, helpers.HARNESS_DIR]))
        run = subprocess.run([sys.executable, "-m", "lem_harness.models.hf_folder", os.path.join(stub, "out")],
                             env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 2)
        self.assertEqual(run.stdout, "")
        self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
        self.assertIn("npx lem setup", run.stderr)


@helpers.needs_transformers
class TransformersApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cls.folder = helpers.tiny_hf_folder(cls)
        cls.tokenizer = AutoTokenizer.from_pretrained(cls.folder)
        cls.model = AutoModelForCausalLM.from_pretrained(cls.folder, attn_implementation="sdpa").eval()

    def batch(self):
        self.tokenizer.padding_side = "left"
        return self.tokenizer(PROMPTS, return_tensors="pt", padding=True)

    def generate(self, batch, **kwargs) -> torch.Tensor:
        """Only the new tokens of a greedy generate."""
        with torch.inference_mode():
            out = self.model.generate(**batch, do_sample=False, **kwargs)
        return out[:, batch["input_ids"].shape[1]:]

    def test_min_new_tokens_holds_off_eos_for_exactly_k_tokens(self):
        batch = self.batch()
        first = self.generate(batch, max_new_tokens=1)[:, 0].tolist()
        eos = sorted(set(first))  # every row's greedy first token is now an end of sequence
        stopped = self.generate(batch, max_new_tokens=5, eos_token_id=eos)
        self.assertEqual(stopped.shape[1], 1, "without min_new_tokens every row must stop at its first token")
        forced = self.generate(batch, min_new_tokens=5, max_new_tokens=5, eos_token_id=eos)
        self.assertEqual(forced.shape, (len(PROMPTS), 5))
        self.assertFalse(any(t in eos for t in forced.flatten().tolist()), "EOS was picked before min_new_tokens")

    def test_one_new_token_is_exactly_one_token(self):
        batch = self.batch()
        eos = self.generate(batch, max_new_tokens=1)[:, 0].tolist()
        new = self.generate(batch, min_new_tokens=1, max_new_tokens=1, eos_token_id=eos)  # a prefill-only run
        self.assertEqual(new.shape, (len(PROMPTS), 1))

    def test_left_padding_pads_on_the_left_and_batches_like_single_prompts(self):
        batch = self.batch()
        short = len(self.tokenizer(PROMPTS[0])["input_ids"])
        width = batch["input_ids"].shape[1]
        self.assertGreater(width, short)
        pads = width - short
        self.assertEqual(batch["input_ids"][0, :pads].tolist(), [self.tokenizer.pad_token_id] * pads)
        self.assertEqual(batch["attention_mask"][0].tolist(), [0] * pads + [1] * short)
        together = self.generate(batch, min_new_tokens=6, max_new_tokens=6).tolist()
        alone = [self.generate(self.tokenizer([p], return_tensors="pt"), min_new_tokens=6, max_new_tokens=6)[0].tolist()
                 for p in PROMPTS]
        self.assertEqual(together, alone)

    def test_eager_and_sdpa_load_by_name_and_agree(self):
        from transformers import AutoModelForCausalLM

        batch = self.batch()
        logits = {}
        for attn in ("eager", "sdpa"):
            model = AutoModelForCausalLM.from_pretrained(self.folder, attn_implementation=attn).eval()
            self.assertEqual(model.config._attn_implementation, attn)
            with torch.inference_mode():
                logits[attn] = model(**batch).logits[:, -1]
        torch.testing.assert_close(logits["eager"], logits["sdpa"], rtol=1e-4, atol=1e-5)

    def test_continuous_batching_attention_names_are_registered(self):
        # `transformers serve --continuous-batching` switches a model from sdpa/eager to these names.
        from transformers import AttentionInterface, AutoModelForCausalLM

        registry = AttentionInterface()
        for name in ("paged|sdpa", "paged|eager"):
            self.assertIn(name, registry)
        model = AutoModelForCausalLM.from_pretrained(self.folder, attn_implementation="sdpa")
        model.set_attn_implementation("paged|sdpa")
        self.assertEqual(model.config._attn_implementation, "paged|sdpa")

    def test_from_pretrained_takes_dtype_without_warnings(self):
        from transformers import AutoModelForCausalLM

        with self.assertNoLogs("transformers", level="WARNING"):
            model = AutoModelForCausalLM.from_pretrained(self.folder, dtype=torch.bfloat16)
        self.assertEqual(model.dtype, torch.bfloat16)

    def test_what_hf_adapter_relies_on(self):
        from lem_harness.backends.hf_model import HFAdapter

        params = inspect.signature(self.model.forward).parameters
        self.assertIn("logits_to_keep", params)
        self.assertIn("position_ids", params)
        adapter = HFAdapter(self.model)
        self.assertEqual(adapter.keep_last, {"logits_to_keep": 1})  # else every prefill computes all logits
        self.assertTrue(adapter.takes_positions)
        eos = self.tokenizer.eos_token_id
        self.assertEqual(self.model.generation_config.eos_token_id, eos)
        self.assertEqual(adapter.eos_ids, frozenset([eos]))
        self.assertEqual(self.model.get_output_embeddings().weight.shape[0], self.model.config.vocab_size)
        self.assertEqual(adapter.logits_dim, self.model.config.vocab_size)

    def test_logits_to_keep_and_past_key_values_give_the_full_forward_logits(self):
        ids = self.tokenizer(PROMPTS[1], return_tensors="pt")["input_ids"]
        positions = torch.arange(ids.shape[1])[None]
        with torch.inference_mode():
            full = self.model(input_ids=ids, position_ids=positions).logits
            prefill = self.model(input_ids=ids[:, :-1], position_ids=positions[:, :-1], use_cache=True,
                                 logits_to_keep=1)
            self.assertEqual(prefill.logits.shape[1], 1)
            self.assertIsNotNone(prefill.past_key_values)
            step = self.model(input_ids=ids[:, -1:], position_ids=positions[:, -1:],
                              past_key_values=prefill.past_key_values, use_cache=True)
        torch.testing.assert_close(prefill.logits[:, 0], full[:, -2], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(step.logits[:, 0], full[:, -1], rtol=1e-4, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
