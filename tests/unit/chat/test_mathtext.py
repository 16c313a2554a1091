"""normalize_math on Qwen3-style answers: formulas keep their delimiters (in the forms
Chainlit's remark-math reads), money dollars and code are left as text."""

from __future__ import annotations

import random

import pytest

from backend.chat import mathtext
from backend.chat.mathtext import RenderedStream, normalize_math

CASES = [
    # (model output, what the Markdown renderer gets)
    ("It costs $5 and $10.", r"It costs \$5 and \$10."),
    ("between $5-$10 a day", r"between \$5-\$10 a day"),
    ("I paid $3.", r"I paid \$3."),
    ("$5, $10, and $15", r"\$5, \$10, and \$15"),
    ("costs $5.00 and $x$ is", r"costs \$5.00 and $x$ is"),
    ("So $x$ and $5$.", "So $x$ and $5$."),
    ("where $a^2 + b^2 = c^2$ holds", "where $a^2 + b^2 = c^2$ holds"),
    (r"We get \(\frac{1}{2}\) here.", r"We get $\frac{1}{2}$ here."),
    (r"inline \( x + 1 \) spaced", "inline $x + 1$ spaced"),
    ("Sum:\n\\[\n a+b \n\\]\nDone", "Sum:\n$$\na+b\n$$\nDone"),
    ("so \\[x=1\\] done", "so \n$$\nx=1\n$$\n done"),
    (r"The answer is \boxed{900}.", r"The answer is $\boxed{900}$."),
    (r"\boxed{\frac{3}{4}}", r"$\boxed{\frac{3}{4}}$"),
    (r"$\boxed{7}$ already", r"$\boxed{7}$ already"),
    (r"\[ \boxed{42} \]", "$$\n\\boxed{42}\n$$"),
    (
        "$$\n\\begin{aligned}\na &= b + c \\\\\n  &= d\n\\end{aligned}\n$$",
        "$$\n\\begin{aligned}\na &= b + c \\\\\n  &= d\n\\end{aligned}\n$$",
    ),
    ("$$x^2$$ on one line", "$$\nx^2\n$$\n on one line"),
    ("mid $$x^2$$ line", "mid $$x^2$$ line"),
    ("already \\$5 escaped", "already \\$5 escaped"),
    ("code `echo $HOME` and $5", "code `echo $HOME` and \\$5"),
    ("```bash\necho $A $B\n```\nok $5", "```bash\necho $A $B\n```\nok \\$5"),
    ("```\n$x$ \\(y\\)\n", "```\n$x$ \\(y\\)\n"),  # an unclosed fence runs to the end
    ("two\n\nparagraphs $a\n\nb$", "two\n\nparagraphs \\$a\n\nb\\$"),
    ("unclosed \\( x", "unclosed \\( x"),
    ("a lone ` and $5", "a lone ` and \\$5"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_normalize(raw, expected):
    assert normalize_math(raw) == expected


@pytest.mark.parametrize(("raw", "_"), CASES)
def test_idempotent(raw, _):
    once = normalize_math(raw)
    assert normalize_math(once) == once


def _stream(pieces: list[str]) -> str:
    shown, raw, render = "", "", RenderedStream()
    for piece in pieces:
        raw += piece
        if update := render.update(raw):
            token, is_sequence = update
            shown = token if is_sequence else shown + token
    return shown


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_streamed_char_by_char_ends_as_whole(raw, expected):
    assert _stream(list(raw)) == expected


@pytest.mark.parametrize("seed", range(5))
def test_streamed_in_random_pieces_ends_as_whole(seed):
    raw = "".join(r for r, _ in CASES)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(raw)), 40))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert _stream(pieces) == normalize_math(raw)


def test_stream_appends_until_a_decision_changes():
    render = RenderedStream()
    assert render.update("It is $") == ("It is \\$", False)
    assert render.update("It is $x") == ("x", False)
    # The closing dollar turns the escaped one into a formula: the whole text again.
    assert render.update("It is $x$") == ("It is $x$", True)
    assert render.update("It is $x$") is None


# -- the fast scan against the plain one ---------------------------------------------
def _reference_prose(text: str) -> str:
    """`_normalize_prose` as a character-by-character scan (the obvious form, kept as an
    oracle: the module's version jumps from one "\\" or "$" to the next)."""
    out, i = [], 0
    while i < len(text):
        step = mathtext._formula_at(text, i)
        if step is not None:
            rendered, i = step
            out.append(rendered)
        elif text[i] == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
        elif text[i] == "$":
            out.append("\\$")
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _reference_close(text: str, i: int) -> int | None:
    if i + 1 >= len(text) or text[i + 1].isspace() or text[i + 1] == "$":
        return None
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "$":
            break
        j += 1
    else:
        return None
    if mathtext._PARAGRAPH_BREAK.search(text, i, j) or text[j - 1].isspace():
        return None
    if j + 1 < len(text) and text[j + 1].isdigit():
        return None
    return j


def test_the_fast_scan_rewrites_exactly_what_a_character_by_character_scan_does(monkeypatch):
    pieces = list("ab 1$\\()[]{}`~\n\t5x") + ["\\(", "\\)", "\\[", "\\]", "$$", "\\boxed{", "\n\n"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(40))) for _ in range(20000)]
    fast = [normalize_math(t) for t in texts]
    monkeypatch.setattr(mathtext, "_normalize_prose", _reference_prose)
    monkeypatch.setattr(mathtext, "_inline_close", _reference_close)
    assert fast == [normalize_math(t) for t in texts]
    plain = "w35222 w149213 " * 500  # no "$" or "\": returned as it is
    assert normalize_math(plain) is plain
