"""callops.dag_test: `callops run`'s `airflow dags test` builds the in-process execution API with the
Task SDK client's version alone, and serves that version exactly as the full API does."""

from __future__ import annotations

import pytest

from callops import dag_test

# fastapi.testclient warns on import that it runs on httpx (the in-process API itself does too)
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def _openapi(version: str) -> dict:
    from airflow.api_fastapi.execution_api.app import create_task_execution_api_app
    from fastapi.testclient import TestClient

    response = TestClient(create_task_execution_api_app()).get("/openapi.json", params={"version": version})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.airflow
def test_the_narrowed_api_serves_the_clients_version_exactly_as_the_full_api(monkeypatch):
    from airflow.api_fastapi.execution_api import routes, versions
    from airflow.sdk.api.datamodels._generated import API_VERSION

    full = _openapi(API_VERSION)
    narrowed, reason = dag_test.narrowed_execution_api()
    assert reason is None, reason
    bundle, router = narrowed
    assert [v.value for v in bundle.versions] == [API_VERSION]
    assert len(versions.bundle.versions) > 1  # what it saves: a router and model copies per version
    monkeypatch.setattr(versions, "bundle", bundle)
    monkeypatch.setattr(routes, "execution_api_router", router)
    served = _openapi(API_VERSION)
    assert served["paths"] and served == full


def test_on_an_unchecked_airflow_it_builds_the_full_api(monkeypatch):
    from airflow.api_fastapi.execution_api import routes, versions

    before = (versions.bundle, routes.execution_api_router)
    monkeypatch.setattr(dag_test, "NARROWED_ON", {"apache-airflow": ("0.0.0",), "cadwyn": ("7.0.0",)})
    reason = dag_test.narrow_execution_api()
    assert reason is not None and "apache-airflow" in reason
    assert (versions.bundle, routes.execution_api_router) == before


def test_callops_run_runs_the_dag_through_it(monkeypatch, tmp_path):
    from callops import airflow_runner

    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))

        class Done:
            returncode = 0

        return Done()

    monkeypatch.setattr(airflow_runner, "ensure_metadata_db", lambda: None)
    monkeypatch.setattr(airflow_runner, "_airflow", fake)
    assert airflow_runner.run_pipeline("2026-03-01", "2026-03-01", "r1", tmp_path / "r1.log") == 0
    (args, kwargs), = calls
    assert args[:3] == ("dags", "test", "callops_pipeline") and kwargs["module"] == "callops.dag_test"
    # parsed from its own file, not the whole DAG folder (dags test still syncs the folder's DAGs)
    assert args[args.index("--dagfile-path") + 1].endswith("dags/callops_pipeline.py")
