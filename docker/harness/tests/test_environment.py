import os
import tempfile
import unittest

import helpers  # noqa: F401
from lem_harness.energy.devices import mig_profile_of
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

    def test_a_mig_slice_is_fingerprinted_as_the_slice_whichever_name_it_starts_from(self):
        slice_fp = "gpu:NVIDIA A100-SXM4-40GB MIG 1g.10gb x1"
        self.assertEqual(hardware_fingerprint("cuda", "NVIDIA A100-SXM4-40GB", 1, mig_profile="1g.10gb"), slice_fp)
        self.assertEqual(hardware_fingerprint("cuda", "NVIDIA A100-SXM4-40GB MIG 1g.10gb", 1), slice_fp)
        self.assertEqual(hardware_fingerprint("cuda", "NVIDIA  A100-SXM4-40GB MIG 3g.20gb", 1, mig_profile="1g.10gb"), slice_fp)
        self.assertEqual(mig_profile_of("NVIDIA H100 80GB HBM3 MIG 1g.10gb+me"), "1g.10gb+me")
        self.assertEqual(mig_profile_of("  MIG 1c.2g.20gb     Device  0:"), "1c.2g.20gb")
        self.assertIsNone(mig_profile_of("NVIDIA H100 80GB HBM3"))

    def test_environment_has_the_required_fields(self):
        env = collect_environment()
        for key in ("python", "torch", "platform", "cpu", "in_container", "gpus", "container_id"):
            self.assertIn(key, env)
        self.assertIsNone(env["container_id"])
        self.assertIsInstance(env["in_container"], bool)


if __name__ == "__main__":
    unittest.main()
