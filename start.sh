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
settings=$(.venv/bin/python -m backend.preflight)
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

# Wait (up to 5 minutes) until something answers HTTP on 127.0.0.1:$1; fail if a process
# this script started has stopped meanwhile.
wait_listening() {
  local deadline=$((SECONDS + 300))
  until curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/"; do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { log "A process stopped while starting (pid $pid)"; return 1; }
    done
    [ "$SECONDS" -lt "$deadline" ] || { log "Nothing answers on port $1 after 5 minutes"; return 1; }
    sleep 0.5
  done
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

if [ "$CHAT_WORKERS" -gt 1 ]; then
  # Several chat workers on loopback behind nginx on HOST:PORT (backend/proxy/nginx.py).
  ensure_proxy_packages
  layout=$(.venv/bin/python -m backend.proxy) # refuses a PORT that is taken
  eval "$layout"
  .venv/bin/python -m backend.store # migrate once: the workers must not race to do it
  for worker_port in $WORKER_PORTS; do
    log "Starting chat worker on 127.0.0.1:$worker_port"
    .venv/bin/chainlit run app.py --headless --host 127.0.0.1 --port "$worker_port" &
    pids+=($!)
  done
  for worker_port in $WORKER_PORTS; do
    wait_listening "$worker_port"
  done
  log "Starting nginx: the chat on http://localhost:$PORT over $CHAT_WORKERS workers" \
    "(log: $NGINX_PREFIX/error.log)"
  "$(nginx_binary)" -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e "$NGINX_PREFIX/error.log" \
    -g 'daemon off;' &
  pids+=($!)
else
  log "Starting the chat on http://localhost:$PORT"
  .venv/bin/chainlit run app.py --headless --host "$HOST" --port "$PORT" &
  pids+=($!)
fi

# Whichever stops first (Ctrl-C, a crash), the trap stops the others.
status=0
wait -n "${pids[@]}" || status=$?
exit "$status"
