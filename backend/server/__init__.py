"""Everything that talks to a running vLLM: streaming client, reasoning splitter, /metrics."""
