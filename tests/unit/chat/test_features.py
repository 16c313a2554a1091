"""A thinking budget on a vLLM without --reasoning-config: a note, and no budget sent."""

from __future__ import annotations

import os

from backend.chat.features import BUDGET_NOTE, served_settings
from backend.chat.settings import SamplingSettings
from backend.config import Config
from backend.engine.status import EngineStatus, write_status


def test_budget_is_left_out_with_a_note_when_the_engine_lacks_it(tmp_path):
    config = Config(run_dir=str(tmp_path))
    wanted = SamplingSettings(thinking_budget=64)
    assert served_settings(config, wanted, thinking=True) == (wanted, None)  # no launcher
    status = EngineStatus(
        "ready",
        base_url=config.vllm_base_url,
        launcher_pid=os.getpid(),
        unavailable=["thinking budget"],
    )
    write_status(config, status)
    settings, note = served_settings(config, wanted, thinking=True)
    assert note == BUDGET_NOTE and "--reasoning-config" in note
    assert settings.thinking_budget == 0
    assert "thinking_token_budget" not in settings.request_params(thinking=True)["extra_body"]
    assert served_settings(config, wanted, thinking=False) == (wanted, None)
    no_budget = SamplingSettings()
    assert served_settings(config, no_budget, thinking=True) == (no_budget, None)
