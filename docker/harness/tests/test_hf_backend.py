"""The pytorch backend on a transformers model: its step-by-step loop must pick the same tokens as
model.generate, and with either attention implementation. The model is a random-weight folder from
lem_harness.models.hf_folder; without transformers these tests skip (see helpers.needs_transformers)."""

import json
import os
import shutil
import tempfile
import unittest

import torch

import helpers


@helpers.needs_transformers
class HuggingFaceBackendTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = helpers.tiny_hf_folder(cls)
        cls.dataset = os.path.join(cls.folder, "prompts.jsonl")
        with open(cls.dataset, "w") as f:
            f.write(json.dumps({"prompt": "the quick brown fox"}) + "\n")
            f.write(json.dumps({"text": "hello world a lazy dog jumps over the fox"}) + "\n")

    def load(self, ignore_eos=False, **pytorch):
        """(backend, loaded model, measured prompts) for a greedy two-prompt run of the folder."""
        from lem_harness.backends import create_backend
        from lem_harness.config import with_defaults
        from lem_harness.prompts import build_prompts

        config = with_defaults(helpers.tiny_config(
            model=self.folder, n=2, dataset=self.dataset, max_output_tokens=6,
            decoder={"temperature": 0, "ignore_eos": ignore_eos}, pytorch={"batch_size": 2, **pytorch}))
        backend = create_backend(config)
        loaded = backend.load()
        prompts, _ = build_prompts(config, loaded.vocab_size, backend.encode, 0)
        return backend, loaded, prompts

    def chosen_tokens(self, backend, prompts):
        """(every token the backend's sampler picked, one row per prompt; the generation record)."""
        chosen = []
        sampler = backend.sampler
        backend.sampler = lambda logits: chosen.append(sampler(logits)) or chosen[-1]
        backend.sampler.start = sampler.start
        record = backend.generate(prompts)
        return torch.stack(chosen, dim=1).tolist(), record

    def test_greedy_tokens_match_model_generate_with_left_padding(self):
        backend, _, prompts = self.load()
        ours, record = self.chosen_tokens(backend, prompts)

        width = max(len(p) for p in prompts)
        self.assertNotEqual(len(prompts[0]), width, "the prompts must differ in length to test padding")
        ids = torch.zeros(2, width, dtype=torch.long)
        mask = torch.zeros(2, width, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt):] = torch.tensor(prompt)
            mask[row, width - len(prompt):] = 1
        model = backend.adapter.model
        reference = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
        eos = model.generation_config.eos_token_id
        expected = [row[:row.index(eos) + 1] if eos in row else row for row in reference[:, width:].tolist()]
        self.assertEqual([row[:len(e)] for row, e in zip(ours, expected)], expected)
        self.assertEqual(record.prompts, 2)
        self.assertEqual(record.input_tokens, sum(len(p) for p in prompts))

    def test_a_prefill_pass_makes_one_token_per_prompt_the_first_of_the_full_pass(self):
        backend, _, prompts = self.load(ignore_eos=False)
        full, _ = self.chosen_tokens(backend, prompts)
        chosen = []
        sampler = backend.sampler
        backend.sampler = lambda logits: chosen.append(sampler(logits)) or chosen[-1]
        backend.sampler.start = sampler.start
        record = backend.generate(prompts, new_tokens=1)
        self.assertEqual((record.prompts, record.output_tokens, len(record.itl_ms)), (2, 2, 0))
        self.assertEqual(record.input_tokens, sum(len(p) for p in prompts))
        self.assertEqual([row[0] for row in full], torch.stack(chosen, dim=1)[:, 0].tolist())

    def test_eager_and_sdpa_attention_pick_the_same_greedy_tokens(self):
        tokens = {}
        for attn in ("eager", "sdpa"):
            backend, loaded, prompts = self.load(ignore_eos=True, attn_implementation=attn)
            self.assertEqual(loaded.effective["attn_implementation"], attn)
            self.assertNotIn("attn_implementation_note", loaded.effective)
            self.assertEqual(backend.adapter.model.config._attn_implementation, attn)  # what transformers runs
            tokens[attn], _ = self.chosen_tokens(backend, prompts)
        self.assertEqual([len(row) for row in tokens["eager"]], [6, 6])
        self.assertEqual(tokens["eager"], tokens["sdpa"])

    def test_a_folder_without_a_model_fails_as_model_unavailable(self):
        from lem_harness.backends.hf_model import load_hf_model
        from lem_harness.errors import ModelUnavailable

        tokenizer_only = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tokenizer_only)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(self.folder, name), tokenizer_only)
        # transformers raises ValueError here, which the sdpa-to-eager fallback used to let escape as a crash.
        with self.assertRaises(ModelUnavailable) as caught:
            load_hf_model(tokenizer_only, "cpu", torch.float32, "sdpa")
        self.assertIn(tokenizer_only, caught.exception.message)


if __name__ == "__main__":
    unittest.main()
