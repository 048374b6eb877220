"""NVML device identity through a fake libnvidia-ml at the ctypes boundary (tests/fake_nvml.py): which
card a CUDA device, UUID or MIG slice names, and what is metered for it."""

import unittest

from fake_nvml import Gpu, Mig
from nvml_helpers import A10, A100, A100_NAME, H100, MIG_1, MIG_2, measure, meter_for


class DeviceIdentityTest(unittest.TestCase):
    def test_an_integer_visible_device_in_pci_bus_order_meters_that_gpu_and_the_result_names_its_uuid(self):
        _, meter, reason = meter_for(self, [Gpu(H100), Gpu(A10, name="NVIDIA A10")], visible="1")
        self.assertEqual(reason, "")
        self.assertEqual(meter.devices(), [{"index": 0, "name": "NVIDIA A10", "uuid": A10}])
        self.assertNotIn("device_order_unverified", meter.flags)
        _, _, energy, _ = measure(self, meter, seconds=0.2)
        self.assertEqual([d["uuid"] for d in energy["devices"]], [A10])

    def test_an_index_without_pci_bus_order_on_a_mixed_host_is_flagged(self):
        _, meter, _ = meter_for(self, [Gpu(H100), Gpu(A10, name="NVIDIA A10")], visible="0", order="")
        self.assertIn("device_order_unverified", meter.flags)
        self.assertTrue(any("CUDA_DEVICE_ORDER=PCI_BUS_ID" in n for n in meter.notes))

    def test_an_index_on_a_host_of_one_gpu_model_needs_no_flag(self):
        _, meter, _ = meter_for(self, [Gpu(H100), Gpu(A10)], visible="1", order="")
        self.assertNotIn("device_order_unverified", meter.flags)

    def test_a_shortened_uuid_resolves_as_cuda_accepts_it(self):
        _, meter, reason = meter_for(self, [Gpu(H100), Gpu(A10, name="NVIDIA A10")], visible="GPU-bbbb")
        self.assertEqual(reason, "")
        self.assertEqual(meter.uuids, [A10])

    def test_an_ambiguous_uuid_prefix_refuses_energy_naming_the_candidates(self):
        _, meter, reason = meter_for(self, [Gpu(H100), Gpu(A10)], visible="GPU-")
        self.assertIsNone(meter)
        self.assertIn("ambiguous", reason)
        self.assertIn(H100, reason)
        self.assertIn(A10, reason)

    def test_the_framework_uuid_wins_over_cuda_visible_devices(self):
        _, meter, _ = meter_for(self, [Gpu(H100), Gpu(A10, name="NVIDIA A10")], uuids=[A10], visible="0")
        self.assertEqual(meter.uuids, [A10])

    def test_an_unknown_uuid_refuses_energy_instead_of_metering_another_card(self):
        _, meter, reason = meter_for(self, [Gpu(H100)], uuids=["GPU-ffff0000-0000-0000-0000-000000000000"])
        self.assertIsNone(meter)
        self.assertIn("no GPU or MIG instance", reason)


class MigTest(unittest.TestCase):
    def mig_gpu(self):
        return Gpu(H100, mig_mode=True, migs=[Mig(MIG_1), Mig(MIG_2)])

    def test_a_mig_instance_is_metered_as_its_whole_gpu_and_flagged(self):
        _, meter, reason = meter_for(self, [self.mig_gpu()], visible=MIG_1)
        self.assertEqual(reason, "")
        self.assertIn("mig_whole_gpu_energy", meter.flags)
        self.assertEqual(meter.devices(), [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "uuid": H100, "mig_uuids": [MIG_1],
                                            "mig_profile": "1g.10gb"}])
        session, _, energy, _ = measure(self, meter, seconds=0.2)
        self.assertIn("mig_whole_gpu_energy", session.flags)
        self.assertTrue(any("whole GPU" in n for n in energy["notes"]))

    def test_torchs_gpu_prefixed_uuid_of_a_mig_instance_resolves_to_the_instance(self):
        _, meter, _ = meter_for(self, [self.mig_gpu()], uuids=["GPU-" + MIG_1[4:]])
        self.assertIn("mig_whole_gpu_energy", meter.flags)
        self.assertEqual(meter.devices()[0]["mig_uuids"], [MIG_1])

    def test_two_instances_of_one_gpu_read_its_counter_once(self):
        _, meter, _ = meter_for(self, [self.mig_gpu()], cuda_devices=(0, 1), visible=f"{MIG_1},{MIG_2}")
        self.assertEqual(meter.uuids, [H100])
        self.assertEqual(meter.devices()[0]["mig_uuids"], [MIG_1, MIG_2])

    def test_a_mig_enabled_gpu_named_by_index_is_flagged(self):
        _, meter, _ = meter_for(self, [self.mig_gpu()], visible="0")
        self.assertIn("mig_whole_gpu_energy", meter.flags)


    def test_the_slice_used_is_named_by_its_profile(self):
        gpu = Gpu(A100, name=A100_NAME, mig_mode=True,
                  migs=[Mig(MIG_1, f"{A100_NAME} MIG 1g.10gb"), Mig(MIG_2, f"{A100_NAME} MIG 3g.20gb")])
        _, meter, _ = meter_for(self, [gpu], visible=MIG_2)
        self.assertEqual((meter.mig, meter.mig_profile), (True, "3g.20gb"))
        self.assertEqual(meter.devices()[0]["mig_profile"], "3g.20gb")

    def test_a_gpu_without_mig_has_no_profile(self):
        _, meter, _ = meter_for(self, [Gpu(H100)])
        self.assertEqual((meter.mig, meter.mig_profile), (False, None))
        self.assertNotIn("mig_profile", meter.devices()[0])


if __name__ == "__main__":
    unittest.main()
