"""Launch and stop vLLM: resolve the model, build the command, profiles, status file."""
