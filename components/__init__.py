"""Custom Rasa NLU components (loaded by the Rasa server in .venv-rasa)."""
