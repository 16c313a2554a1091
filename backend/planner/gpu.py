"""GPU memory and FP8 support: detection through nvidia-smi and a catalog of common cards.

Contract: `detect_gpu_memory_gib()` returns the first GPU's memory in GiB as CUDA reports it
to vLLM, or None when nvidia-smi is absent, fails or prints nonsense; it never raises.
`detect_compute_capability()` returns the first GPU's (major, minor) or None, likewise;
`supports_fp8(cc)` says whether FP8 matrix units are there (compute capability 8.9 or newer:
Ada L4/L40S/RTX 4090, Hopper H100/H200, Blackwell), which is what the `fast` profile needs.

GB vs GiB: cards are sold in decimal-ish "GB", vLLM logs binary GiB (2**30 bytes) of what
`cudaMemGetInfo` reports, which excludes memory the driver reserves. nvidia-smi's
`memory.total` includes that reserve (e.g. H200: 143771 MiB = 140.4 GiB, but vLLM sees 139.8
GiB), so detection subtracts `memory.reserved` when the driver reports it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

MIB_PER_GIB = 1024
NVIDIA_SMI_TIMEOUT_S = 10


@dataclass(frozen=True)
class GpuCard:
    name: str
    marketing_gb: int
    usable_gib: float  # what CUDA reports as total memory, i.e. what vLLM multiplies


# usable_gib: the total torch/vLLM logs on each card (the smallest of the named cards).
GPU_CATALOG: tuple[GpuCard, ...] = (
    GpuCard("T4 16GB", 16, 14.75),
    GpuCard("L4 / A10 / RTX 4090 24GB", 24, 22.0),
    GpuCard("RTX 5090 32GB", 32, 31.3),
    GpuCard("A100-40GB", 40, 39.4),
    GpuCard("L40S / RTX A6000 48GB", 48, 44.4),
    GpuCard("A100-80GB / H100 80GB", 80, 79.1),
    GpuCard("H100 NVL 94GB", 94, 93.1),
    GpuCard("H200 141GB", 141, 139.8),
)


def card_for_marketing_gb(marketing_gb: int) -> GpuCard | None:
    return next((card for card in GPU_CATALOG if card.marketing_gb == marketing_gb), None)


def _query(fields: str) -> list[str] | None:
    try:
        done = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    return [part.strip() for part in lines[0].split(",")]  # first GPU only


def parse_mib(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None  # e.g. "[N/A]" or "[Not Supported]"
    return value if value > 0 else None


FP8_MIN_COMPUTE_CAPABILITY = (8, 9)


def parse_compute_capability(text: str) -> tuple[int, int] | None:
    """``"9.0"`` -> ``(9, 0)``; anything else -> None."""
    major, _, minor = text.strip().partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def detect_compute_capability() -> tuple[int, int] | None:
    """First GPU's compute capability from nvidia-smi, or None (no GPU, old driver)."""
    fields = _query("compute_cap")
    return parse_compute_capability(fields[0]) if fields else None


def supports_fp8(compute_capability: tuple[int, int] | None) -> bool:
    return compute_capability is not None and compute_capability >= FP8_MIN_COMPUTE_CAPABILITY


def detect_gpu_memory_gib() -> float | None:
    """First GPU's memory in GiB (total minus driver-reserved), or None without a GPU."""
    fields = _query("memory.total,memory.reserved")
    if fields is None:  # older drivers do not know memory.reserved
        fields = _query("memory.total")
    if not fields:
        return None
    total_mib = parse_mib(fields[0])
    if total_mib is None:
        return None
    reserved_mib = parse_mib(fields[1]) if len(fields) > 1 else None
    if reserved_mib is not None and reserved_mib < total_mib:
        total_mib -= reserved_mib
    return round(total_mib / MIB_PER_GIB, 2)
