import os
import tempfile
import unittest

import helpers  # noqa: F401
from lem_harness.environment import collect_environment, cpu_model, hardware_fingerprint


class EnvironmentTest(unittest.TestCase):
    def test_cpu_model_is_the_first_model_name_with_whitespace_collapsed(self):
        with tempfile.NamedTemporaryFile("w", suffix="cpuinfo", delete=False) as f:
            f.write("processor\t: 0\nmodel name\t:  AMD   EPYC\t7B13 64-Core  \nprocessor\t: 1\nmodel name\t: other\n")
        self.addCleanup(os.unlink, f.name)
        self.assertEqual(cpu_model(f.name), "AMD EPYC 7B13 64-Core")

    def test_fingerprints(self):
        self.assertEqual(hardware_fingerprint("cuda", "NVIDIA H100 80GB HBM3", 2), "gpu:NVIDIA H100 80GB HBM3 x2")
        self.assertEqual(hardware_fingerprint("cpu", None, 0), f"cpu:{cpu_model()}")

    def test_environment_has_the_required_fields(self):
        env = collect_environment()
        for key in ("python", "torch", "platform", "cpu", "in_container", "gpus", "container_id"):
            self.assertIn(key, env)
        self.assertIsNone(env["container_id"])
        self.assertIsInstance(env["in_container"], bool)


if __name__ == "__main__":
    unittest.main()
