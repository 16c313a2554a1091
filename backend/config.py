"""One frozen configuration object, read once from ``.env`` and the environment.

Precedence: the process environment wins over ``.env``; both win over the defaults
below. Everything else receives a `Config`; nothing reads ``os.environ`` on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL_DIR = ROOT / "demo_model"
DEMO_SERVED_NAME = "qwen3-demo"

# Environment variable -> field name. The README and .env.example list the same names.
ENV_NAMES = {
    "VLLM_BASE_URL": "vllm_base_url",
    "VLLM_API_KEY": "vllm_api_key",
    "MODEL": "model",
    "SERVED_MODEL_NAME": "served_model_name",
    "PORT": "port",
    "HOST": "host",
    "VLLM_PROFILE": "profile",
    "VLLM_MAX_MODEL_LEN": "max_model_len",
    "VLLM_GPU_MEMORY_UTILIZATION": "gpu_memory_utilization",
    "VLLM_MAX_NUM_SEQS": "max_num_seqs",
    "VLLM_CPU_KVCACHE_SPACE": "cpu_kvcache_space_gib",
    "ENGINE_PYTHON": "engine_python",
    "CONNECT_TIMEOUT_S": "connect_timeout_s",
    "STREAM_TIMEOUT_S": "stream_timeout_s",
    "MAX_RETRIES": "max_retries",
    "LOADING_WAIT_S": "loading_wait_s",
    "CHAT_PASSWORD": "chat_password",
    "CHAT_USERNAME": "chat_username",
    "RUN_DIR": "run_dir",
    "STREAM_FLUSH_MS": "stream_flush_ms",
    "DATA_DIR": "data_dir",
    "USERS_FILE": "users_file",
    "CHAINLIT_AUTH_SECRET": "auth_secret",
    "DATABASE_URL": "database_url",
    "SAVE_HISTORY": "save_history",
}


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


class Config(BaseModel):
    model_config = ConfigDict(frozen=True)

    vllm_base_url: str = "http://127.0.0.1:8001/v1"
    vllm_api_key: str = ""
    model: str = "Qwen/Qwen3-4B"
    served_model_name: str = ""
    port: int = Field(8000, ge=1, le=65535)
    host: str = "127.0.0.1"
    profile: str = "balanced"
    max_model_len: int | None = Field(None, ge=256)
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    max_num_seqs: int | None = Field(None, ge=1)
    cpu_kvcache_space_gib: float = Field(2.0, gt=0)
    engine_python: str = str(ROOT / ".venv-engine" / "bin" / "python")
    connect_timeout_s: float = Field(5.0, gt=0)
    stream_timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    loading_wait_s: float = Field(600.0, ge=0)
    chat_password: str = ""
    chat_username: str = "demo"
    run_dir: str = str(ROOT / ".run")
    stream_flush_ms: float = Field(50.0, ge=0, le=1000)
    data_dir: str = str(ROOT / "data")
    users_file: str = ""  # empty: DATA_DIR/users.json
    auth_secret: str = ""  # empty: generated once and kept in DATA_DIR
    database_url: str = ""
    save_history: bool = True

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.split("+")[0]
        if value and scheme not in ("postgres", "postgresql", "sqlite"):
            raise ValueError("must be a postgresql://user:password@host:port/name URL")
        return value

    @field_validator("vllm_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8001/v1")
        return value.rstrip("/")

    @property
    def server_root(self) -> str:
        """The server's root URL (``/health``, ``/metrics``, ``/tokenize`` live there)."""
        url = self.vllm_base_url
        return url[: -len("/v1")] if url.endswith("/v1") else url

    @property
    def users_path(self) -> Path:
        return Path(self.users_file) if self.users_file else Path(self.data_dir) / "users.json"

    @property
    def is_demo(self) -> bool:
        return self.model == "demo" or self.served_model_name == DEMO_SERVED_NAME

    @property
    def api_key(self) -> str:
        # The OpenAI SDK refuses an empty key; vLLM without --api-key ignores it.
        return self.vllm_api_key or "EMPTY"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = None
    ) -> Config:
        env = os.environ if environ is None else environ
        file_values = dotenv_values(env_file or ROOT / ".env")
        merged = {**{k: v for k, v in file_values.items() if v is not None}, **env}
        values = {field: merged[name] for name, field in ENV_NAMES.items() if merged.get(name)}
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    by_field = {field: name for name, field in ENV_NAMES.items()}
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        lines.append(f"{by_field.get(field, field)}={err.get('input')!r}: {err['msg']}")
    return "Invalid configuration: " + "; ".join(lines)


def shell_assignments(config: Config) -> list[str]:
    """What start.sh needs to know, as shell assignments (values shell-quoted)."""
    import shlex

    values = {
        "VLLM_BASE_URL": config.vllm_base_url,
        "SERVER_ROOT": config.server_root,
        "PORT": str(config.port),
        "HOST": config.host,
    }
    if config.vllm_api_key:
        values["VLLM_API_KEY"] = config.vllm_api_key
    return [f"{name}={shlex.quote(value)}" for name, value in values.items()]


if __name__ == "__main__":
    import sys

    from backend.auth.policy import plan_auth

    try:
        config = Config.from_env()
        plan_auth(config)  # refuses a network HOST with no account, before anything starts
        print("\n".join(shell_assignments(config)))
    except ValueError as exc:  # ConfigError, AuthSetupError, UsersFileError
        sys.stderr.write(f"{exc}\n")
        sys.exit(2)
