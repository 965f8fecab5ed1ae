"""`callops <command> --help` documents every option (issue 18): each has a help text, a date says its
format, and each command's help describes the command."""

from __future__ import annotations

import argparse

import pytest

from callops import cli


def _commands() -> dict[str, argparse.ArgumentParser]:
    (subparsers,) = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


COMMANDS = _commands()


def test_every_command_is_walked():
    assert set(COMMANDS) >= {"run", "airflow", "sample", "simulate", "kpis", "rejects", "accept", "rollback", "rekey",
                             "erlang", "serving"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_every_command_has_help_and_a_date_says_its_format(name):
    command = COMMANDS[name]
    assert command.description, f"callops {name} --help has no description"
    undocumented = [
        "/".join(action.option_strings) or action.dest
        for action in command._actions
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS
    ]
    assert undocumented == [], f"callops {name}: options without help text: {undocumented}"
    for action in command._actions:
        if action.type is cli._day:
            assert action.metavar == "YYYY-MM-DD", f"callops {name} {action.option_strings}: say the date format"


def test_serving_grant_and_revoke_document_their_options(capsys):
    (actions,) = [a for a in COMMANDS["serving"]._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(actions.choices) == {"grant", "revoke"}
    for name, command in actions.choices.items():
        assert command.description, f"callops serving {name} --help has no description"
        assert all((action.help or "").strip() for action in command._actions), name
    with pytest.raises(SystemExit) as done:
        cli.main(["serving", "grant", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--tenant TENANT_ID the tenant whose rows the login sees" in text
    assert "--login NAME" in text and "connection string" in text


def test_kpis_help_describes_its_options(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["kpis", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "print the published daily KPIs" in text
    assert "--tenant TENANT_ID  only this tenant" in text
    assert "--start YYYY-MM-DD" in text and "--end YYYY-MM-DD" in text


def test_a_default_is_shown_once_and_none_is_not(capsys):
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--rotate-hour H local hour (0-23) at which Asterisk's queue_log is rotated (default: 0)" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert text.count("(default: the CPU count, at most 8)") == 1
