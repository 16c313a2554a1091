"""Measure the demo model on held-out problems, thinking on versus off, with transformers.

Problems come from ``train_demo_model.is_held_out`` (never trained on) and are drawn with a
fixed seed. Each is asked greedily and with Qwen3's recommended sampling settings. The
results table replaces the block between the eval markers in ``docs/demo_model.md``::

    .venv-engine/bin/python scripts/eval_demo_model.py [--n 60] [--no-write]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_demo_model as demo  # noqa: E402

DOC = demo.ROOT / "docs" / "demo_model.md"
START, END = "<!-- eval:start -->", "<!-- eval:end -->"
# Qwen3's recommended settings for each mode.
SAMPLING = {
    True: {"temperature": 0.6, "top_p": 0.95, "top_k": 20},
    False: {"temperature": 0.7, "top_p": 0.8, "top_k": 20},
}
# Phrasings and requests never used in training; the expected reply is the scripted one.
SMALL_TALK = [
    ("hey, what's up?", "greet"), ("Good night!", "greet"), ("what's your name?", "who"),
    ("tell me what you are", "who"), ("thanks so much!", "thanks"),
    ("what kinds of questions can you answer?", "help"),
    ("How tall is Mount Everest?", "fallback"), ("Write me a haiku about autumn.", "fallback"),
    ("שלום, מה שלומך? 🌍", "fallback"), ("What is 12345 * 6789?", "fallback"),
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    kind: str
    question: str
    expected: str
    budget_prefix: str = ""


def held_out_cases(n_per_op: int, seed: int) -> list[Case]:
    rng, cases = random.Random(seed), []
    for op in demo.OPS:
        seen: set[tuple[int, int]] = set()
        while len(seen) < n_per_op:
            got, a, b = demo.draw_problem(rng)
            if got == op and demo.is_held_out(op, a, b) and (a, b) not in seen:
                seen.add((a, b))
                question = demo.question_text(rng, op, a, b)
                cases.append(Case(op, question, str(demo.solve(op, a, b))))
    return cases


def budget_cases(cases: list[Case]) -> list[Case]:
    """Thinking cut after two lines of working, as the thinking-budget feature does."""
    out = []
    for case in cases:
        op, a, b = parse_problem(case)
        head = "\n".join(demo.reasoning_lines(op, a, b)[:2])
        out.append(Case("budget cut", case.question, case.expected,
                        f"<think>\n{head}\n\n{demo.BUDGET_NOTICE}"))  # fmt: skip
    return out


def parse_problem(case: Case) -> tuple[str, int, int]:
    a, b = (int(x) for x in re.findall(r"\d+", case.question)[:2])
    if case.question.startswith("subtract"):
        a, b = b, a
    return case.kind, a, b


def is_correct(case: Case, answer: str) -> bool:
    if case.kind in demo.OPS or case.kind == "budget cut":
        found = re.findall(r"=\s*(-?\d+)", answer)
        return bool(found) and found[-1] == case.expected
    scripted = demo.FALLBACK_ANSWER if case.expected == "fallback" else demo.CHAT[case.expected][2]
    return answer.strip() == scripted


def generate(model, tok, cases: list[Case], thinking: bool, sample: bool) -> list[str]:
    import torch

    prompts = [
        tok.apply_chat_template(
            [{"role": "user", "content": c.question}],
            tokenize=False, add_generation_prompt=True, enable_thinking=thinking,
        ) + c.budget_prefix
        for c in cases
    ]  # fmt: skip
    batch = tok(prompts, return_tensors="pt", padding=True).to(model.device)
    options = {"do_sample": True, **SAMPLING[thinking]} if sample else {"do_sample": False}
    with torch.no_grad():
        out = model.generate(
            **batch, max_new_tokens=220 if thinking else 48, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, **options,
        )  # fmt: skip
    texts = tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    # The answer is what follows the reasoning block, as vLLM's qwen3 parser splits it.
    return [t.split("</think>")[-1] for t in texts]


def run_grid(model, tok, cases: list[Case]) -> dict[tuple[str, str], list[bool]]:
    import torch

    results: dict[tuple[str, str], list[bool]] = {}
    for thinking in (True, False):
        for sample in (False, True):
            torch.manual_seed(0)
            column = f"thinking {'on' if thinking else 'off'}, {'sampled' if sample else 'greedy'}"
            for start in range(0, len(cases), 64):
                chunk = cases[start : start + 64]
                for case, answer in zip(
                    chunk, generate(model, tok, chunk, thinking, sample), strict=True
                ):
                    results.setdefault((case.kind, column), []).append(is_correct(case, answer))
            print(column, "done", flush=True)
    return results


def table(results: dict[tuple[str, str], list[bool]], rows: list[str]) -> str:
    columns = list(dict.fromkeys(col for _, col in results))
    lines = ["| task | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        cells = []
        for col in columns:
            hits = [h for (kind, c), v in results.items() if c == col for h in v
                    if kind == row or (row == "overall" and kind in demo.OPS)]  # fmt: skip
            cells.append(f"{100 * sum(hits) / len(hits):.0f}% (N={len(hits)})" if hits else "n/a")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=demo.ROOT / "demo_model")
    # About 90 multiplications are held out, so --n must stay below that.
    parser.add_argument("--n", type=int, default=60, help="held-out problems per operation")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # One thread: with the machine shared, a second OpenMP thread spins and slows it down.
    torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    model.to(device)
    started = time.monotonic()
    arithmetic = held_out_cases(args.n, args.seed)
    talk = [Case("small talk", q, kind) for q, kind in SMALL_TALK]
    grid = run_grid(model, tok, arithmetic + talk)
    with torch.no_grad():
        torch.manual_seed(0)
        cut = budget_cases(arithmetic)
        for start in range(0, len(cut), 64):
            chunk = cut[start : start + 64]
            answers = generate(model, tok, chunk, True, False)
            grid.setdefault(("budget cut", "thinking on, greedy"), []).extend(
                is_correct(c, a) for c, a in zip(chunk, answers, strict=True)
            )
    rows = [*demo.OPS, "overall", "budget cut", "small talk"]
    text = table(grid, rows)
    print(text)
    print(f"eval took {time.monotonic() - started:.0f} s")
    if not args.no_write:
        doc = DOC.read_text()
        head, rest = doc.split(START, 1)
        DOC.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
