"""GPU memory planner: vLLM's own start-up arithmetic, before vLLM starts.

``python -m backend.planner`` is the command line (``__main__.py``); this package is the
library it sits on.
"""

from backend.planner.gpu import detect_gpu_memory_gib
from backend.planner.memory import (
    Plan,
    PlanError,
    Recommendation,
    kv_bytes_per_token,
    plan,
    recommend_launch,
    smallest_gpu,
)
from backend.planner.model_specs import load_model_spec

__all__ = [
    "Plan",
    "PlanError",
    "Recommendation",
    "detect_gpu_memory_gib",
    "kv_bytes_per_token",
    "load_model_spec",
    "plan",
    "recommend_launch",
    "smallest_gpu",
]
