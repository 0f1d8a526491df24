"""Locust's command line: with local workers, its master listens on loopback, on a free port."""

from __future__ import annotations

from pathlib import Path

from harness.run.orchestrate import locust_args


def _value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_the_master_binds_loopback_on_a_free_port_its_workers_are_told() -> None:
    args = locust_args("http://127.0.0.1:8000", Path("/tmp/x/locust"), workers=2)
    assert _value(args, "--processes") == "2"
    assert _value(args, "--master-bind-host") == "127.0.0.1"
    port = _value(args, "--master-bind-port")
    assert port != "5557"  # Locust's fixed default, on every interface
    assert _value(args, "--master-port") == port  # the forked workers connect there
    assert _value(args, "--master-host") == "127.0.0.1"


def test_without_workers_there_is_no_master() -> None:
    args = locust_args("http://127.0.0.1:8000", Path("/tmp/x/locust"))
    assert "--master-bind-port" not in args
    assert "--processes" not in args


def test_a_master_for_other_hosts_binds_loopback_unless_told() -> None:
    args = locust_args("http://127.0.0.1:8000", Path("/tmp/x/locust"), expect_workers=3)
    assert "--master" in args
    assert _value(args, "--expect-workers") == "3"
    assert _value(args, "--master-bind-host") == "127.0.0.1"
    assert _value(args, "--master-bind-port") == "5557"
    assert "--processes" not in args
    told = locust_args(
        "http://127.0.0.1:8000",
        Path("/tmp/x/locust"),
        expect_workers=2,
        master_bind=("10.0.0.5", 6000),
    )
    assert _value(told, "--master-bind-host") == "10.0.0.5"
    assert _value(told, "--master-bind-port") == "6000"


def test_locust_writes_its_own_html_report_where_asked() -> None:
    args = locust_args("http://127.0.0.1:8000", Path("/tmp/x/locust"), html=Path("/tmp/x/l.html"))
    assert _value(args, "--html") == "/tmp/x/l.html"
    assert "--html" not in locust_args("http://127.0.0.1:8000", Path("/tmp/x/locust"))
