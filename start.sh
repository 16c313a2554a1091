#!/usr/bin/env bash
# Qwen3 Hybrid Chat: set everything up on first run, then start vLLM and the chat.
# Open http://localhost:${PORT:-8000}. Ctrl-C stops both.
# When VLLM_BASE_URL points at a server that is already running, only the chat starts.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

ensure_frontend_env
# The resolved configuration (.env + environment), as shell assignments.
settings=$(.venv/bin/python -m backend.config)
eval "$settings"

pids=()
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_up() {
  curl -fsS -m 3 "$SERVER_ROOT/health" >/dev/null 2>&1 ||
    curl -fsS -m 3 -H "Authorization: Bearer ${VLLM_API_KEY:-EMPTY}" "$VLLM_BASE_URL/models" >/dev/null 2>&1
}

if server_up; then
  log "Using the model server already running at $VLLM_BASE_URL"
else
  ensure_engine_env
  if [ -z "${VLLM_API_KEY:-}" ]; then
    VLLM_API_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')
  fi
  export VLLM_API_KEY
  choices=$(.venv/bin/python -m backend.engine env)
  eval "$choices"
  export SERVED_MODEL_NAME DEMO_MODEL
  if [ "${DEMO_MODEL:-0}" = 1 ]; then
    log "Serving the bundled demo model (not Qwen3-4B)${DEMO_REASON:+: $DEMO_REASON}"
  fi
  log "Starting vLLM on $VLLM_BASE_URL (log: .run/vllm.log)"
  .venv/bin/python -m backend.engine serve --plan "$LAUNCH_PLAN" &
  pids+=($!)
fi

log "Starting the chat on http://localhost:$PORT"
.venv/bin/chainlit run app.py --headless --host "$HOST" --port "$PORT" &
pids+=($!)

# Whichever stops first (Ctrl-C, a crash), the trap stops the other.
status=0
wait -n "${pids[@]}" || status=$?
exit "$status"
