"""Welcome-screen starters that show hybrid reasoning off.

Worked arithmetic is where thinking visibly pays (the demo model is trained on exactly
that, and Qwen3-4B shows its steps); greetings need no thought. A trailing /think or
/no_think sets the mode for that one message, whatever the Think button says. The Compare
starter asks in both modes at once and shows the answers side by side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StarterPrompt:
    label: str
    message: str
    icon: str | None = None
    command: str | None = None


STARTERS = (
    StarterPrompt("Add with carries (think)", "What is 247 + 653? /think"),
    StarterPrompt("Same sum, no thinking", "What is 247 + 653? /no_think"),
    StarterPrompt("Subtract with borrows (think)", "What is 795 - 399? /think"),
    StarterPrompt("Quick hello", "Hello! What can you do? /no_think"),
    StarterPrompt("Compare: think vs no think", "What is 487 + 356?", command="Compare"),
)
