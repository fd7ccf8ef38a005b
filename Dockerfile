# genebot: one image for `genebot run` (paper or live) and `genebot serve`.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 genebot
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .
COPY config ./config
COPY data/sample ./data/sample
RUN mkdir -p /app/logs /app/.genebot && chown -R genebot:genebot /app
USER genebot

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"
# The API beyond the container needs GENEBOT_API_ADMIN_TOKEN (it refuses to start without).
CMD ["genebot", "serve", "--host", "0.0.0.0", "--config", "config/backtest.yaml"]
