"""GPU memory planner: vLLM's own start-up arithmetic, before vLLM starts.

``python -m backend.planner`` is the command line (``__main__.py``); this package is the
library it sits on.
"""

from backend.planner.gpu import detect_gpu_memory_gib
from backend.planner.memory import Plan, PlanError, kv_bytes_per_token, plan
from backend.planner.model_specs import load_model_spec
from backend.planner.recommend import Recommendation, recommend_launch, smallest_gpu

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
