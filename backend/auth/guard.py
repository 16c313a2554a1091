"""Ownership checks that Chainlit 2.12 leaves out, put in front of its own routes.

Chainlit checks a thread's author before it shows, renames, shares or deletes the thread,
and refuses a socket that asks to resume someone else's. Its feedback routes check
nothing: ``PUT /feedback`` puts a rating (or overwrites one, by feedback id) on any
message id, ``DELETE /feedback`` removes any rating. `install` registers checked versions
of those two ahead of Chainlit's; they answer 404 unless the message belongs to a thread
of the signed-in user, then hand over to Chainlit's own handlers.

A message not (yet) in the database may be rated: its writes are queued, and an id
nobody has stored yet exposes and changes nothing.
"""

from __future__ import annotations

from chainlit import server
from chainlit.config import config as chainlit_config
from chainlit.data import get_data_layer
from chainlit.types import DeleteFeedbackRequest, UpdateFeedbackRequest
from chainlit.user import PersistedUser, User
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

STEP_OWNER = (
    'SELECT t."userIdentifier" AS owner, s."threadId" AS thread FROM steps s'
    ' JOIN threads t ON t."id" = s."threadId" WHERE s."id" = :id'
)
FEEDBACK_STEP = 'SELECT "forId" AS step FROM feedbacks WHERE "id" = :id'
NOT_FOUND = HTTPException(status_code=404, detail="Not found")


async def _rows(query: str, value: str) -> list[dict]:
    data_layer = get_data_layer()
    if data_layer is None or not hasattr(data_layer, "execute_sql"):
        raise HTTPException(status_code=400, detail="Data persistence is not enabled")
    rows = await data_layer.execute_sql(query=query, parameters={"id": value})
    return rows if isinstance(rows, list) else []


async def _step(step_id: str) -> dict | None:
    """The step's owner and thread, None when the step is not stored."""
    rows = await _rows(STEP_OWNER, step_id)
    return rows[0] if rows else None


async def _require_step_of(user: User | PersistedUser, step_id: str) -> dict | None:
    step = await _step(step_id)
    if step is not None and step["owner"] != user.identifier:
        raise NOT_FOUND
    return step


async def _require_feedback_of(
    user: User | PersistedUser, feedback_id: str, must_exist: bool
) -> None:
    rows = await _rows(FEEDBACK_STEP, feedback_id)
    if not rows:
        if must_exist:
            raise NOT_FOUND
        return
    step = await _step(rows[0]["step"])
    if step is None or step["owner"] != user.identifier:
        raise NOT_FOUND


async def update_feedback(
    request: Request, update: UpdateFeedbackRequest, current_user: server.UserParam
) -> JSONResponse:
    if current_user is None:
        raise HTTPException(status_code=401, detail="Unauthorized")
    feedback = update.feedback
    step = await _require_step_of(current_user, feedback.forId)
    if feedback.id:
        await _require_feedback_of(current_user, feedback.id, must_exist=False)
    feedback.threadId = step["thread"] if step else None  # never a thread named by the client
    return await server.update_feedback(request, update, current_user)


async def delete_feedback(
    request: Request, payload: DeleteFeedbackRequest, current_user: server.UserParam
) -> JSONResponse:
    if current_user is None:
        raise HTTPException(status_code=401, detail="Unauthorized")
    await _require_feedback_of(current_user, payload.feedbackId, must_exist=True)
    return await server.delete_feedback(request, payload, current_user)


def install() -> None:
    """Put the checked feedback routes ahead of Chainlit's (once)."""
    path = f"{chainlit_config.run.root_path}/feedback"
    routes = server.app.router.routes
    if any(getattr(r, "endpoint", None) is update_feedback for r in routes):
        return
    for endpoint, method in ((update_feedback, "PUT"), (delete_feedback, "DELETE")):
        server.app.add_api_route(path, endpoint, methods=[method])
        routes.insert(0, routes.pop())
