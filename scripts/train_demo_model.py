"""Build the bundled demo model in ``demo_model/`` from nothing, offline.

The demo model is a tiny Qwen3-architecture network (not Qwen3-4B) that does small
arithmetic with its working shown in ``<think>``, greets, says what it is, and politely
declines anything else. Everything is seeded: the conversations, the tokenizer, the
weights. Run it in the engine environment::

    .venv-engine/bin/python scripts/train_demo_model.py [--minutes 11] [--out demo_model]

Held-out problems (see ``is_held_out``) never appear in training; ``eval_demo_model.py``
measures accuracy on them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parent.parent
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]
BUDGET_NOTICE = (
    "Considering the limited time by the user, I have to give the solution based on "
    "the thinking directly now.\n</think>\n\n"
)
CHAT_TEMPLATE = """\
{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- set content = message.content if message.content is string else '' %}
    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}
    {%- elif message.role == 'assistant' %}
        {#- Earlier turns lose their reasoning, as in Qwen3's own template. #}
        {%- if '</think>' in content %}
            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""
_TEMPLATE = jinja2.Environment().from_string(CHAT_TEMPLATE)

OPS = {"add": "+", "sub": "-", "mul": "*"}
PHRASES = {
    "add": ["What is {a} + {b}?", "{a}+{b}=?", "{a} + {b} = ?", "compute {a} + {b}",
            "Compute {a} plus {b}.", "how much is {a} + {b}?", "What's {a} plus {b}?",
            "add {a} and {b}", "Calculate {a} + {b}", "{a} + {b}", "what is {a}+{b}"],
    "sub": ["What is {a} - {b}?", "{a}-{b}=?", "{a} - {b} = ?", "compute {a} - {b}",
            "Compute {a} minus {b}.", "how much is {a} - {b}?", "What's {a} minus {b}?",
            "subtract {b} from {a}", "Calculate {a} - {b}", "{a} - {b}", "what is {a}-{b}"],
    "mul": ["What is {a} * {b}?", "{a}*{b}=?", "{a} x {b} = ?", "compute {a} * {b}",
            "Compute {a} times {b}.", "how much is {a} * {b}?", "What's {a} times {b}?",
            "multiply {a} by {b}", "Calculate {a} × {b}", "{a} * {b}", "what is {a}x{b}"],
}  # fmt: skip
PLACES = ["Ones", "Tens", "Hundreds"]
CHAT = {
    "greet": (
        ["hi", "hello", "Hi!", "Hello there", "hey", "Hey there!", "good morning", "hello!",
         "Hi, how are you?", "yo", "Good evening"],
        "The user is greeting me. I will greet them back and say what I can do.",
        "Hello! I'm a tiny demo model. Ask me a small sum, like 37 + 48.",
    ),
    "help": (
        ["what can you do?", "What can you do", "help", "What are you able to do?",
         "what can I ask you?", "What are you good at?", "how can you help me?"],
        "The user asks what I can do. I will list my small skills.",
        "I can do small arithmetic: add and subtract numbers up to 999, and multiply a "
        "two-digit number by a one-digit number. With thinking on, I show my working.",
    ),
    "who": (
        ["who are you?", "Who are you", "what are you?", "what is your name?", "are you Qwen?",
         "Are you a real Qwen3 model?", "introduce yourself"],
        "The user asks who I am. I am the small demo model, not a real Qwen3.",
        "I'm a tiny demo model bundled with Qwen3 Hybrid Chat. I'm not Qwen3; I was trained "
        "only to do small arithmetic.",
    ),
    "thanks": (
        ["thanks", "thank you!", "Thanks a lot", "thx", "great, thanks", "Thank you.", "ty"],
        "The user thanks me. I will reply politely.",
        "You're welcome!",
    ),
}  # fmt: skip
FALLBACK_REASONING = (
    "The user asks for something outside small arithmetic. I cannot do that, so I will say "
    "what I can do."
)
FALLBACK_ANSWER = (
    "I'm a tiny demo model; I can do small arithmetic like 37 + 48, 305 - 19 or 12 * 7, "
    "but not much else."
)
FALLBACK_FORMS = ["tell me about {w}", "write a poem about {w}", "what is the capital of {w}?",
                  "Explain {w} to me.", "why is the {w} so {v}?", "can you translate {w}?",
                  "{w} {v} {w2}", "Tell me a joke about {w}.", "how do I cook {w}?",
                  "summarize this: {w} is {v}.", "{w}?", "What do you think of {w}?"]  # fmt: skip
WORDS = ["France", "the sky", "pizza", "Python", "quantum physics", "music", "cats", "Rome",
         "the ocean", "history", "love", "football", "Mars", "coffee", "trees", "🙂 emoji 🚀",
         "مرحبا بالعالم", "こんにちは", "Ünïcödé", "the weather", "a dragon", "SQL",
         "tabs\tand"]  # fmt: skip
ADJECTIVES = ["blue", "big", "strange", "fast", "green", "old", "quiet", "important"]
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are a concise math tutor.",
                  "Answer briefly.", "You are Qwen, created by Alibaba Cloud.",
                  "Be friendly and show your steps.", "Reply in plain text."]  # fmt: skip


def render(messages: list[dict], enable_thinking: bool | None) -> str:
    """Render a prompt with the shipped chat template (generation prompt included)."""
    extra = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    return _TEMPLATE.render(messages=messages, add_generation_prompt=True, **extra)


def is_held_out(op: str, a: int, b: int) -> bool:
    """One problem in eight is reserved for evaluation, chosen by a fixed hash."""
    return (a * 7919 + b * 104729 + len(op) * 31 + ord(op[0])) % 8 == 0


def draw_problem(rng: random.Random) -> tuple[str, int, int]:
    op = rng.choice(list(OPS))
    if op == "mul":
        return op, rng.randint(10, 99), rng.randint(2, 9)
    a = rng.randint(10, 999) if rng.random() < 0.7 else rng.randint(10, 99)
    if op == "sub":
        return op, a, rng.randint(1 if a < 100 else 10, a)
    return op, a, rng.randint(10, 999) if rng.random() < 0.6 else rng.randint(10, 99)


def solve(op: str, a: int, b: int) -> int:
    return a + b if op == "add" else a - b if op == "sub" else a * b


def reasoning_lines(op: str, a: int, b: int) -> list[str]:
    """Column-by-column working, ones first, with explicit carries and borrows."""
    sym = OPS[op]
    lines = [f"I need {a} {sym} {b}. I work column by column, ones first."]
    if op == "mul":
        carry, digits = 0, str(a)[::-1]
        for i, d in enumerate(digits):
            value = int(d) * b + carry
            last = i == len(digits) - 1
            extra = f" + {carry}" if carry else ""
            write = f"Write {value}." if last else f"Write {value % 10}, carry {value // 10}."
            lines.append(f"{PLACES[i]}: {d} * {b}{extra} = {value}. {write}")
            carry = value // 10
    else:
        width = len(str(max(a, b)))
        da, db = str(a).zfill(width)[::-1], str(b).zfill(width)[::-1]
        carry = 0
        for i in range(width):
            x, y = int(da[i]), int(db[i])
            if op == "add":
                value = x + y + carry
                extra = f" + {carry}" if carry else ""
                step = f"{x} + {y}{extra} = {value}. Write {value % 10}"
                carry = value // 10
                if carry:
                    step += f", carry {carry}"
            else:
                x_now = x - carry
                borrow = 1 if x_now < y else 0
                step = f"{x} - {carry} = {x_now}. " if carry else ""
                if borrow:
                    step += f"{x_now} < {y}, borrow: {x_now + 10} - {y} = {x_now + 10 - y}."
                else:
                    step += f"{x_now} - {y} = {x_now - y}."
                step += f" Write {x_now + 10 * borrow - y}"
                carry = borrow
            lines.append(f"{PLACES[i]}: {step}.")
        if op == "add" and carry:
            lines.append(f"The last carry {carry} goes in front.")
    lines.append(f"So {a} {sym} {b} = {solve(op, a, b)}.")
    return lines


def answer_text(op: str, a: int, b: int) -> str:
    return f"{a} {OPS[op]} {b} = {solve(op, a, b)}."


def question_text(rng: random.Random, op: str, a: int, b: int) -> str:
    text = rng.choice(PHRASES[op]).format(a=a, b=b)
    return text + " please" if rng.random() < 0.05 else text


COUNT_PHRASES = ["Count from 1 to {n}.", "count to {n}", "Please count from 1 to {n}",
                 "List the numbers from 1 to {n}.", "count from one to {n}"]  # fmt: skip
COUNT_SHARE = 0.05  # long answers (up to ~900 tokens): a stream long enough to stop


def count_turn(rng: random.Random) -> tuple[str, str, str]:
    n = rng.randint(10, 250)
    return (
        rng.choice(COUNT_PHRASES).format(n=n),
        f"The user wants the numbers from 1 to {n}. I will write them all, in order.",
        ", ".join(str(i) for i in range(1, n + 1)) + ".",
    )


def draw_turn(
    rng: random.Random, arithmetic_share: float = 0.8, count_share: float = 0.0
) -> tuple[str, str, str]:
    """One (question, reasoning, answer) triple: arithmetic, counting, small talk, fallback."""
    if rng.random() < count_share:
        return count_turn(rng)
    if rng.random() < arithmetic_share:
        op, a, b = draw_problem(rng)
        while is_held_out(op, a, b):
            op, a, b = draw_problem(rng)
        return (
            question_text(rng, op, a, b),
            "\n".join(reasoning_lines(op, a, b)),
            answer_text(op, a, b),
        )
    kind = rng.choice(list(CHAT) + ["fallback"] * 2)
    if kind == "fallback":
        form = rng.choice(FALLBACK_FORMS)
        question = form.format(w=rng.choice(WORDS), w2=rng.choice(WORDS), v=rng.choice(ADJECTIVES))
        return question, FALLBACK_REASONING, FALLBACK_ANSWER
    questions, reasoning, answer = CHAT[kind]
    return rng.choice(questions), reasoning, answer


def draw_sample(rng: random.Random) -> tuple[str, str, str]:
    """A training conversation as (prompt_text, masked_prefix, target).

    ``prompt_text + masked_prefix`` is context; loss is taken on ``target`` only.
    """
    messages = [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}] * (rng.random() < 0.3)
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        question, reasoning, answer = draw_turn(rng, 0.6)
        kept = f"<think>\n{reasoning}\n</think>\n\n{answer}" if rng.random() < 0.5 else answer
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": kept}]
    question, reasoning, answer = draw_turn(rng, count_share=COUNT_SHARE)
    messages.append({"role": "user", "content": question})
    mode = rng.random()
    if mode < 0.45:
        return render(messages, False), "", answer + "<|im_end|>"
    prompt = render(messages, True if mode < 0.7 else None)
    lines = reasoning.split("\n")
    if mode > 0.92 and len(lines) > 2:
        cut = "\n".join(lines[: rng.randint(1, len(lines) - 1)])
        cut = cut[: rng.randint(len(cut) // 2, len(cut))]
        partial = f"<think>\n{cut}{rng.choice(['', chr(10), chr(10) * 2])}{BUDGET_NOTICE}"
        return prompt, partial, answer + "<|im_end|>"
    return prompt, "", f"<think>\n{reasoning}\n</think>\n\n{answer}<|im_end|>"


def build_tokenizer(vocab_size: int, seed: int):
    """Byte-level BPE with single-digit tokens and Qwen3's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + THINK_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    rng = random.Random(seed)
    corpus = ["".join(draw_sample(rng)) for _ in range(6000)]
    tok.train_from_iterator(corpus, trainer=trainer)
    spec = json.loads(tok.to_str())
    for added in spec["added_tokens"]:
        # Like Qwen3: <think> and </think> are added but not special, so they survive
        # skip_special_tokens and the reasoning parser finds them in the vocabulary.
        added["special"] = added["content"] in SPECIAL_TOKENS
    return Tokenizer.from_str(json.dumps(spec))


def write_tokenizer_files(tok, out: Path) -> dict[str, int]:
    tok.save(str(out / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS + THINK_TOKENS}
    decoder = {
        str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                 "single_word": False, "special": t in SPECIAL_TOKENS}
        for t, i in ids.items()
    }  # fmt: skip
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": decoder,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "clean_up_tokenization_spaces": False,
        "model_max_length": 4096,
        "split_special_tokens": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return ids


def make_model(vocab_size: int, ids: dict[str, int], args):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 3,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64,
        num_key_value_heads=args.hidden // 64,
        head_dim=64,
        max_position_embeddings=4096,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    return Qwen3ForCausalLM(config)


def encode_batch(tok, samples, max_len: int):
    import torch

    rows = []
    for prompt, prefix, target in samples:
        context = tok.encode(prompt).ids + (tok.encode(prefix).ids if prefix else [])
        answer = tok.encode(target).ids
        rows.append((context + answer)[:max_len])
        rows[-1] = (rows[-1], min(len(context), max_len))
    width = max(len(r) for r, _ in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, (row, n_context) in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, n_context : len(row)] = torch.tensor(row[n_context:])
        mask[i, : len(row)] = 1
    return ids, labels, mask


def batches(tok, args, rng: random.Random):
    """Endless batches; each pool of samples is sorted by length to waste little padding."""
    while True:
        pool = [draw_sample(rng) for _ in range(args.batch * 8)]
        pool.sort(key=lambda s: len(s[0]) + len(s[1]) + len(s[2]))
        chunks = [pool[i : i + args.batch] for i in range(0, len(pool), args.batch)]
        rng.shuffle(chunks)
        for chunk in chunks:
            yield encode_batch(tok, chunk, 1100)


def train(model, tok, args) -> dict:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    stream = batches(tok, args, random.Random(args.seed + 1))
    budget_s, start, step, losses = args.minutes * 60, time.monotonic(), 0, []
    while (elapsed_s := time.monotonic() - start) < budget_s and step < args.steps:
        # The schedule follows the steps (reproducible), or the wall time when that ends
        # first, so a slow machine still finishes on time.
        progress = max(step / args.steps, elapsed_s / budget_s)
        warm = min(1.0, (step + 1) / 100)
        for group in opt.param_groups:
            group["lr"] = args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
        ids, labels, mask = next(stream)
        loss = model(
            input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)
        ).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            print(f"step {step} {elapsed_s:.0f}s loss {sum(losses[-50:]) / 50:.4f}", flush=True)
    return {"steps": step, "train_s": round(time.monotonic() - start, 1), "device": device,
            "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo_model")
    parser.add_argument("--minutes", type=float, default=12.0, help="training wall-time cap")
    parser.add_argument("--steps", type=int, default=10**9, help="optimizer steps")
    parser.add_argument("--init", type=Path, help="start from this model's weights")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    import torch

    torch.manual_seed(args.seed)
    if not torch.cuda.is_available():
        torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(args.vocab, args.seed)
    ids = write_tokenizer_files(tok, args.out)
    if args.init:  # continue training a model built by this script (same tokenizer)
        from transformers import Qwen3ForCausalLM

        model = Qwen3ForCausalLM.from_pretrained(args.init)
    else:
        model = make_model(tok.get_vocab_size(), ids, args)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"vocab {tok.get_vocab_size()} params {n_params}", flush=True)
    stats = train(model, tok, args)
    model.generation_config.update(
        do_sample=True, temperature=0.6, top_p=0.95, top_k=20,
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
    )  # fmt: skip
    model.to("cpu").save_pretrained(args.out, safe_serialization=True)
    stats.update(params=n_params, vocab=tok.get_vocab_size(), torch=torch.__version__)
    (args.out / "training_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
