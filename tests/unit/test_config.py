import pytest

from backend.config import Config, ConfigError, shell_assignments


def test_defaults(tmp_path):
    config = Config.from_env({}, env_file=tmp_path / "none")
    assert config.vllm_base_url == "http://127.0.0.1:8001/v1"
    assert config.server_root == "http://127.0.0.1:8001"
    assert config.model == "Qwen/Qwen3-4B"
    assert config.port == 8000
    assert config.api_key == "EMPTY"


def test_env_file_then_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nMODEL=demo\nVLLM_API_KEY=from-file\n")
    config = Config.from_env({"PORT": "9100"}, env_file=env_file)
    assert config.port == 9100
    assert config.is_demo
    assert config.vllm_api_key == "from-file"


def test_frozen():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Config().port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"PORT": "abc"}, "PORT='abc'"),
        ({"PORT": "70000"}, "PORT='70000'"),
        ({"VLLM_BASE_URL": "localhost:8001"}, "VLLM_BASE_URL"),
        ({"STREAM_TIMEOUT_S": "-1"}, "STREAM_TIMEOUT_S"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, needle):
    with pytest.raises(ConfigError, match=needle):
        Config.from_env(env, env_file=tmp_path / "none")


def test_shell_assignments_are_quoted():
    lines = shell_assignments(Config(vllm_api_key="a b'c"))
    assert "VLLM_API_KEY='a b'\"'\"'c'" in lines
    assert "SERVER_ROOT=http://127.0.0.1:8001" in lines


def test_env_example_documents_every_variable():
    from backend.config import ENV_NAMES, ROOT

    text = (ROOT / ".env.example").read_text()
    for name in ENV_NAMES:
        assert f"\n{name}=" in text, name
