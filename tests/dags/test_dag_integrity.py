"""Every DAG imports cleanly and follows the house rules (docs/internals.md "Conventions")."""

from __future__ import annotations

import pytest

from callops import settings

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.dags_dir()))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "callops_pipeline" in dagbag.dag_ids


def test_house_rules(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.catchup is False, f"{dag_id} catches up"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"


def test_pipeline_tasks_retry_faults_and_write_through_the_single_writer_pool(dagbag):
    dag = dagbag.dags["callops_pipeline"]
    assert [t.task_id for t in dag.topological_sort()] == ["load", "build", "validate", "publish", "serve", "finish"]
    for task in dag.tasks:
        assert task.pool == "duckdb_writer", task.task_id
        if task.task_id != "finish":
            assert task.retries >= 2, task.task_id
    finish = dag.get_task("finish")
    assert finish.trigger_rule == "all_done"
    assert dag.get_task("serve").trigger_rule == "all_success"  # a failed publish is not served
    assert dag.max_active_runs == 1
    assert set(dag.params.keys()) == {"start", "end"}


def test_dag_files_only_wire_tasks():
    for path in settings.dags_dir().glob("*.py"):
        source = path.read_text()
        for heavy in ("import duckdb", "import pandas", "great_expectations", "from dbt", "import dbt"):
            assert heavy not in source, f"{path.name} imports {heavy}"
