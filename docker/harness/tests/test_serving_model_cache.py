"""The synthetic model cache of scenario serving: a `synthetic:` model saved once as a Hugging Face folder
that the server loads, shared by runs, never half-written."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import helpers
from lem_harness.errors import ModelUnavailable, UnknownPreset
from lem_harness.serving import model_cache


def fake_save(calls):
    def save(folder, preset, seed, dtype=None, device="cpu"):
        calls.append((folder, preset, seed, dtype, device))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"preset": preset, "seed": seed}, f)
        return folder
    return save


class ModelCacheTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="lem-cache-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.parent = os.path.join(self.root, "models")

    def test_cache_root_is_lems(self):
        self.assertEqual(model_cache.cache_root({"LEM_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}), "/c")
        self.assertEqual(model_cache.cache_root({"XDG_CACHE_HOME": "/x"}), "/x/lem")
        self.assertEqual(model_cache.cache_root({"HOME": "/h"}),
                         os.path.join(os.path.expanduser("~"), ".cache", "lem"))

    def test_saved_once_then_reused(self):
        calls = []
        folder, built = model_cache.synthetic_folder("tiny", 3, root=self.root, save=fake_save(calls))
        self.assertEqual((folder, built), (os.path.join(self.parent, "tiny-3"), True))
        self.assertEqual(len(calls), 1)
        self.assertNotEqual(calls[0][0], folder)  # written elsewhere, then renamed into place
        self.assertTrue(os.path.isfile(os.path.join(folder, model_cache.MARKER)))
        self.assertEqual(os.listdir(self.parent), ["tiny-3"])  # no temporary folder left
        self.assertEqual(model_cache.synthetic_folder("tiny", 3, root=self.root, save=fake_save(calls)),
                         (folder, False))
        self.assertEqual(len(calls), 1)
        model_cache.synthetic_folder("tiny", 4, root=self.root, save=fake_save(calls))  # another seed: another folder
        self.assertEqual(sorted(os.listdir(self.parent)), ["tiny-3", "tiny-4"])
        model_cache.synthetic_folder("1b", 0, root=self.root, save=fake_save(calls), device="cuda")
        self.assertEqual(calls[-1][3:], ("bfloat16", "cuda"))  # large presets in bf16, built where asked
        model_cache.synthetic_folder("small", 0, root=self.root, save=fake_save(calls), device="cuda")
        self.assertEqual(calls[-1][3:], (None, "cpu"))  # small ones on the CPU: seconds, and no CUDA context here

    def test_a_save_that_fails_leaves_nothing_behind(self):
        def broken(folder, *a, **k):
            with open(os.path.join(folder, "config.json"), "w") as f:
                f.write("{half")
            raise OSError(28, "No space left on device")

        with self.assertRaises(OSError):
            model_cache.synthetic_folder("tiny", 0, root=self.root, save=broken)
        self.assertEqual(os.listdir(self.parent), [])
        calls = []
        folder, built = model_cache.synthetic_folder("tiny", 0, root=self.root, save=fake_save(calls))
        self.assertTrue(built)

    def test_a_half_written_folder_of_a_dead_run_is_never_used_and_is_cleared(self):
        os.makedirs(self.parent)
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        dead = os.path.join(self.parent, f".tiny-0.tmp-{int(done.stdout)}-abc")
        live = os.path.join(self.parent, f".tiny-0.tmp-{os.getpid()}-def")  # a run still saving (this one)
        other = os.path.join(self.parent, f".small-0.tmp-{int(done.stdout)}-ghi")
        for path in (dead, live, other):
            os.makedirs(path)
            open(os.path.join(path, "config.json"), "w").close()
        calls = []
        folder, built = model_cache.synthetic_folder("tiny", 0, root=self.root, save=fake_save(calls))
        self.assertTrue(built)
        self.assertFalse(os.path.exists(dead))
        self.assertTrue(os.path.exists(live))
        self.assertTrue(os.path.exists(other))  # another preset's: its own run clears it

    def test_two_runs_saving_at_once_both_get_the_folder(self):
        def racing(folder, preset, seed, dtype=None, device="cpu"):
            # Another run finishes first, while this one is still writing.
            model_cache.synthetic_folder(preset, seed, root=self.root, save=fake_save([]))
            return fake_save([])(folder, preset, seed)

        folder, built = model_cache.synthetic_folder("tiny", 0, root=self.root, save=racing)
        self.assertFalse(built)
        self.assertEqual(os.listdir(self.parent), ["tiny-0"])
        self.assertTrue(os.path.isfile(os.path.join(folder, model_cache.MARKER)))

    def test_resolve_model(self):
        self.assertEqual(model_cache.resolve_model("org/model", 0, root=self.root),
                         ("org/model", {"model_source": "Hugging Face id (the server loads it from its cache or the Hub)"}))
        here = os.getcwd()
        os.chdir(self.root)
        self.addCleanup(os.chdir, here)
        os.makedirs("local")
        self.assertEqual(model_cache.resolve_model("local", 0, root=self.root)[0], os.path.join(self.root, "local"))
        with self.assertRaises(ModelUnavailable):
            model_cache.resolve_model("/nowhere/model", 0, root=self.root)
        with self.assertRaises(ModelUnavailable):
            model_cache.resolve_model("./missing", 0, root=self.root)
        with self.assertRaises(UnknownPreset):
            model_cache.resolve_model("synthetic:huge", 0, root=self.root)
        self.assertFalse(os.path.exists(self.parent))  # nothing written for an unknown preset


@helpers.needs_transformers
class RealSyntheticFolderTest(unittest.TestCase):
    def test_the_folder_loads_with_transformers(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root, True)
        folder, facts = model_cache.resolve_model("synthetic:tiny", 5, root=root)
        self.assertTrue(facts["model_folder_built"])
        self.assertEqual(folder, os.path.join(root, "models", "tiny-5"))
        from transformers import AutoConfig, AutoTokenizer

        self.assertEqual(AutoConfig.from_pretrained(folder).vocab_size, 512)
        self.assertEqual(len(AutoTokenizer.from_pretrained(folder)), 512)
        self.assertEqual(os.stat(folder).st_mode & 0o777, 0o755)
        self.assertFalse(model_cache.resolve_model("synthetic:tiny", 5, root=root)[1]["model_folder_built"])

    def test_the_child_process_saver(self):
        # What 1b and 8b use on a GPU, run here on the CPU with the tiny preset.
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root, True)
        folder, built = model_cache.synthetic_folder("tiny", 1, "cpu", root, save=model_cache.save_in_subprocess)
        self.assertTrue(built)
        self.assertTrue(os.path.isfile(os.path.join(folder, "model.safetensors")))
        with self.assertRaises(ModelUnavailable) as caught:
            model_cache.save_in_subprocess(os.path.join(root, "x"), "nope", 0, device="cpu")
        self.assertIn("invalid choice", caught.exception.message)

if __name__ == "__main__":
    unittest.main()
