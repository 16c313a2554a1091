"""One frozen configuration object, read once from ``.env`` and the environment.

This module is the only reader of ``.env`` and ``os.environ`` (pydantic-settings does the
reading). Precedence: the process environment wins over ``.env``; both win over the
defaults below; empty values count as unset. ``Config(...)`` built in code is exactly its
arguments and reads nothing. Everything else receives a `Config`.

``python -m backend.preflight`` prints what start.sh needs as shell assignments (exit 2 and
one line naming the variable when a value cannot be used).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from backend.engine.profiles import PROFILES

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL_DIR = ROOT / "demo_model"
DEMO_SERVED_NAME = "qwen3-demo"
# Hugging Face's own variables: read here too, but documented by Hugging Face, not by us.
HF_NAMES = ("HF_HOME", "HF_HUB_OFFLINE")


def server_root(base_url: str) -> str:
    """``http://host:port/v1`` (or the root itself) -> ``http://host:port``."""
    url = base_url.rstrip("/")
    return url.removesuffix("/v1")


def _env(name: str, default: Any, **bounds: Any) -> Any:
    return Field(default, validation_alias=name, **bounds)


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, validate_by_name=True, validate_by_alias=True, extra="ignore"
    )

    vllm_base_url: str = _env("VLLM_BASE_URL", "http://127.0.0.1:8001/v1")
    vllm_api_key: str = _env("VLLM_API_KEY", "")
    model: str = _env("MODEL", "Qwen/Qwen3-4B")
    served_model_name: str = _env("SERVED_MODEL_NAME", "")
    port: int = _env("PORT", 8000, ge=1, le=65535)
    host: str = _env("HOST", "127.0.0.1")
    chat_workers: int = _env("CHAT_WORKERS", 1, ge=1, le=64)  # >1: workers behind nginx
    profile: str = _env("VLLM_PROFILE", "balanced")
    max_model_len: int | None = _env("VLLM_MAX_MODEL_LEN", None, ge=256)
    gpu_memory_utilization: float | None = _env("VLLM_GPU_MEMORY_UTILIZATION", None, gt=0, le=1)
    max_num_seqs: int | None = _env("VLLM_MAX_NUM_SEQS", None, ge=1)
    api_servers: int | None = _env("VLLM_API_SERVERS", None, ge=1, le=64)  # GPU only
    cpu_kvcache_space_gib: float = _env("VLLM_CPU_KVCACHE_SPACE", 2.0, gt=0)
    engine_python: str = _env("ENGINE_PYTHON", str(ROOT / ".venv-engine" / "bin" / "python"))
    connect_timeout_s: float = _env("CONNECT_TIMEOUT_S", 5.0, gt=0)
    stream_timeout_s: float = _env("STREAM_TIMEOUT_S", 120.0, gt=0)
    max_retries: int = _env("MAX_RETRIES", 2, ge=0, le=10)
    loading_wait_s: float = _env("LOADING_WAIT_S", 600.0, ge=0)
    chat_password: str = _env("CHAT_PASSWORD", "")
    chat_username: str = _env("CHAT_USERNAME", "demo")
    run_dir: str = _env("RUN_DIR", str(ROOT / ".run"))
    stream_flush_ms: float = _env("STREAM_FLUSH_MS", 50.0, ge=0, le=1000)
    # Tokens per chunk vLLM streams to the chat; 0: as many as a stream makes in half a
    # flush interval (backend/server/pace.py).
    stream_interval_tokens: int = _env("STREAM_INTERVAL_TOKENS", 0, ge=0, le=64)
    metrics_token: str = _env("METRICS_TOKEN", "")
    prometheus_port: int = _env("PROMETHEUS_PORT", 9090, ge=1, le=65535)
    data_dir: str = _env("DATA_DIR", str(ROOT / "data"))
    users_file: str = _env("USERS_FILE", "")  # empty: DATA_DIR/users.json
    auth_secret: str = _env("CHAINLIT_AUTH_SECRET", "")  # empty: generated once in DATA_DIR
    database_url: str = _env("DATABASE_URL", "")
    save_history: bool = _env("SAVE_HISTORY", True)
    loadtest_password: str = _env("LOADTEST_PASSWORD", "")  # the load tester's --user's
    hf_home: str = _env("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    hf_hub_offline: str = _env("HF_HUB_OFFLINE", "")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is read by from_env() only

    @field_validator("vllm_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8001/v1")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.split("+")[0]
        if value and scheme not in ("postgres", "postgresql", "sqlite"):
            raise ValueError("must be a postgresql://user:password@host:port/name URL")
        return value

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown vLLM profile; valid profiles: {', '.join(PROFILES)}")
        return value

    @property
    def server_root(self) -> str:
        """The server's root URL (``/health``, ``/metrics``, ``/tokenize`` live there)."""
        return server_root(self.vllm_base_url)

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

    @property
    def hub_offline(self) -> bool:
        return self.hf_hub_offline == "1"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = None
    ) -> Config:
        """Read the environment (or ``environ``) over ``env_file`` (default ``ROOT/.env``)."""
        file = Path(env_file or ROOT / ".env")
        values = DotEnvSettingsSource(cls, env_file=file, env_ignore_empty=True)()
        if environ is None:
            values.update(EnvSettingsSource(cls, env_ignore_empty=True)())
        else:
            values.update({name: value for name, value in environ.items() if value})
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None


# Environment variable -> field name. The README and .env.example list the same names.
ENV_NAMES = {
    str(info.validation_alias): name
    for name, info in Config.model_fields.items()
    if info.validation_alias not in HF_NAMES
}


def _describe(exc: ValidationError) -> str:
    by_field = {field: name for name, field in ENV_NAMES.items()}
    lines = []
    for err in exc.errors():
        where = str(err["loc"][0]) if err["loc"] else "?"
        lines.append(f"{by_field.get(where, where)}={err.get('input')!r}: {err['msg']}")
    return "Invalid configuration: " + "; ".join(lines)


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for a child process (vLLM) to start from."""
    return dict(os.environ)


def shell_assignments(config: Config) -> list[str]:
    """What start.sh needs to know, as shell assignments (values shell-quoted)."""
    values = {
        "VLLM_BASE_URL": config.vllm_base_url,
        "SERVER_ROOT": config.server_root,
        "PORT": str(config.port),
        "HOST": config.host,
        "CHAT_WORKERS": str(config.chat_workers),
    }
    if config.vllm_api_key:
        values["VLLM_API_KEY"] = config.vllm_api_key
    return [f"{name}={shlex.quote(value)}" for name, value in values.items()]
