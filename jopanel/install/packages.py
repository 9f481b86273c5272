"""The Debian packages JoPanel drives on a server (scripts/ensure-system.sh installs
these and the test suite's extras)."""

from __future__ import annotations

from ..system.runner import Runner

RUNTIME_PACKAGES = (
    "passwd", "login", "nginx", "php8.2-fpm", "php8.2-cli", "openssh-server",
    "mariadb-server", "mariadb-client", "acl", "zip", "unzip", "publicsuffix", "cron",
    "quota", "e2fsprogs",
)  # fmt: skip


def missing_packages(runner: Runner, packages: tuple[str, ...] = RUNTIME_PACKAGES) -> list[str]:
    """The packages dpkg does not list as installed."""
    missing = []
    for name in packages:
        done = runner.run(["dpkg-query", "-W", "-f=${Status}", name], check=False)
        if "install ok installed" not in done.stdout:
            missing.append(name)
    return missing


def install_packages(runner: Runner, names: list[str]) -> None:
    """apt-get install, non-interactive, without recommends."""
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    runner.run(["apt-get", "update", "-qq"], env=env, timeout=600)
    runner.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *names],
        env=env,
        timeout=1800,
    )
