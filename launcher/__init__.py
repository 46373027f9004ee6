"""Starts and stops the product's processes: the Rasa server and the action server (web app later)."""
