"""`check_configs`: the live nginx, PHP-FPM and sshd files JoPanel wrote, checked again
with the same staged `nginx -t` / `php-fpm -t` / `sshd -t` a change gets (`jopanel doctor`)."""

from __future__ import annotations

from ...errors import JoPanelError
from ...system.phpfpm import installed_versions
from ...system.staging import ConfigFamily
from ..context import Call
from ..hosting import Hosting
from ..registry import OpResult, Payload, op


class CheckConfigs(Payload):
    pass


@op("check_configs", CheckConfigs, target=None, reads_only=True)
def check_configs(call: Call, _p: CheckConfigs) -> OpResult:
    """[{family, files, ok, error}] for nginx, each installed PHP-FPM and sshd."""
    hosting = Hosting(call.ctx)
    families: list[ConfigFamily] = [hosting.nginx, *map(hosting.php, installed_versions())]
    families.append(hosting.sshd)
    rows = []
    for family in families:
        live = {n: c for n in family.live_names() if (c := family.read_live(n)) is not None}
        row: dict[str, object] = {"family": family.reload_key, "files": len(live), "ok": True}
        if live:
            try:
                family.check(live)
            except JoPanelError as exc:
                row.update(ok=False, error=str(exc))
        rows.append(row)
    return OpResult(changed=False, data=rows)
