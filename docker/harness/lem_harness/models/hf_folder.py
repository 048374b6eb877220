"""A complete Hugging Face model folder with random weights, made without a download: a LlamaForCausalLM
of a synthetic preset's shape and a word-level tokenizer built in code that covers its vocabulary.

It loads like any local model (AutoTokenizer / AutoModelForCausalLM.from_pretrained, `model: <folder>` in
a lem config, `transformers serve`), so tests and bench/gpu-check measure the real transformers path.

    python -m lem_harness.models.hf_folder OUT_DIR [--preset tiny] [--seed 0] [--device cpu] [--dtype float32]
"""

import argparse
import json
import os
import sys
from typing import Optional

from ..errors import BackendUnavailable, DeviceUnavailable, HarnessError, UnknownPreset
from .presets import PRESETS

MISSING_FIX = "run `npx lem setup`, or pip install -r docker/harness/requirements.txt"
UNK, BOS, EOS, PAD = "<unk>", "<s>", "</s>", "<pad>"
ROLES = ("<|system|>", "<|user|>", "<|assistant|>")
# Real words first, so dataset prompts in tests tokenize to something other than <unk>.
WORDS = ("the quick brown fox jumps over a lazy dog hello world is it what how why you i we they this that "
         "and or not of to in on for with as at by from be are was were have has do does can will "
         ". , ! ? : ; ' \" - ( ) 0 1 2 3 4 5 6 7 8 9").split()
# Renders `messages` as "<s><|role|> text </s> ..."; content may be a string or OpenAI-style text parts.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|> "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }} {% endif %}"
    "{% endfor %}{% endif %} {{ eos_token }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def _import_hf():
    try:
        import torch
        import tokenizers
        import transformers
    except ImportError as e:
        raise BackendUnavailable(f"a Hugging Face model folder needs torch, transformers and tokenizers ({e}); "
                                 f"{MISSING_FIX}") from e
    return torch, tokenizers, transformers


def word_vocab(vocab_size: int) -> dict:
    """Exactly vocab_size entries: the specials, the role markers, WORDS, then fillers w0, w1, ..."""
    vocab = {token: i for i, token in enumerate((UNK, BOS, EOS, PAD, *ROLES, *WORDS))}
    if len(vocab) > vocab_size:
        raise ValueError(f"vocab_size {vocab_size} is smaller than the {len(vocab)} named tokens")
    filler = 0
    while len(vocab) < vocab_size:
        vocab[f"w{filler}"] = len(vocab)
        filler += 1
    return vocab


def build_tokenizer(vocab_size: int, model_max_length: int):
    """A PreTrainedTokenizerFast that prepends <s> like Llama's and has a chat template."""
    _, tokenizers, transformers = _import_hf()
    from tokenizers import AddedToken, models, pre_tokenizers, processors

    vocab = word_vocab(vocab_size)
    core = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    # Special, so "<|user|>" is matched whole before pre-tokenizing and skipped when decoding.
    core.add_special_tokens([AddedToken(t, special=True) for t in (UNK, BOS, EOS, PAD, *ROLES)])
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, vocab[BOS])])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token=UNK, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        model_max_length=model_max_length)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _resolve_dtype(torch, dtype, device: str):
    if dtype is None:  # fp32 on a CPU (fast to build, loads in any precision); bf16 on a GPU, as the presets are
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    resolved = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(f"dtype {dtype!r} is not a torch floating-point dtype; use float32, bfloat16 or float16")
    return resolved


def save_random_llama(folder: str, preset: str = "tiny", seed: int = 0, dtype=None, device: str = "cpu") -> str:
    """Saves tokenizer and random-weight model of `preset` into `folder` and returns the folder. dtype: a
    torch.dtype or its name. device "cuda" builds the weights on the GPU: a 1b preset takes minutes on a CPU."""
    torch, _, transformers = _import_hf()
    if preset not in PRESETS:
        raise UnknownPreset(f"unknown preset {preset!r}; presets are: {', '.join(PRESETS)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {device} requested but torch {torch.__version__} sees no CUDA device; "
                                "use --device cpu (slow for the 1b and 8b presets) or run on a GPU host")
    dtype = _resolve_dtype(torch, dtype, device)
    shape = PRESETS[preset].hf_config()
    shape.pop("architectures")
    shape.pop("torch_dtype")
    tokenizer = build_tokenizer(shape["vocab_size"], shape["max_position_embeddings"])
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in
           (("bos_token_id", BOS), ("eos_token_id", EOS), ("pad_token_id", PAD))}
    config = transformers.LlamaConfig(**{**shape, **ids})

    torch.manual_seed(seed)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # initialise in the target dtype: an fp32 copy of 8b would need 32 GB
    try:
        with torch.device(device):
            model = transformers.LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default_dtype)
    # Greedy by default: a random-weight model is for measuring, and greedy output is reproducible.
    model.generation_config = transformers.GenerationConfig(**ids, do_sample=False)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    _readable_weights(folder)
    _save_tokenizer(tokenizer, folder)
    return folder


def _readable_weights(folder: str) -> None:
    """safetensors 0.8 writes its files 0600, which a container running as another user cannot read; give them
    the mode config.json got from the umask."""
    mode = os.stat(os.path.join(folder, "config.json")).st_mode & 0o777
    for name in os.listdir(folder):
        if name.endswith(".safetensors"):
            os.chmod(os.path.join(folder, name), mode)


def _save_tokenizer(tokenizer, folder: str) -> None:
    """Saved so that transformers 4 reads it as well as 5 (vLLM may bring either): the chat template inside
    tokenizer_config.json rather than chat_template.jinja, the class under its v4 name, special_tokens_map.json."""
    tokenizer.save_pretrained(folder, save_jinja_files=False)
    config_path = os.path.join(folder, "tokenizer_config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"  # transformers 5 writes TokenizersBackend, unknown to 4
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:  # transformers 5 no longer writes it
        json.dump(tokenizer.special_tokens_map, f, indent=2)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lem_harness.models.hf_folder",
                                     description="Save a random-weight Llama model folder (no download).")
    parser.add_argument("out_dir", help="folder to write (created if missing)")
    parser.add_argument("--preset", choices=list(PRESETS), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda initialises large presets fast)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                        help="weights dtype (default float32 on cpu, bfloat16 on cuda)")
    args = parser.parse_args(argv)
    try:
        print(save_random_llama(args.out_dir, args.preset, args.seed, args.dtype, args.device))
    except HarnessError as e:
        print(f"hf_folder: {e.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
