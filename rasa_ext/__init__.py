"""Extensions loaded by the Rasa server process (``.venv-rasa``) through ``endpoints.yml``."""
