from backend.chat.routes import banner_info, is_demo
from backend.config import DEMO_SERVED_NAME, Config
from backend.engine.status import EngineStatus, write_status
from backend.server.client import ModelInfo


class FakeClient:
    def __init__(self, info=None):
        self.info = info

    async def model_info(self):
        if self.info is None:
            raise ConnectionError("down")
        return self.info


def test_demo_detected_by_name_or_path():
    assert is_demo(Config(model="demo"), None)
    assert is_demo(Config(), ModelInfo(DEMO_SERVED_NAME))
    assert is_demo(Config(), ModelInfo("x", root="/srv/app/demo_model/"))
    assert not is_demo(Config(), ModelInfo("Qwen/Qwen3-4B", root="Qwen/Qwen3-4B"))


async def test_banner_for_demo_loading_and_unreachable(tmp_path):
    config = Config(run_dir=str(tmp_path))
    info = await banner_info(config, FakeClient(ModelInfo(DEMO_SERVED_NAME)))
    assert info["demo"] and info["banner"].startswith("Demo model — not Qwen3-4B")
    down = await banner_info(config, FakeClient())
    assert down["state"] == "unreachable" and "not reachable" in down["banner"]
    write_status(config, EngineStatus("loading", demo=True, plan={"max_concurrency": 12.0}))
    loading = await banner_info(config, FakeClient())
    assert loading["state"] == "loading"
    assert "loading…" in loading["banner"] and "up to 12" in loading["banner"]


async def test_banner_ignores_the_status_left_by_an_earlier_start(tmp_path):
    # A demo run left its status; now VLLM_BASE_URL points at a real server.
    config = Config(run_dir=str(tmp_path), vllm_base_url="http://127.0.0.1:9999/v1")
    stale = EngineStatus(
        "stopped", demo=True, plan={"max_concurrency": 114.0}, base_url="http://127.0.0.1:8001/v1"
    )
    write_status(config, stale)
    info = await banner_info(config, FakeClient(ModelInfo("Qwen/Qwen3-4B", root="Qwen/Qwen3-4B")))
    assert info["state"] == "external" and not info["demo"]
    assert info["banner"] == "Qwen/Qwen3-4B" and info["plan"] == {}
