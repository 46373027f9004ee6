"""Data protection: PII detection and masking, the log filter, encryption at rest, the audit log.

Submodules are imported where they are needed (``pii`` and ``log_filter`` need only the standard
library, so the Rasa server's environment can use them; ``crypto`` needs ``cryptography`` and
SQLAlchemy; ``audit`` needs the app's models).
"""
