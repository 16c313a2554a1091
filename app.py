"""Chainlit hooks: wiring only. Behaviour lives in backend/chat/handlers.py."""

import chainlit as cl

from backend.chat import handlers as ui


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


@cl.action_callback("compare_keep")
async def compare_keep(action: cl.Action):
    await ui.compare_keep(action)


@cl.action_callback("regenerate")
async def regenerate(action: cl.Action):
    await ui.answer_again(action)


@cl.on_chat_end
async def on_chat_end():
    await ui.end_chat()


if ui.auth_enabled():

    @cl.password_auth_callback
    def auth(username: str, password: str):
        return ui.check_password(username, password)
