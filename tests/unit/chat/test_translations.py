import json

import pytest

from backend.config import ROOT

FILES = sorted((ROOT / ".chainlit" / "translations").glob("*.json"))


def test_every_chainlit_language_is_present():
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_step_titles_have_no_using_used_prefix(path):
    # The reasoning step's title is "Thinking…" / "Thought for 3.2 s" in every language.
    status = json.loads(path.read_text())["chat"]["messages"]["status"]
    assert status == {"using": "", "used": ""}
