import unittest

import torch

import helpers  # noqa: F401
from lem_harness.errors import UnknownPreset
from lem_harness.models.presets import PRESETS, resolve_preset
from lem_harness.models.synthetic import HAS_SDPA, SyntheticLlama

TINY = PRESETS["tiny"]


def tiny(attn="eager", seed=1):
    return SyntheticLlama(TINY, "cpu", torch.float32, seed, attn)


class SyntheticModelTest(unittest.TestCase):
    def test_forward_gives_logits_per_position_or_last_only(self):
        model, ids = tiny(), torch.randint(0, TINY.vocab_size, (3, 7))
        with torch.inference_mode():
            self.assertEqual(tuple(model(ids).shape), (3, 7, TINY.vocab_size))
            self.assertEqual(tuple(model(ids, last_only=True).shape), (3, TINY.vocab_size))

    def test_decoding_with_the_kv_cache_matches_a_full_forward(self):
        model, ids = tiny(), torch.randint(0, TINY.vocab_size, (2, 12))
        with torch.inference_mode():
            full = model(ids)
            cache = model.new_cache(2, 12)
            steps = [model(ids[:, :8], cache=cache)[:, -1]]
            for i in range(8, 12):
                steps.append(model(ids[:, i:i + 1], cache=cache)[:, -1])
        torch.testing.assert_close(torch.stack(steps, 1), full[:, 7:], rtol=1e-4, atol=1e-4)

    def test_left_padding_with_a_key_mask_matches_the_unpadded_prompt(self):
        model, ids = tiny(), torch.randint(0, TINY.vocab_size, (2, 9))
        key_mask = torch.ones(2, 9, dtype=torch.bool)
        key_mask[1, :4] = False
        positions = (key_mask.long().cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            padded = model(ids, positions, key_mask=key_mask)
            alone = model(ids[1:, 4:])
        torch.testing.assert_close(padded[1, 4:], alone[0], rtol=1e-4, atol=1e-4)

    @unittest.skipUnless(HAS_SDPA, "torch has no scaled_dot_product_attention")
    def test_sdpa_and_eager_attention_agree(self):
        ids = torch.randint(0, TINY.vocab_size, (2, 6))
        with torch.inference_mode():
            torch.testing.assert_close(tiny("sdpa")(ids), tiny("eager")(ids), rtol=1e-4, atol=1e-4)

    def test_sdpa_request_falls_back_to_eager_where_torch_lacks_it(self):
        self.assertEqual(tiny("sdpa").attn_implementation, "sdpa" if HAS_SDPA else "eager")

    def test_weights_are_seeded(self):
        self.assertTrue(torch.equal(tiny(seed=3).embed, tiny(seed=3).embed))
        self.assertFalse(torch.equal(tiny(seed=3).embed, tiny(seed=4).embed))

    def test_parameter_count_matches_the_preset_formula(self):
        self.assertEqual(tiny().n_params, TINY.n_params)
        small = SyntheticLlama(PRESETS["small"], "cpu", torch.bfloat16, 0)
        self.assertEqual(small.n_params, PRESETS["small"].n_params)
        self.assertTrue(25e6 <= small.n_params <= 40e6)

    def test_large_presets_have_the_published_llama_sizes(self):
        self.assertAlmostEqual(PRESETS["1b"].n_params / 1e9, 1.236, places=2)  # Llama-3.2-1B
        self.assertAlmostEqual(PRESETS["8b"].n_params / 1e9, 8.03, places=2)  # Llama-3.1-8B

    def test_unknown_preset_lists_the_presets(self):
        with self.assertRaises(UnknownPreset) as caught:
            resolve_preset("synthetic:huge")
        for name in PRESETS:
            self.assertIn(f"synthetic:{name}", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
