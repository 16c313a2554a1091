"""The bundled demo model's files: Qwen3 shape, Qwen3 special tokens, Qwen3 chat template.

Runs in the front end's environment (json, struct and jinja2 only; no torch).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import jinja2
import pytest

MODEL_DIR = Path(__file__).resolve().parents[2] / "demo_model"
EMPTY_THINK = "<think>\n\n</think>\n\n"


def load(name: str) -> dict:
    return json.loads((MODEL_DIR / name).read_text(encoding="utf-8"))


def render(messages: list[dict], **kwargs) -> str:
    template = (MODEL_DIR / "chat_template.jinja").read_text(encoding="utf-8")
    return jinja2.Environment().from_string(template).render(messages=messages, **kwargs)


def safetensors_header() -> dict:
    with (MODEL_DIR / "model.safetensors").open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def test_config_is_a_small_qwen3_that_vllm_cpu_accepts():
    config = load("config.json")
    assert config["architectures"] == ["Qwen3ForCausalLM"]
    assert config["model_type"] == "qwen3"
    assert config["head_dim"] >= 64  # vLLM's CPU attention rejects smaller heads
    assert config["max_position_embeddings"] >= 4096
    assert (MODEL_DIR / "model.safetensors").stat().st_size < 15 * 2**20


def test_weights_match_the_config():
    config, header = load("config.json"), safetensors_header()
    embed = header["model.embed_tokens.weight"]["shape"]
    assert embed == [config["vocab_size"], config["hidden_size"]]
    layers = {k.split(".")[2] for k in header if k.startswith("model.layers.")}
    assert len(layers) == config["num_hidden_layers"]
    q_proj = header["model.layers.0.self_attn.q_proj.weight"]["shape"]
    assert q_proj == [config["num_attention_heads"] * config["head_dim"], config["hidden_size"]]


@pytest.mark.parametrize(
    ("content", "special"),
    [
        ("<|endoftext|>", True),
        ("<|im_start|>", True),
        ("<|im_end|>", True),
        ("<think>", False),  # like Qwen3: kept when special tokens are skipped
        ("</think>", False),
    ],
)
def test_qwen3_added_tokens(content, special):
    added = {t["content"]: t for t in load("tokenizer.json")["added_tokens"]}
    assert added[content]["special"] is special
    assert load("tokenizer.json")["model"]["vocab"][content] == added[content]["id"]
    decoder = load("tokenizer_config.json")["added_tokens_decoder"][str(added[content]["id"])]
    assert decoder["content"] == content and decoder["special"] is special


def test_eos_and_pad_ids_agree_across_files():
    vocab = load("tokenizer.json")["model"]["vocab"]
    tokenizer_config, generation = load("tokenizer_config.json"), load("generation_config.json")
    assert tokenizer_config["eos_token"] == "<|im_end|>"
    assert tokenizer_config["pad_token"] == "<|endoftext|>"
    assert load("config.json")["eos_token_id"] == vocab["<|im_end|>"]
    assert vocab["<|im_end|>"] in generation["eos_token_id"]


def test_byte_level_bpe_with_single_digits_covers_every_byte():
    spec = load("tokenizer.json")
    assert spec["model"]["type"] == "BPE"
    steps = spec["pre_tokenizer"]["pretokenizers"]
    assert [s["type"] for s in steps] == ["Digits", "ByteLevel"]
    assert steps[0]["individual_digits"] is True
    vocab = spec["model"]["vocab"]
    assert 256 < len(vocab) <= 1024
    # The byte-level alphabet: every byte maps to one printable character in the vocab.
    byte_chars = [chr(c) for c in range(ord("!"), ord("~") + 1)] + ["Ġ", "Ċ", "ĉ", "Ā"]
    assert all(ch in vocab for ch in byte_chars)
    assert sum(len(k) == 1 for k in vocab) >= 256


def test_template_file_and_tokenizer_config_agree():
    template = (MODEL_DIR / "chat_template.jinja").read_text(encoding="utf-8")
    assert load("tokenizer_config.json")["chat_template"] == template


@pytest.mark.parametrize(
    ("kwargs", "ending"),
    [
        ({"enable_thinking": False}, "<|im_start|>assistant\n" + EMPTY_THINK),
        ({"enable_thinking": True}, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
        ({}, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
    ],
)
def test_generation_prompt_follows_qwen3(kwargs, ending):
    text = render([{"role": "user", "content": "hi"}], add_generation_prompt=True, **kwargs)
    assert text.endswith(ending)
    assert text.startswith("<|im_start|>user\nhi<|im_end|>\n")


def test_system_first_and_earlier_reasoning_dropped():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+3=?"},
        {"role": "assistant", "content": "<think>\nOnes: 2 + 3 = 5.\n</think>\n\n2 + 3 = 5."},
        {"role": "user", "content": "thanks"},
    ]
    text = render(messages, add_generation_prompt=True, enable_thinking=False)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n2+3=?<|im_end|>\n"
        "<|im_start|>assistant\n2 + 3 = 5.<|im_end|>\n"
        "<|im_start|>user\nthanks<|im_end|>\n"
        "<|im_start|>assistant\n" + EMPTY_THINK
    )


def test_no_generation_prompt_ends_after_last_turn():
    text = render([{"role": "user", "content": "hi"}], add_generation_prompt=False)
    assert text == "<|im_start|>user\nhi<|im_end|>\n"
