"""The thinking budget at hand: a picker in the composer beside the settings field.

Chainlit 2.12's composer "modes" are pickers whose choice travels with each message
(``message.modes``). "Budget: settings" (the default) leaves the settings panel's value in
force; the other choices decide for that message: off (no limit), 1k, 4k or 16k tokens.
The choice is shown on the user's message next to the mode, like "Think · budget 4k".
"""

from __future__ import annotations

from dataclasses import dataclass

import chainlit as cl

MODE_ID = "thinking_budget"
LABEL_BUDGET = " · budget "  # "Think · budget 1k"
FROM_SETTINGS = "settings"


@dataclass(frozen=True)
class BudgetChoice:
    id: str
    tokens: int | None  # None: the settings panel decides; 0: no limit
    name: str
    description: str


CHOICES = (
    BudgetChoice(FROM_SETTINGS, None, "Budget: settings", "The thinking budget in the settings"),
    BudgetChoice("off", 0, "Budget: off", "Think as long as the model wants"),
    BudgetChoice("1k", 1024, "Budget: 1k", "At most 1,024 reasoning tokens"),
    BudgetChoice("4k", 4096, "Budget: 4k", "At most 4,096 reasoning tokens"),
    BudgetChoice("16k", 16384, "Budget: 16k", "At most 16,384 reasoning tokens"),
)
_BY_ID = {c.id: c for c in CHOICES}


def budget_mode() -> cl.Mode:
    options = [
        cl.ModeOption(
            id=c.id,
            name=c.name,
            description=c.description,
            icon="timer",
            default=c.id == FROM_SETTINGS,
        )
        for c in CHOICES
    ]
    return cl.Mode(id=MODE_ID, name="Thinking budget", options=options)


def chosen(modes: dict[str, str] | None) -> BudgetChoice:
    """The message's choice; anything unknown (or no picker at all) means the settings."""
    return _BY_ID.get((modes or {}).get(MODE_ID, FROM_SETTINGS), _BY_ID[FROM_SETTINGS])


def label(mode_label: str, choice: BudgetChoice, *, thinking: bool) -> str:
    """The label on the user's message: the mode, plus the budget when one was picked."""
    if not thinking or choice.tokens is None:
        return mode_label
    return f"{mode_label}{LABEL_BUDGET}{choice.id}"


def command_of(label: str | None) -> str | None:
    """The command in a message's `label` (a message edited later comes back with it)."""
    return label.partition(LABEL_BUDGET)[0] if label else label
