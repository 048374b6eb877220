import unittest

import torch

import helpers  # noqa: F401
from lem_harness.backends.sampling import TokenSampler


def decoder(**overrides):
    base = {"temperature": 1.0, "do_sample": True, "top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0, "ignore_eos": True}
    return {**base, **overrides}


LOGITS = torch.tensor([[0.1, 3.0, 2.9, -1.0], [5.0, 0.0, 0.0, 0.0]])


class SamplingTest(unittest.TestCase):
    def test_temperature_zero_or_do_sample_false_is_greedy(self):
        for d in (decoder(temperature=0), decoder(do_sample=False)):
            sampler = TokenSampler(d, 4, "cpu", 0)
            self.assertEqual(sampler.mode, "greedy")
            self.assertEqual(sampler(LOGITS).tolist(), [1, 0])

    def test_top_k_one_and_tiny_top_p_always_pick_the_best_token(self):
        for d in (decoder(top_k=1), decoder(top_p=0.01)):
            sampler = TokenSampler(d, 4, "cpu", 0)
            for _ in range(20):
                self.assertEqual(sampler(LOGITS).tolist(), [1, 0])

    def test_top_k_two_never_samples_outside_the_two_best(self):
        sampler = TokenSampler(decoder(top_k=2, temperature=5.0), 4, "cpu", 0)
        picks = {sampler(LOGITS)[0].item() for _ in range(200)}
        self.assertEqual(picks, {1, 2})

    def test_sampling_is_seeded(self):
        draws = []
        for _ in range(2):
            sampler = TokenSampler(decoder(temperature=10.0), 4, "cpu", 123)
            draws.append([sampler(LOGITS).tolist() for _ in range(10)])
        self.assertEqual(draws[0], draws[1])

    def test_repetition_penalty_demotes_tokens_already_seen(self):
        sampler = TokenSampler(decoder(temperature=0, repetition_penalty=2.0), 4, "cpu", 0)
        sampler.start(torch.tensor([[1], [0]]), None)
        self.assertEqual(sampler(LOGITS).tolist(), [2, 0])  # 3.0/2 < 2.9; 5.0/2 still > 0


if __name__ == "__main__":
    unittest.main()
