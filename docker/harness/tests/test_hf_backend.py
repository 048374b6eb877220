"""The pytorch backend on a transformers model: its step-by-step loop must pick the same tokens as
model.generate. Skipped where transformers is not installed (the bookworm CI image)."""

import json
import os
import shutil
import tempfile
import unittest

import torch

import helpers

try:
    import transformers  # noqa: F401
    from tokenizers import Tokenizer, models, pre_tokenizers
except ImportError:
    transformers = None


def save_tiny_llama(folder: str) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for word in "the quick brown fox jumps over a lazy dog hello world".split():
        vocab[word] = len(vocab)
    for i in range(100):
        vocab[f"w{i}"] = len(vocab)
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>",
                            eos_token="</s>").save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder)


@unittest.skipIf(transformers is None, "transformers is not installed")
class HuggingFaceBackendTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        save_tiny_llama(self.folder)
        self.dataset = os.path.join(self.folder, "prompts.jsonl")
        with open(self.dataset, "w") as f:
            f.write(json.dumps({"prompt": "the quick brown fox"}) + "\n")
            f.write(json.dumps({"text": "hello world a lazy dog jumps over the fox"}) + "\n")

    def test_greedy_tokens_match_model_generate_with_left_padding(self):
        from lem_harness.backends import create_backend
        from lem_harness.config import with_defaults
        from lem_harness.prompts import build_prompts

        config = with_defaults(helpers.tiny_config(
            model=self.folder, n=2, dataset=self.dataset, max_output_tokens=6,
            decoder={"temperature": 0, "ignore_eos": False}, pytorch={"batch_size": 2}))
        backend = create_backend(config)
        loaded = backend.load()
        prompts, _ = build_prompts(config, loaded.vocab_size, backend.encode, 0)
        chosen = []
        sampler = backend.sampler
        backend.sampler = lambda logits: chosen.append(sampler(logits)) or chosen[-1]
        backend.sampler.start = sampler.start
        record = backend.generate(prompts)
        ours = torch.stack(chosen, dim=1).tolist()

        width = max(len(p) for p in prompts)
        ids = torch.zeros(2, width, dtype=torch.long)
        mask = torch.zeros(2, width, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt):] = torch.tensor(prompt)
            mask[row, width - len(prompt):] = 1
        reference = backend.adapter.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6,
                                                   do_sample=False, pad_token_id=0)
        expected = [row[:row.index(2) + 1] if 2 in row else row for row in reference[:, width:].tolist()]  # up to EOS
        self.assertEqual([row[:len(e)] for row, e in zip(ours, expected)], expected)
        self.assertEqual(record.prompts, 2)
        self.assertEqual(record.input_tokens, sum(len(p) for p in prompts))


if __name__ == "__main__":
    unittest.main()
