"""The interactive page (``make app``): teach, plan and explore views on the CLI's own API and figures."""
