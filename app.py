"""Chainlit hooks: wiring only. Behaviour lives in backend/chat/handlers.py."""

import chainlit as cl
from chainlit.config import config as chainlit_config

from backend.auth import hooks as auth
from backend.chat import handlers as ui

try:  # which login: one local user on loopback, else accounts (backend/auth/policy.py)
    _login = auth.prepare(ui.get_config(), bind_host=chainlit_config.run.host)
except ValueError as exc:
    raise SystemExit(str(exc)) from None

if _login.mode == "local":

    @cl.header_auth_callback
    async def local_user(headers):
        return auth.local_user()

else:

    @cl.password_auth_callback
    async def login(username: str, password: str):
        return await auth.password_login(_login.accounts, username, password)


@cl.set_starters
async def starters(user=None, language=None):
    return ui.starters()


@cl.on_chat_start
async def on_chat_start():
    await ui.start_chat()


@cl.on_settings_update
async def on_settings_update(settings):
    await ui.update_settings(settings)


@cl.on_message
async def on_message(message: cl.Message):
    await ui.handle_message(message)


@cl.on_chat_resume
async def on_chat_resume(thread):
    await ui.resume_chat(thread)


@cl.data_layer
def data_layer():
    return ui.data_layer()


# Migrate the conversation database before the first page is served.
ui.data_layer()


@cl.action_callback("compare_keep")
async def compare_keep(action: cl.Action):
    await ui.compare_keep(action)


@cl.action_callback("regenerate")
async def regenerate(action: cl.Action):
    await ui.answer_again(action)


@cl.on_chat_end
async def on_chat_end():
    await ui.end_chat()
