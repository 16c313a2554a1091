"""Model text made safe for Chainlit's Markdown with LaTeX on (remark-math + rehype-katex).

remark-math knows only ``$…$`` (inline) and ``$$…$$`` (display), and it takes *every*
single ``$`` as a delimiter, so "$5 and $10" would become the formula "5 and ". Qwen3
writes ``\\( … \\)``, ``\\[ … \\]``, ``$$ … $$`` and ``$…$``. `normalize_math` rewrites:

* ``\\( x \\)`` -> ``$x$`` and ``\\[ x \\]`` -> a ``$$`` block on lines of its own;
* a bare ``\\boxed{…}`` outside any formula -> ``$\\boxed{…}$``;
* a single ``$`` that does not open a formula -> ``\\$`` (Markdown's escape: shown as $).

A single ``$`` opens a formula only as in Pandoc: a non-space follows it, and the *next*
``$`` in the same paragraph has a non-space before it and no digit after it. So "$x$" and
"$5$" are formulas; "$5 and $10", "$5-$10" and "costs $3." are money. Code (fenced blocks
and backtick spans) is never touched. The function is pure and idempotent; unclosed
delimiters (a stream cut mid-formula) are left as they are.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SPECIAL = re.compile(r"[\\$]")


def normalize_math(text: str) -> str:
    """The text with math delimiters Chainlit renders and money dollars escaped."""
    if "$" not in text and "\\" not in text:
        return text  # nothing to rewrite (the usual case: it is called at every flush)
    return "".join(
        piece if is_code else _normalize_prose(piece) for is_code, piece in _split_code(text)
    )


def _split_code(text: str) -> list[tuple[bool, str]]:
    """(is_code, piece) in order: fenced blocks (closed or running to the end), code spans."""
    pieces: list[tuple[bool, str]] = []
    prose: list[str] = []
    fence: str | None = None
    block: list[str] = []
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if fence is None and match:
            pieces.extend(_split_spans("".join(prose)))
            prose, fence, block = [], match.group(1), [line]
        elif fence is not None:
            block.append(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                if not line.strip().strip(fence[0]):
                    pieces.append((True, "".join(block)))
                    fence, block = None, []
        else:
            prose.append(line)
    if fence is not None:
        pieces.append((True, "".join(block)))
    pieces.extend(_split_spans("".join(prose)))
    return [p for p in pieces if p[1]]


def _split_spans(text: str) -> list[tuple[bool, str]]:
    pieces: list[tuple[bool, str]] = []
    last = 0
    for match in _INLINE_CODE.finditer(text):
        if _PARAGRAPH_BREAK.search(match.group(0)):
            continue  # a lone backtick, not a span across paragraphs
        pieces.append((False, text[last : match.start()]))
        pieces.append((True, match.group(0)))
        last = match.end()
    pieces.append((False, text[last:]))
    return pieces


def _normalize_prose(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        special = _SPECIAL.search(text, i)  # only "\\" and "$" start anything to rewrite
        if special is None:
            out.append(text[i:])
            break
        if special.start() > i:
            out.append(text[i : special.start()])
            i = special.start()
        step = _formula_at(text, i)
        if step is not None:
            rendered, i = step
            out.append(rendered)
        elif text[i] == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])  # an escape stays an escape (\$ included)
            i += 2
        elif text[i] == "$":
            out.append("\\$")
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _formula_at(text: str, i: int) -> tuple[str, int] | None:
    """The rendered formula starting at ``i`` and the index after it, or None."""
    if text.startswith("\\(", i):
        end = text.find("\\)", i + 2)
        if end != -1 and not _PARAGRAPH_BREAK.search(text, i, end):
            return f"${text[i + 2 : end].strip()}$", end + 2
    elif text.startswith("\\[", i):
        end = text.find("\\]", i + 2)
        if end != -1:
            return _display(text, i, end + 2, text[i + 2 : end]), end + 2
    elif text.startswith("\\boxed{", i):
        after = _closing_brace(text, i + len("\\boxed"))
        if after is not None:
            return f"${text[i:after]}$", after
    elif text.startswith("$$", i):
        end = text.find("$$", i + 2)
        if end != -1:
            if _at_line_start(text, i):
                return _display(text, i, end + 2, text[i + 2 : end]), end + 2
            return text[i : end + 2], end + 2
    elif text[i] == "$":
        close = _inline_close(text, i)
        if close is not None:
            return text[i : close + 1], close + 1
    return None


def _inline_close(text: str, i: int) -> int | None:
    """Index of the ``$`` closing a formula opened at ``i`` (Pandoc's rule), else None."""
    if i + 1 >= len(text) or text[i + 1].isspace() or text[i + 1] == "$":
        return None
    j = i + 1
    while (special := _SPECIAL.search(text, j)) is not None:
        j = special.start()
        if text[j] == "$":
            break
        j += 2  # an escape
    else:
        return None
    if _PARAGRAPH_BREAK.search(text, i, j) or text[j - 1].isspace():
        return None
    if j + 1 < len(text) and text[j + 1].isdigit():
        return None
    return j


def _closing_brace(text: str, i: int) -> int | None:
    """Index after the brace group opening at ``text[i] == '{'``, or None if unbalanced."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return None


def _at_line_start(text: str, i: int) -> bool:
    line_start = text.rfind("\n", 0, i) + 1
    return not text[line_start:i].strip()


def _display(text: str, start: int, end: int, body: str) -> str:
    """A ``$$`` block on lines of its own, indented like the line it started on."""
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[line_start:start]
    indent = prefix[: len(prefix) - len(prefix.lstrip())]
    lead = "\n" + indent if prefix.strip() else ""
    tail = "" if text.startswith("\n", end) or end == len(text) else "\n" + indent
    return f"{lead}$$\n{indent}{body.strip()}\n{indent}$${tail}"


class RenderedStream:
    """Streams the normalised form of a growing text: usually only the new end, but the
    whole text again when a later piece changed an earlier decision (a "$" that turned out
    to open a formula). ``update`` returns (token, is_sequence) for Chainlit's
    ``stream_token``, or None when nothing changed."""

    def __init__(self) -> None:
        self.sent = ""

    def update(self, raw: str) -> tuple[str, bool] | None:
        rendered = normalize_math(raw)
        if rendered == self.sent:
            return None
        appended = rendered.startswith(self.sent)
        token = rendered[len(self.sent) :] if appended else rendered
        self.sent = rendered
        return token, not appended
