"""The deployment files: the compose file's services and what they mount exist, the image
runs as a non-root user with a healthcheck on /health, .env.example names every variable
genebot reads, and the systemd unit passes `systemd-analyze verify` (where it exists)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deployment"
GRAFANA = DEPLOY / "grafana"
VARIABLES = (
    "GENEBOT_API_ADMIN_TOKEN",
    "GENEBOT_API_VIEWER_TOKEN",
    "GENEBOT_SECRET_KEY",
    "DATABASE_URL",
    "GENEBOT_LIVE_CONFIRM",
    "SMTP_SERVER",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_TLS",
    "ALERT_EMAIL_TO",
    "SLACK_WEBHOOK_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
)


def test_compose_services_and_mounts() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"trading-bot", "postgres", "prometheus", "grafana"}
    bot = services["trading-bot"]
    assert "/health" in " ".join(bot["healthcheck"]["test"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).is_file()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not source.endswith("/token"):  # the token: yours
                assert (DEPLOY / source).exists(), source
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    assert job["static_configs"][0]["targets"] == ["trading-bot:8000"]
    assert list((DEPLOY / "grafana" / "dashboards").glob("*.json"))


def test_grafana_provisioning_finds_the_dashboards_and_the_datasource() -> None:
    """Grafana (compose) reads the provisioning folder, whose dashboard provider points at
    where the dashboards are mounted, and every dashboard defaults to the provisioned
    Prometheus datasource's uid."""
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "genebot.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == mounts["./grafana/dashboards"]
    sources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    source = sources["datasources"][0]
    url = urlsplit(source["url"])  # the compose service's name, inside the compose network
    assert source["type"] == "prometheus" and url.hostname in services and url.port == 9090
    assert "127.0.0.1:9090:9090" in services["prometheus"]["ports"]
    boards = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert len(boards) >= 4
    for path in boards:
        board = json.loads(path.read_text())
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["DS_PROMETHEUS"]["current"]["value"] == source["uid"], path.name


def test_no_dangling_dashboard_references() -> None:
    """Every ``dashboards/<file>.json`` the docs and deployment files name exists, and the
    Grafana README names every dashboard file."""
    names = {path.name for path in (GRAFANA / "dashboards").glob("*.json")}
    readme = (GRAFANA / "README.md").read_text()
    texts = [ROOT / "README.md", GRAFANA / "README.md", DEPLOY / "docker-compose.yml"]
    texts += sorted((GRAFANA / "provisioning").rglob("*.yml"))
    for path in texts:
        for named in re.findall(r"dashboards/([\w.-]+\.json)", path.read_text()):
            assert named in names, f"{path.name} names dashboards/{named}: no such file"
    for name in names:
        assert f"dashboards/{name}" in readme, f"{name}: not in {GRAFANA / 'README.md'}"


def test_image_is_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "USER genebot" in text and "HEALTHCHECK" in text and "/health" in text
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_env_example_names_every_variable() -> None:
    text = (ROOT / ".env.example").read_text()
    names = {line.split("=")[0] for line in text.splitlines() if "=" in line}
    assert set(VARIABLES) <= names


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "genebot.service").read_text()
    genebot = shutil.which("genebot") or str(Path(ROOT / ".venv" / "bin" / "genebot"))
    local = (
        unit.replace("/opt/genebot/.venv/bin/genebot", genebot)
        .replace("User=genebot", "User=root")
        .replace("WorkingDirectory=/opt/genebot", f"WorkingDirectory={tmp_path}")
        .replace("EnvironmentFile=/opt/genebot/.env", "EnvironmentFile=-/nonexistent.env")
    )
    path = tmp_path / "genebot.service"
    path.write_text(local)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Restart=on-failure" in unit and "genebot run --live --yes" in unit
