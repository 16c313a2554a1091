#!/usr/bin/env bash
# Shared set-up steps for start.sh and scripts/test (source this file; it defines functions).
# Each step is idempotent: a stamp records which requirements file an environment was
# built from, so a second run skips straight to starting.

PYTHON=${PYTHON:-python3}

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# Create (or reuse) a virtualenv at $1 and install requirement file $2 into it.
ensure_venv() {
  local venv=$1 requirements=$2 stamp
  stamp="$venv/.installed-$(basename "$requirements")-$(sha256sum "$requirements" | cut -c1-16)"
  if [ -f "$stamp" ]; then
    return 0
  fi
  log "Setting up $venv from $requirements (first run only)"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  touch "$stamp"
}

ensure_frontend_env() {
  ensure_venv .venv requirements.txt
}

ensure_dev_env() {
  ensure_venv .venv requirements-dev.txt
  # requirements-dev.txt includes requirements.txt: the front end is set up too.
  touch ".venv/.installed-requirements.txt-$(sha256sum requirements.txt | cut -c1-16)"
}

has_nvidia_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
}

# vLLM gets its own environment: its mcp>=2 pin conflicts with Chainlit's mcp<2.
ensure_engine_env() {
  if has_nvidia_gpu; then
    ensure_venv .venv-engine requirements-engine-gpu.txt
  else
    ensure_venv .venv-engine requirements-torch-cpu.txt
    ensure_venv .venv-engine requirements-engine-cpu.txt
    # These come in as vLLM dependencies but do not match CPU torch and break
    # `import transformers` ("operator torchvision::nms does not exist").
    if .venv-engine/bin/python -m pip show -q torchvision torchaudio torchcodec >/dev/null 2>&1; then
      .venv-engine/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
    fi
  fi
}

# Debian packages the tests need: chromium for the browser tests, shellcheck for start.sh,
# prometheus (with promtool) for the monitoring tests, postgresql for the saved-conversation
# tests (they start their own server in a temp folder), nginx for the several-workers tests.
ensure_test_packages() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  nginx_binary >/dev/null 2>&1 || missing+=(nginx)
  apt_install "${missing[@]}"
}

# Debian's nginx, the front of several chat workers (start.sh with CHAT_WORKERS > 1).
ensure_proxy_packages() {
  nginx_binary >/dev/null 2>&1 || apt_install nginx
}

# nginx lives in /usr/sbin, which a user's PATH may lack.
nginx_binary() {
  command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

# Debian's prometheus for scripts/monitor.
ensure_monitor_packages() {
  command -v prometheus >/dev/null 2>&1 || apt_install prometheus
}

apt_install() {
  if [ $# -eq 0 ]; then
    return 0
  fi
  log "Installing $* (apt)"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}
