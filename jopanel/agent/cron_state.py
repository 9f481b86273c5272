"""Plan an account's crontab as Drift, so create/update/suspend/reconcile converge it.

Hooked into `plan_drift` (agent/converge.py): the crontab follows services.json `cron`
and the account's status like every other generated file.
"""

from __future__ import annotations

from ..schemas import UserConfig
from ..system.crontab import Crontabs, render
from .context import AgentContext
from .drift import Drift


def plan_cron(ctx: AgentContext, config: UserConfig) -> list[Drift]:
    crontabs = Crontabs(ctx.settings, ctx.accounts)
    name = config.username
    want = render(config)
    problem = crontabs.problem(name, config.account.uid, want)
    if problem is None:
        return []
    if want is None:
        return [Drift("crontab", problem, lambda: crontabs.remove(name))]
    content = want
    return [Drift("crontab", problem, lambda: crontabs.write(name, config.account.uid, content))]
