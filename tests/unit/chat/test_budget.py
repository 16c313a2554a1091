"""The composer's thinking-budget picker: the message's choice, its label, the request."""

from __future__ import annotations

import pytest

from backend.chat.budget import CHOICES, MODE_ID, budget_mode, chosen, command_of, label
from backend.chat.settings import SettingsState


@pytest.mark.parametrize(
    ("modes", "tokens"),
    [
        (None, None),
        ({}, None),
        ({MODE_ID: "settings"}, None),
        ({MODE_ID: "off"}, 0),
        ({MODE_ID: "1k"}, 1024),
        ({MODE_ID: "4k"}, 4096),
        ({MODE_ID: "16k"}, 16384),
        ({MODE_ID: "junk"}, None),
        ({"other": "4k"}, None),
    ],
)
def test_chosen(modes, tokens):
    assert chosen(modes).tokens == tokens


def test_label_shows_a_picked_budget_on_thinking_messages_only():
    four = chosen({MODE_ID: "4k"})
    assert label("Think", four, thinking=True) == "Think · budget 4k"
    assert label("No think", four, thinking=False) == "No think"
    assert label("Think", chosen(None), thinking=True) == "Think"
    assert label("Compare", chosen({MODE_ID: "off"}), thinking=True) == "Compare · budget off"


def test_mode_defaults_to_the_settings_value():
    mode = budget_mode()
    assert mode.id == MODE_ID
    assert [o.id for o in mode.options] == [c.id for c in CHOICES]
    assert mode.get_default_option().id == "settings"


def test_picked_budget_wins_over_the_panel_for_that_message():
    state = SettingsState()
    state.update({"thinking_budget": 6})
    assert state.for_message(True).thinking_budget == 6
    picked = state.for_message(True, 1024)
    assert picked.thinking_budget == 1024
    assert picked.request_params(thinking=True)["extra_body"]["thinking_token_budget"] == 1024
    assert (
        "thinking_token_budget"
        not in state.for_message(True, 0).request_params(thinking=True)["extra_body"]
    )
    # Everything else is the mode's preset, as without a pick.
    assert picked.temperature == state.for_message(True).temperature


def test_the_command_comes_back_out_of_every_label():
    for mode in ("Think", "No think", "Compare"):
        for choice in CHOICES:
            for thinking in (True, False):
                assert command_of(label(mode, choice, thinking=thinking)) == mode
    assert command_of(None) is None and command_of("Status") == "Status"
