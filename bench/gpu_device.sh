#!/usr/bin/env bash
# On the GPU test machine, from a copy of this repository: set up once, then measure.
# (bench/gpu_notes.md has the whole recipe: which wheels travel where, in which calls.)
#
#   bash bench/gpu_device.sh engine-venv          # vLLM 0.26.0 in /tmp/venv-engine (early call)
#   bash bench/gpu_device.sh prep                 # venvs in /tmp, /tmp/q4b (bf16), /tmp/q4b-fp8
#   bash bench/gpu_device.sh engine SECONDS JOB.. # bench.gpu_profiles, results under $OUT
#   bash bench/gpu_device.sh relay SECONDS [gpu_relay flags]  # start.sh, then bench.gpu_relay
#
# prep expects the vLLM chunks in /tmp/vllm-parts, its dependency wheels in /tmp/deps, the
# chat's wheels in /tmp/fe-wheels and the model kit (qwen3-4b-dummy, product-on-device) in
# /tmp/kit. Every step is skipped when its result is already there.
set -euo pipefail
out=${OUT:-/tmp/out}
kit=/tmp/kit

engine_venv() {  # the engine half of product-on-device/prep-on-device.sh
  [ -x /tmp/venv-engine/bin/python ] && return
  local torch_site
  torch_site=$(python3 -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))')
  python3 -m venv /tmp/venv-engine
  echo "$torch_site" > /tmp/venv-engine/lib/python3.12/site-packages/zz-machine-torch.pth
  cat /tmp/vllm-parts/chunk.* > /tmp/vllm-0.26.0-cp38-abi3-manylinux_2_28_x86_64.whl
  /tmp/venv-engine/bin/python -m pip install -q --no-index --no-deps --no-compile \
    /tmp/deps/*.whl /tmp/vllm-0.26.0-cp38-abi3-manylinux_2_28_x86_64.whl
  /tmp/venv-engine/bin/python -c "import vllm, torch; print('vllm', vllm.__version__, torch.__version__)"
}

prep() {
  bash "$kit/product-on-device/prep-on-device.sh" "$kit/qwen3-4b-dummy"
  if [ ! -f /tmp/q4b-fp8/config.json ]; then
    python3 -m bench.fp8_checkpoint "$kit/qwen3-4b-dummy" /tmp/q4b-fp8 --device cuda
  fi
  du -sh /tmp/q4b-fp8
  if [ -d /tmp/whl ] && [ ! -x /tmp/venv-fe/bin/py-spy ]; then
    /tmp/venv-fe/bin/python -m pip install -q --no-index --no-deps /tmp/whl/*.whl || true
  fi
}

engine() {
  local seconds=$1
  shift
  local jobs=()
  for j in "$@"; do jobs+=(--job "$j"); done
  export VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
  /tmp/venv-fe/bin/python -m bench.gpu_profiles --out "$out" --deadline-s "$seconds" \
    --model "$kit/qwen3-4b-dummy" --fp8-model /tmp/q4b-fp8 \
    --server-python /tmp/venv-engine/bin/python --job-min-s 120 "${jobs[@]}"
}

wait_url() {  # URL SECONDS
  local i
  for ((i = 0; i < $2; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 1
  done
  echo "no answer from $1 after $2 s" >&2
  return 1
}

# The product as a GPU user starts it: by default the bf16 checkpoint /tmp/q4b; RELAY_MODEL and
# RELAY_SERVED pick another (the block-FP8 one: /tmp/q4b-fp8, Qwen/Qwen3-4B-FP8). CHAT_WORKERS
# passes through to start.sh; a portable nginx in /tmp/nginx/bin is used when the machine has none.
# RELAY_STALL=1 first times the fresh server's first sampled batches (bench/sampler_stall.py).
relay() {
  local seconds=$1 pid rc=0
  shift
  mkdir -p /tmp/relay-work
  [ -d /tmp/nginx/bin ] && export PATH="/tmp/nginx/bin:$PATH"
  rm -rf .run
  MODEL=${RELAY_MODEL:-/tmp/q4b} SERVED_MODEL_NAME=${RELAY_SERVED:-Qwen/Qwen3-4B} \
    VLLM_API_KEY=k VLLM_USE_FLASHINFER_SAMPLER=0 HF_HUB_OFFLINE=1 \
    setsid ./start.sh > /tmp/relay-work/start.log 2>&1 < /dev/null &
  pid=$!
  if wait_url http://127.0.0.1:8001/health 240 && wait_url http://127.0.0.1:8000/ 60; then
    echo "product ready after $SECONDS s"
    if [ -n "${RELAY_STALL:-}" ]; then  # first sampled batches of a fresh server, timed
      /tmp/venv-fe/bin/python -m bench.sampler_stall --base-url http://127.0.0.1:8001/v1 \
        --api-key k --cache-dir "$HOME/.triton/cache" --wave greedy:16 --wave sampled:4 \
        --wave sampled:16 --wave sampled:16 --wave sampled:64 > "$out/sampler-stall.jsonl" || true
    fi
    VLLM_API_KEY=k PYTHONUNBUFFERED=1 /tmp/venv-fe/bin/python -m bench.gpu_relay --out "$out" \
      --deadline-s $((seconds - SECONDS - 45)) "$@" || rc=$?
  else
    rc=3
  fi
  kill -INT -- "-$pid" 2> /dev/null || true
  for _ in $(seq 30); do kill -0 -- "-$pid" 2> /dev/null || break; sleep 1; done
  kill -KILL -- "-$pid" 2> /dev/null || true
  cp -r .run /tmp/relay-work/run 2> /dev/null || true
  tar -czf "$out/relay-logs.tgz" -C /tmp relay-work
  return $rc
}

case ${1:-} in
  engine-venv) engine_venv ;;
  prep) prep ;;
  engine) shift; engine "$@" ;;
  relay) shift; relay "$@" ;;
  *) echo "usage: gpu_device.sh engine-venv | prep | engine SECONDS JOB.. | relay SECONDS" >&2
    exit 2 ;;
esac
