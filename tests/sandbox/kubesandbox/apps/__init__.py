"""Programs the sandbox runs as pods."""
