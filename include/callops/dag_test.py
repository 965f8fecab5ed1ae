"""`callops run`'s Airflow process: ``python -m callops.dag_test dags test callops_pipeline ...``.

This is Airflow's own command line (``airflow.__main__.main``), so the run is a real ``airflow
dags test``. Two things are changed, and they change nothing that the run does or records:

1. **The in-process execution API builds only the API version its client uses.** ``dags test``
   runs each task through an in-process copy of Airflow's task execution API (FastAPI with Cadwyn
   versioning). On the first request, Cadwyn builds routers and model copies for every API version
   that Airflow 3.3.2 serves: ten versions, about 4.5 s before the first task starts (and 1.3 s
   more to build the app). In this process the only client is the Task SDK's, which sends
   ``API_VERSION``. The app is therefore built with that version alone (and without the routes
   that exist only in older versions). The OpenAPI document it serves for ``API_VERSION`` is the
   same as the full app's, which tests/include/test_dag_test.py checks. This replaces two module
   attributes of Airflow: a monkeypatch. It applies only on the Airflow and Cadwyn versions
   checked here. On any other version it is skipped and says so in the log.

2. **Cheaper garbage collection.** Airflow's imports run with the cyclic collector off, and their
   objects are then frozen (``gc.freeze``), so later full collections skip them. At exit the heap
   is frozen again: otherwise the interpreter's final collections walk all of Airflow, dbt and
   Great Expectations, which took 2-4 s after the last task had ended.
"""

from __future__ import annotations

import gc
import sys

# Checked together: the execution API's version bundle and routes, and Cadwyn's route marker.
NARROWED_ON = {"apache-airflow": ("3.3.2",), "cadwyn": ("7.0.0",)}


def narrowed_execution_api() -> tuple[tuple | None, str | None]:
    """((bundle, router), None): the task execution API's version bundle with only the version the
    Task SDK's client sends, and its router without the routes that exist only in older versions.
    (None, reason) when the installed Airflow or Cadwyn is not one this was checked on."""
    import copy
    from importlib.metadata import version

    for package, checked in NARROWED_ON.items():
        if version(package) not in checked:
            return None, f"{package} {version(package)} is not one of {checked}"
    from airflow.api_fastapi.execution_api import routes, versions
    from airflow.sdk.api.datamodels._generated import API_VERSION
    from cadwyn import HeadVersion, Version, VersionBundle
    from cadwyn.route_generation import _DELETED_ROUTE_TAG

    if versions.bundle.versions[0].value != API_VERSION or versions.bundle.head_version.changes:
        return None, f"the newest execution API version is not the client's {API_VERSION}"
    router = copy.copy(routes.execution_api_router)
    router.routes = [r for r in router.routes if _DELETED_ROUTE_TAG not in (getattr(r, "tags", None) or ())]
    return (VersionBundle(HeadVersion(), Version(API_VERSION)), router), None


def narrow_execution_api() -> str | None:
    """Make the in-process execution API serve the client's version alone (module docstring);
    returns why not when it does not apply."""
    narrowed, reason = narrowed_execution_api()
    if narrowed is None:
        return reason
    from airflow.api_fastapi.execution_api import routes, versions

    # create_task_execution_api_app() imports both names from these modules when it runs
    versions.bundle, routes.execution_api_router = narrowed
    return None


def main() -> None:
    gc.disable()  # imports make long-lived objects, not garbage cycles
    try:
        from airflow.__main__ import main as airflow_main  # first: it imports Airflow's configuration first
        # isort: split
        import airflow.cli.commands.dag_command  # noqa: F401  (`dags test` imports it anyway)

        skipped = narrow_execution_api()
    finally:
        gc.freeze()
        gc.enable()
    if skipped:
        print(f"callops.dag_test: the full execution API is built ({skipped})", file=sys.stderr, flush=True)
    sys.argv[0] = "airflow"
    try:
        airflow_main()
    finally:
        gc.freeze()  # the exit (also a failed run's SystemExit) skips the final walks of the heap


if __name__ == "__main__":
    main()
