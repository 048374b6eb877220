import json
import os
import tempfile
import unittest

import helpers
from lem_harness.config import with_defaults
from lem_harness.errors import DatasetError
from lem_harness.prompts import build_prompts, byte_encoder


def config(**overrides):
    return with_defaults(helpers.tiny_config(**overrides))


class SyntheticPromptsTest(unittest.TestCase):
    def test_n_prompts_of_exactly_max_input_tokens_within_the_vocabulary(self):
        measured, warmup = build_prompts(config(n=5, max_input_tokens=12), 512, None, 3)
        self.assertEqual(len(measured), 5)
        self.assertEqual(len(warmup), 3)
        for prompt in measured + warmup:
            self.assertEqual(len(prompt), 12)
            self.assertTrue(all(0 <= t < 512 for t in prompt))

    def test_same_seed_same_prompts_other_seed_other_prompts(self):
        first, _ = build_prompts(config(random_seed=7), 512, None, 2)
        again, _ = build_prompts(config(random_seed=7), 512, None, 2)
        other, _ = build_prompts(config(random_seed=8), 512, None, 2)
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)

    def test_measured_prompts_do_not_depend_on_warmup_and_differ_from_it(self):
        with_warmup, warmup = build_prompts(config(n=3), 512, None, 4)
        without_warmup, none = build_prompts(config(n=3), 512, None, 0)
        self.assertEqual(with_warmup, without_warmup)
        self.assertEqual(none, [])
        self.assertFalse(set(map(tuple, warmup)) & set(map(tuple, with_warmup)))


class JsonlPromptsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "prompts.jsonl")
        with open(self.path, "w") as f:
            f.write(json.dumps({"prompt": "abc"}) + "\n\n")
            f.write(json.dumps({"text": "a much longer text than the limit"}) + "\n")

    def test_first_n_lines_cycled_and_truncated(self):
        measured, warmup = build_prompts(config(n=3, dataset=self.path, max_input_tokens=5), 512, None, 1)
        encode = byte_encoder(512)
        self.assertEqual(measured, [encode("abc"), encode("a muc"), encode("abc")])
        self.assertEqual(warmup, [encode("a muc")])  # warmup continues after the measured lines

    def test_bytes_modulo_vocabulary_for_synthetic_models(self):
        self.assertEqual(byte_encoder(100)("ab"), [97, 98 % 100])
        self.assertEqual(byte_encoder(64)("é"), [0xC3 % 64, 0xA9 % 64])

    def test_missing_file_names_the_path(self):
        missing = os.path.join(self.dir, "nope.jsonl")
        with self.assertRaises(DatasetError) as caught:
            build_prompts(config(dataset=missing), 512, None, 0)
        self.assertIn(missing, caught.exception.message)

    def test_line_without_prompt_or_text_is_rejected_with_its_number(self):
        with open(self.path, "a") as f:
            f.write(json.dumps({"question": "x"}) + "\n")
        with self.assertRaises(DatasetError) as caught:
            build_prompts(config(dataset=self.path), 512, None, 0)
        self.assertIn(":4:", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
