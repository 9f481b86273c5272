"""Cron job rules: what a schedule field and a command may be, and the line cron reads.

Pure functions (no I/O), shared by the stored model (services.json), the agent's op
payloads and the crontab writer, so one rule decides everywhere.

Why each rule:
- A schedule is five fields each checked against its own range (lists, ranges, steps,
  month/day names as single values, as crontab(5) allows), or one shortcut. `@reboot` is
  refused: cron runs it only when the cron daemon starts, so it is really "start a
  daemon", which outlives a suspension (suspending removes the crontab, not what
  @reboot started) and cannot be tested or limited like a scheduled job.
- A command is one line: no control characters at all (newline, CR, NUL, tab, DEL, C1,
  Unicode line separators). Cron turns an unescaped `%` into a newline and feeds the rest
  to the job's stdin, so every `%` is written as `\\%`; a backslash directly before a `%`
  is refused (cron's escape handling would then end the command there).
- No environment lines: a crontab line always starts with the schedule, but cron tries
  every line as `NAME = value` first (`sscanf("%[^ =] = ...")` in Debian's cron), so
  `@daily =x` would set a variable named `@daily`. A command may not start with `=`, nor
  with `NAME=` (`PATH=/tmp`, `MAILTO=x`: a variable assignment, not a job; `env NAME=v
  cmd` still works).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SHORTCUTS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually")
REFUSED_SHORTCUTS = {"@reboot": "@reboot is refused: it starts a daemon when cron starts, "
                     "which a suspension cannot stop; use a schedule"}  # fmt: skip
MAX_COMMAND_CHARS = 500
# Vixie cron keeps at most 1000 bytes of a command (MAX_COMMAND); ours stays below that
# after escaping.
MAX_COMMAND_BYTES = 990
MAX_FIELD_CHARS = 64

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0  # the value of names[0]


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day_of_month", 1, 31),
    Field("month", 1, 12, MONTHS, 1),
    Field("day_of_week", 0, 7, DAYS, 0),
)

_NUMBER = re.compile(r"^[0-9]{1,2}$")
_ITEM = re.compile(r"^(?P<range>\*|[0-9]{1,2}(?:-[0-9]{1,2})?)(?:/(?P<step>[0-9]{1,2}))?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def check_field(field: Field, value: str) -> str:
    """The field, normalised (lower case); ValueError naming the field when it is wrong."""
    text = value.lower()
    if not text or len(text) > MAX_FIELD_CHARS:
        raise ValueError(f"{field.name}: must be 1 to {MAX_FIELD_CHARS} characters")
    if text in field.names:
        return text
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            names = f", or one of {'/'.join(field.names)} alone" if field.names else ""
            raise ValueError(
                f"{field.name}: {item!r} is not *, N, N-M or one of those with /STEP{names}"
            )
        if match["range"] != "*":
            bounds = [int(n) for n in match["range"].split("-")]
            for number in bounds:
                if not field.low <= number <= field.high:
                    raise ValueError(f"{field.name}: {number} is outside {field.low}-{field.high}")
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                raise ValueError(f"{field.name}: range {item} runs backwards")
        if match["step"] is not None:
            step = int(match["step"])
            if not 1 <= step <= field.high:
                raise ValueError(f"{field.name}: step {step} is outside 1-{field.high}")
    return text


def schedule_of(fields: list[str]) -> str:
    """Five typed fields → the schedule text (each field checked)."""
    if len(fields) != len(FIELDS):
        raise ValueError(f"a schedule has {len(FIELDS)} fields, not {len(fields)}")
    return " ".join(check_field(f, v) for f, v in zip(FIELDS, fields, strict=True))


def check_shortcut(value: str) -> str:
    text = value.lower()
    if text in REFUSED_SHORTCUTS:
        raise ValueError(REFUSED_SHORTCUTS[text])
    if text not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}")
    return text


def check_schedule(value: str) -> str:
    """A stored schedule: one shortcut or five fields separated by single spaces."""
    if value.startswith("@"):
        return check_shortcut(value)
    fields = value.split(" ")
    if len(fields) != len(FIELDS):
        raise ValueError("must be five cron fields separated by single spaces, or @daily etc.")
    normalised = schedule_of(fields)
    if normalised != value:
        raise ValueError(f"schedule must be written as {normalised!r}")
    return value


def _control(char: str) -> bool:
    # Cc: NUL, tab, newline, CR, DEL, C1; Zl/Zp: U+2028/U+2029; Cf: invisible format marks.
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def check_command(value: str) -> str:
    """The command as the shell should see it (not yet escaped); ValueError if refused."""
    text = value.strip(" ")
    if not text:
        raise ValueError("command is empty")
    if len(text) > MAX_COMMAND_CHARS:
        raise ValueError(f"command is longer than {MAX_COMMAND_CHARS} characters")
    bad = next((c for c in text if _control(c)), None)
    if bad is not None:
        raise ValueError(f"command contains a control character (U+{ord(bad):04X})")
    if text.startswith("="):
        raise ValueError("command may not start with '=' (cron would read an env line)")
    if _ASSIGNMENT.match(text):
        raise ValueError(
            "command may not start with a variable assignment (NAME=value); "
            "use `env NAME=value command`"
        )
    if "\\%" in text:
        raise ValueError("write a plain % (JoPanel escapes it for cron), not \\%")
    if len(escape_command(text).encode("utf-8")) > MAX_COMMAND_BYTES:
        raise ValueError(f"command is longer than {MAX_COMMAND_BYTES} bytes once escaped")
    return text


def escape_command(command: str) -> str:
    """`%` → `\\%`: cron would otherwise end the command there and pipe the rest to stdin."""
    return command.replace("%", "\\%")


def crontab_line(schedule: str, command: str) -> str:
    """One crontab entry (schedule and command already checked)."""
    return f"{schedule} {escape_command(command)}\n"
