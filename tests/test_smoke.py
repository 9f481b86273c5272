from pathlib import Path

from tests.conftest import Op, cli, new_user


def test_create_and_show_through_cli(root: Path) -> None:
    cli(
        root,
        "user",
        "create",
        "joko",
        "--domain",
        "joko.example.com",
        "--email",
        "j@example.com",
        "--password-stdin",
        input="a long password\n",
    )
    shown = cli(root, "--json", "user", "show", "joko")
    assert '"username": "joko"' in shown.stdout


def test_in_process_create(op: Op, root: Path) -> None:
    result = new_user(op)
    assert result.changed is True
    assert (root / "home/joko/public_html/index.html").is_file()
