"""docker-compose.yml (the production-like Airflow stack) is valid and wired as docs/operations.md says
("Running with docker compose").

Docker does not run on CI, so the file is checked statically: against the Compose specification
schema (check-jsonschema's vendored copy, no network) and by reading the parsed YAML.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from callops import pseudonym, settings, tasks

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)(?::?[-?][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def common_env(compose) -> dict:
    return compose["x-airflow-common"]["environment"]


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", "--no-cache", str(path)],
        capture_output=True,
        text=True,
    )


def _locked_version(package: str) -> str:
    for line in (REPO / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    raise AssertionError(f"{package} is not pinned in requirements.lock")


def _volume(spec: str | dict) -> tuple[str, str]:
    """(source, target) of a mount; the source may be a ${VAR:-default} substitution."""
    if isinstance(spec, dict):
        return spec["source"], spec["target"]
    source, target = re.match(r"^(\$\{[^}]*\}|[^:]+):([^:]+)", spec).groups()
    return source, target


def _image_tag_is_exact(image: str) -> bool:
    """name:tag with a literal tag naming at least major.minor (not `latest`, not `17`, no variable)."""
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and "$" not in image and "latest" not in tag and bool(
        re.search(r"\d+\.\d+", tag)
    )


def _dockerfile(compose: dict) -> Path:
    build = compose["x-airflow-common"]["build"]
    return REPO / build["context"] / build["dockerfile"]


def test_validates_against_the_compose_specification():
    done = _check_jsonschema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_does_reject_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  postgres:\n    image: postgres:17.6-bookworm\n    environmnet: {}\n")
    done = _check_jsonschema(broken)
    assert done.returncode != 0 and "environmnet" in done.stdout + done.stderr


def test_the_four_airflow_services_postgres_and_the_init_job(compose):
    services = compose["services"]
    for name in (*AIRFLOW_SERVICES, "airflow-init", "postgres"):
        assert name in services, name
    assert services["airflow-apiserver"]["command"] == "api-server"
    assert services["airflow-scheduler"]["command"] == "scheduler"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert services["airflow-triggerer"]["command"] == "triggerer"
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["healthcheck"]["test"], name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name


def test_init_migrates_creates_the_writer_pool_and_the_admin_login(compose, common_env):
    script = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in script
    assert f"airflow pools set {tasks.WRITER_POOL} 1 " in script
    assert "CALLOPS_AIRFLOW_ADMIN_PASSWORD" in script
    assert common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    passwords = common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords.startswith(common_env["CALLOPS_HOME"] + "/"), "the API server must see the file init writes"
    admin_password = compose["services"]["airflow-init"]["environment"]["CALLOPS_AIRFLOW_ADMIN_PASSWORD"]
    assert INTERPOLATION.match(admin_password)
    assert "CALLOPS_AIRFLOW_ADMIN_PASSWORD" not in common_env, "only the init job needs the admin password"


def test_every_image_tag_is_pinned_exactly(compose):
    images = [service["image"] for service in compose["services"].values() if "image" in service]
    from_lines = re.findall(r"^FROM\s+(\S+)", _dockerfile(compose).read_text(), flags=re.MULTILINE)
    assert from_lines, "the Dockerfile has no FROM"
    for image in [*images, *from_lines]:
        assert _image_tag_is_exact(image), image


def test_the_airflow_image_is_the_locked_airflow_on_python_311(compose):
    (base,) = re.findall(r"^FROM\s+(\S+)", _dockerfile(compose).read_text(), flags=re.MULTILINE)
    assert base == f"apache/airflow:slim-{_locked_version('apache-airflow')}-python3.11"


def test_the_dockerfile_installs_the_runtime_dependencies_at_the_locked_versions_and_the_package(compose):
    dockerfile = _dockerfile(compose)
    assert dockerfile.is_file(), dockerfile
    text = dockerfile.read_text().replace("\\\n", " ")  # one line per instruction
    assert re.search(r"^COPY .*\brequirements\.lock\b", text, flags=re.MULTILINE)
    # pyproject.toml's runtime `dependencies`, constrained by the lock: never the whole lock, which also
    # pins the dev extra's test tooling (tests/test_packaging.py: nothing at runtime requires it)
    assert re.search(r"^COPY .*\bpyproject\.toml\b.* /opt/callops/\s*$", text, flags=re.MULTILINE)
    assert '["project"]["dependencies"]' in text and "optional-dependencies" not in text
    install = r"^RUN .*\bpip install\b[^&]*"
    assert re.search(install + r" -c /opt/callops/requirements\.lock\b", text, flags=re.MULTILINE)
    assert re.search(install + r" -r /tmp/callops-runtime\.txt\b", text, flags=re.MULTILINE)
    assert re.search(install + r" -r /opt/callops/include/docker/requirements\.txt\b", text, flags=re.MULTILINE)
    assert not re.search(r"-r\s+\S*requirements\.lock\b", text), "the whole lock would bring pytest into the image"
    assert "--constraint" not in text, "the lock plays the constraints file's part, not Airflow's"
    assert re.search(r"^RUN .*\bpip install --no-cache-dir --no-deps -e /opt/callops\b", text, flags=re.MULTILINE)
    extra = REPO / "include" / "docker" / "requirements.txt"
    pins = [line.strip() for line in extra.read_text().splitlines() if line.strip() and not line.startswith("#")]
    for pin in pins:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", pin), pin
    # the metadata database URL is postgresql+psycopg2://, and Airflow 3 derives its async engine from it
    # as postgresql+asyncpg:// (without asyncpg every airflow command fails)
    assert {pin.partition("==")[0] for pin in pins} >= {"psycopg2-binary", "asyncpg"}


def test_published_ports_bind_loopback_only(compose):
    published = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", (name, port)
            else:
                assert str(port).startswith("127.0.0.1:"), (name, port)
            published[name] = port
    assert published == {
        "airflow-apiserver": "127.0.0.1:${CALLOPS_AIRFLOW_PORT:-8080}:8080",
        "serving-db": "127.0.0.1:${CALLOPS_SERVING_DB_PORT:-5433}:5432",
    }


def test_the_serving_database_has_its_own_volume_and_is_the_default_serving_url(compose, common_env):
    service = compose["services"]["serving-db"]
    assert service["volumes"] == ["serving-data:/var/lib/postgresql/data"] and "serving-data" in compose["volumes"]
    assert service["environment"]["POSTGRES_USER"] == "callops" and service["healthcheck"]["test"]
    assert common_env["CALLOPS_SERVING_URL"].startswith("${CALLOPS_SERVING_URL:-postgresql://callops:")
    assert "@serving-db:5432/callops}" in common_env["CALLOPS_SERVING_URL"]


def test_local_executor_on_postgres_with_parallelism_4(compose, common_env):
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert str(common_env["AIRFLOW__CORE__PARALLELISM"]) == "4"
    assert str(common_env["AIRFLOW__CORE__LOAD_EXAMPLES"]) == "False"
    conn = common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    password = r"\$\{CALLOPS_POSTGRES_PASSWORD:\?[^}]*\}"
    assert re.fullmatch(rf"postgresql\+psycopg2://airflow:{password}@postgres:5432/airflow", conn)
    postgres = compose["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == "airflow"
    assert postgres["environment"]["POSTGRES_USER"] == "airflow"
    assert "ports" not in postgres


def test_telemetry_is_off(common_env):
    assert str(common_env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"]) == "False"
    assert str(common_env["DO_NOT_TRACK"]) == "1"
    assert str(common_env["GX_ANALYTICS_ENABLED"]) == "False"


def test_every_airflow_service_shares_the_common_environment_and_mounts(compose, common_env):
    common_volumes = compose["x-airflow-common"]["volumes"]
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        service = compose["services"][name]
        for key, value in common_env.items():
            assert service["environment"].get(key) == value, (name, key)
        assert service["volumes"] == common_volumes, name


def test_the_checkout_is_mounted_and_the_dags_folder_is_its_dags(compose, common_env):
    mounts = dict(_volume(spec)[::-1] for spec in compose["x-airflow-common"]["volumes"])
    project = common_env["CALLOPS_PROJECT_DIR"]
    assert mounts[common_env["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags"
    assert mounts[f"{project}/dbt_project"] == "./dbt_project"
    assert mounts[f"{project}/expectations"] == "./expectations"
    assert mounts[f"{project}/include"] == "./include"
    assert mounts[common_env["CALLOPS_CONFIG"]] == "./callops.yml"
    data = re.fullmatch(r"\$\{CALLOPS_DATA_DIR:-(?P<default>[a-z-]+)\}", mounts.pop(common_env["CALLOPS_HOME"]))
    assert data and data.group("default") in compose["volumes"], "CALLOPS_HOME: a named volume unless overridden"
    for source in mounts.values():
        assert not source.startswith("/"), f"{source}: mount the checkout relatively"


def _callops_env_vars() -> set[str]:
    names = {value for name, value in vars(settings).items() if name.endswith("_ENV") and isinstance(value, str)}
    names.add(pseudonym.KEY_ENV)
    return names


def test_every_callops_setting_is_in_the_common_environment(common_env):
    wanted = _callops_env_vars()
    assert {"CALLOPS_HOME", "CALLOPS_CONFIG", "CALLOPS_PROJECT_DIR", "CALLOPS_PSEUDONYM_KEY"} <= wanted
    missing = wanted - set(common_env)
    assert not missing, f"set in x-airflow-common.environment: {sorted(missing)}"
    assert "CALLOPS_ALERT_WEBHOOK_URL" in common_env


def test_secrets_come_from_the_environment_never_literals(compose):
    secret = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$")
    for name, service in [("x-airflow-common", compose["x-airflow-common"]), *compose["services"].items()]:
        for key, value in (service.get("environment") or {}).items():
            if secret.search(key) and not key.endswith("_FILE"):
                match = INTERPOLATION.match(str(value))
                assert match, f"{name}: {key} must be ${{...}} from the environment / .env"
                assert ":?" in str(value), f"{name}: {key} must be required (${{VAR:?message}})"
    assert INTERPOLATION.match(compose["x-airflow-common"]["environment"]["CALLOPS_PSEUDONYM_KEY"]).group("name") == (
        pseudonym.KEY_ENV
    )
