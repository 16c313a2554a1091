"""Export rendering: Markdown to read (reasoning folded), JSON with everything."""

from __future__ import annotations

import json

from backend.store.export import FORMAT, file_stem, to_json, to_markdown
from backend.store.transcript import SAVED_KEY, read_thread
from tests.support.stored_steps import answer, clock, note, reasoning, run, thread, user

NOW = "2026-12-01T11:00:00Z"
SETTINGS = {"temperature": 0.6, "top_p": 0.95, "system_prompt": ""}


def transcript(**kw):
    t = clock()
    steps = [
        user(t, "u1", "What is 2+2?"),
        run(t, "r1", "u1", feedback=1, comment="Right"),  # the chat's thumbs rate the run
        reasoning(t, "s1", "Add them: 4. </details> <b>x</b>"),
        answer(t, "a1", "**4**", parent="r1"),
        user(t, "u2", "Write a poem /no_think", command="No think"),
        answer(t, "a2", "Roses", mode="No think", note="Stopped.", stopped=True, feedback=0),
        note(t, "n2", "Task manually stopped."),
    ]
    meta = {SAVED_KEY: {"settings": SETTINGS, "overridden": [], "think": True}}
    return read_thread(thread(steps, meta, **kw))


def test_markdown_reads_as_a_conversation_with_folded_reasoning():
    md = to_markdown(transcript(), NOW)
    assert md.startswith("# Capital of France\n")
    assert "## You · Think" in md and "What is 2+2?" in md
    assert "<details><summary>Thought for 1.2 s</summary>" in md
    assert "### Assistant 👍" in md and "**4**" in md and "> Feedback: Right" in md
    assert "### Assistant 👎" in md and "*Stopped.*" in md
    assert "> Task manually stopped." in md
    # The reasoning cannot close the fold early.
    assert md.count("</details>") == 1 and "&lt;/details>" in md
    assert (
        md.index("What is 2+2?") < md.index("Thought for") < md.index("**4**") < md.index("Roses")
    )


def test_json_holds_everything():
    doc = json.loads(to_json(transcript(), NOW))
    assert doc["format"] == FORMAT and doc["exported_at"] == NOW
    assert doc["settings"] == SETTINGS and doc["think"] is True
    first, second = doc["exchanges"]
    assert first["question"]["text"] == "What is 2+2?" and first["question"]["mode"] == "Think"
    assert first["question"]["created_at"].startswith("2026-12-01T10:00")
    assert first["reasoning"][0]["text"].startswith("Add them: 4.")
    assert first["answer"]["text"] == "**4**"
    assert first["answer"]["feedback"] == {"value": 1, "comment": "Right"}
    assert first["answer"]["stats"] == "first token 80 ms" and first["answer"]["mode"] == "Think"
    assert second["answer"]["stopped"] is True and second["answer"]["feedback"]["value"] == 0
    assert second["reasoning"] == [] and second["notes"] == ["Task manually stopped."]


def test_odd_unicode_survives_both_formats():
    t = clock()
    text = "naïve 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍💻 \u202eRTL\u202c 中文"
    steps = [user(t, "u1", text), answer(t, "a1", text)]
    tr = read_thread(thread(steps))
    assert text in to_markdown(tr, NOW)
    assert json.loads(to_json(tr, NOW))["exchanges"][0]["answer"]["text"] == text


def test_file_names_are_safe():
    assert file_stem(transcript(name="a/b: c?*")) == "a-b-c"
    assert file_stem(transcript(name="../../etc/passwd")) == "etc-passwd"
    assert file_stem(transcript(name=None)) == "conversation-thread-1"
    assert file_stem(transcript(name="...")) == "conversation-thread-1"
