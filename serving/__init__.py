"""casebank's chat API: an OpenAI-compatible HTTP API (FastAPI) over the agent. Entry: `serving.app.create_app`."""
