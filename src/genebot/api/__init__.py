"""The HTTP API (FastAPI): the dashboard and scripts are its clients. So far: health, tokens
with roles, and the trading-safety status and admin reset over the database."""
