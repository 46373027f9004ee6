"""Custom actions of the member-service assistant, one module per feature.

Run with ``python -m rasa_sdk --actions actions``. The action server registers every
``Action`` subclass it finds in the modules of this package.
"""
