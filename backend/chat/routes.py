"""Extra HTTP routes on Chainlit's server: the status the page's banner shows."""

from __future__ import annotations

from chainlit.server import app
from fastapi.responses import JSONResponse

from backend.config import DEMO_SERVED_NAME, Config
from backend.engine.status import read_status
from backend.server.client import ChatClient, ModelInfo

STATUS_PATH = "/hybrid-chat/status"


def is_demo(config: Config, info: ModelInfo | None) -> bool:
    if config.is_demo:
        return True
    return info is not None and (
        info.id == DEMO_SERVED_NAME or (info.root or "").rstrip("/").endswith("demo_model")
    )


async def banner_info(config: Config, client: ChatClient) -> dict:
    status = read_status(config)
    state: str = status.state if status else "external"
    try:
        info = await client.model_info()
    except Exception:  # not up yet: the banner says so below
        info = None
        state = state if status else "unreachable"
    demo = is_demo(config, info) or bool(status and status.demo)
    name = "demo model — not Qwen3-4B" if demo else (config.served_model_name or config.model)
    if state in ("starting", "loading"):
        text = f"{name} · loading…"
    elif state == "failed":
        text = f"{name} · model server failed to start"
    elif state == "unreachable":
        text = f"{name} · model server not reachable"
    else:
        text = name[:1].upper() + name[1:]
    plan = status.plan if status else {}
    if plan.get("max_concurrency"):
        text += f" · up to {plan['max_concurrency']:.0f} full-length chats at once"
    return {"banner": text, "demo": demo, "state": state, "model": name, "plan": plan}


def install(config: Config, client: ChatClient) -> None:
    """Register the routes ahead of Chainlit's catch-all page route."""
    if any(getattr(r, "path", None) == STATUS_PATH for r in app.router.routes):
        return

    async def status() -> JSONResponse:
        return JSONResponse(await banner_info(config, client))

    app.add_api_route(STATUS_PATH, status, methods=["GET"])
    app.router.routes.insert(0, app.router.routes.pop())
