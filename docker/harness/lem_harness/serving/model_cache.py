"""The model a serving run's server loads: a local Hugging Face folder or a Hub id as given, or, for
synthetic:<preset>, a random-weight Llama folder (models/hf_folder.save_random_llama) saved once per
preset and seed under lem's cache and reused by every later run.

    <cache>/models/<preset>-<seed>     cache: LEM_CACHE_DIR, else $XDG_CACHE_HOME/lem, else ~/.cache/lem
                                       (where lem keeps its venv: src/paths.ts)

The folder is written into a temporary sibling (.<preset>-<seed>.tmp-<pid>-<random>) and renamed into
place, so a half-written folder is never found: a run that dies while saving leaves only its temporary
folder (removed by the next run once its process is gone), and two runs saving at once both succeed,
the second using the first's folder.
"""

import json
import os
import re
import shutil
import tempfile
from typing import Callable, Mapping, Optional, Tuple

from ..errors import HarnessError, ModelUnavailable
from ..models.presets import is_synthetic, resolve_preset
from ..processes import alive

MARKER = "lem-synthetic.json"  # what was saved, beside the weights
# Presets whose fp32 weights would be gigabytes: saved in bf16 (the server's --dtype converts at load).
LARGE_PRESETS = ("1b", "8b")
_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-")


def cache_root(environ: Optional[Mapping[str, str]] = None) -> str:
    """lem's cache folder, as src/paths.ts finds it."""
    env = os.environ if environ is None else environ
    if env.get("LEM_CACHE_DIR"):
        return env["LEM_CACHE_DIR"]
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lem")


def _remove_abandoned(parent: str, name: str) -> None:
    """Temporary folders of `name` left by runs that died while saving (their process is gone)."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        match = _TMP.match(entry)
        if match and match.group("name") == name and not alive(int(match.group("pid"))):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def save_in_subprocess(folder: str, preset: str, seed: int, dtype=None, device: str = "cuda") -> str:
    """save_random_llama in a child Python (`python -m lem_harness.models.hf_folder`): weights built on a
    GPU leave no CUDA context behind in the harness, whose GPU the server is about to take."""
    import subprocess
    import sys

    harness = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (harness, os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-m", "lem_harness.models.hf_folder", folder, "--preset", preset, "--seed", str(seed),
           "--device", device] + (["--dtype", dtype] if dtype else [])
    done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ModelUnavailable(f"saving the synthetic:{preset} folder failed (exit {done.returncode}):\n{tail}")
    return folder


def synthetic_folder(preset: str, seed: int, device: str = "cpu", root: Optional[str] = None,
                     save: Optional[Callable[..., str]] = None) -> Tuple[str, bool]:
    """(folder, built now) for synthetic:<preset> with weights seeded by `seed`. device: where to build
    the weights when they must be made (cuda makes the 1b and 8b presets in seconds, not minutes).
    save: save_random_llama or a stand-in (tests). tiny and small are always built on the CPU (in seconds);
    on a GPU, 1b and 8b are built in a child process."""
    if preset not in LARGE_PRESETS:
        device = "cpu"
    if save is None:
        if device.startswith("cuda"):
            save = save_in_subprocess
        else:
            from ..models.hf_folder import save_random_llama as save
    parent = os.path.join(root or cache_root(), "models")
    name = f"{preset}-{seed}"
    folder = os.path.join(parent, name)
    if os.path.isfile(os.path.join(folder, MARKER)):
        return folder, False
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise ModelUnavailable(f"cannot create the model cache {parent} ({e.strerror or e}); "
                               "set LEM_CACHE_DIR to a writable folder") from e
    _remove_abandoned(parent, name)
    tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=parent)
    try:
        dtype = "bfloat16" if preset in LARGE_PRESETS else None
        save(tmp, preset, seed, dtype=dtype, device=device)
        with open(os.path.join(tmp, MARKER), "w") as f:
            json.dump({"preset": preset, "seed": seed, "dtype": dtype or "default (float32 on a CPU)",
                       "built_on": device, "by": "lem_harness.models.hf_folder.save_random_llama"}, f)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700: a container running as another user could not read it
        try:
            os.rename(tmp, folder)
        except OSError:
            if not os.path.isfile(os.path.join(folder, MARKER)):  # not another run's finished folder
                if os.path.isdir(folder):  # a folder without the marker is no cache entry of ours: replace it
                    shutil.rmtree(folder, ignore_errors=True)
                    os.rename(tmp, folder)
                    return folder, True
                raise
            return folder, False
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder, True


def resolve_model(model: str, seed: int, device: str = "cpu", root: Optional[str] = None) -> Tuple[str, dict]:
    """(what the server loads, facts for effective_config). synthetic:<preset>: the cached folder for
    seed (random_seed). A local folder becomes an absolute path; anything else is a Hugging Face id,
    passed as is."""
    if is_synthetic(model):
        preset = resolve_preset(model)  # UnknownPreset before anything is written
        try:
            folder, built = synthetic_folder(preset.name, seed, device, root)
        except HarnessError:
            raise
        except Exception as e:  # saving failed (disk full, ...): a clear payload rather than a traceback
            raise ModelUnavailable(f"cannot save the {model} model folder under {root or cache_root()}: {e}") from e
        return folder, {"model_folder": folder, "model_folder_built": built,
                        "model_source": f"random weights, {preset.name} preset (Llama-style decoder) saved as a "
                                        f"Hugging Face folder, seed {seed}"}
    if os.path.isdir(model):
        return os.path.abspath(model), {"model_source": "local Hugging Face folder"}
    if os.path.isabs(model) or model.startswith((".", "~")):
        raise ModelUnavailable(f"model folder {model} does not exist")
    return model, {"model_source": "Hugging Face id (the server loads it from its cache or the Hub)"}
