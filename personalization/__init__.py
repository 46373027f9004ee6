"""Personalization engine of the member-service assistant.

Member store (SQLAlchemy models), demo data generator (:mod:`personalization.seed`),
services the actions call (:mod:`personalization.services`) and a JSON CLI
(``python -m personalization``). Importing the package has no side effects.
"""
