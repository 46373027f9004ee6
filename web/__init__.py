"""The web app: member chat gateway, agent console and ops pages (FastAPI). See web/app.py."""
