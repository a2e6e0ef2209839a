"""One image's story: `python -m bootstrap logs --id <image id>` (`make logs ID=<image id>`).

Prints every line the API, the processor and the events function logged about one image, merged
in time order, each prefixed with its time and function. Their lines about an image name it (`image_id`; the API's
access line, its path), so one search per log group finds them: FilterLogEvents with the image id
as a quoted term, page by page while the service hands back a nextToken (the embedded emulator
answers in one page), at most MAX_PAGES a group. The log groups are the functions' own
(`/aws/lambda/<name>`), named by the last deploy's outputs: the same calls on every target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers.keys import ID_PATTERN

# Pages of one log group's search: on AWS each page is a slice of the group's time range (often
# empty), so a month of a busy function's logs can take many; beyond these it says so, not hangs.
MAX_PAGES = 100
# The functions whose lines tell an image's story, in the order of its story (for equal times).
STORY_FUNCTIONS = ("api", "processor", "events")


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # milliseconds since the epoch, as CloudWatch Logs keeps it
    function: str  # "api", "processor" or "events", as the deploy's outputs name it
    message: str

    def show(self, width: int = 0) -> str:
        when = datetime.fromtimestamp(self.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
        # Lines quote what clients sent (paths, file names): no control character reaches the terminal.
        message = "".join(c if c.isprintable() else "\ufffd" for c in self.message)
        return f"{when.replace('+00:00', 'Z')} {self.function:<{width}} {message}"


def log_groups(outputs: dict) -> dict[str, str]:
    """The story's functions' log groups, by the name each function has in the outputs."""
    functions = outputs["functions"]
    return {role: f"/aws/lambda/{functions[role]}" for role in STORY_FUNCTIONS if role in functions}


def image_lines(logs, groups: dict[str, str], image_id: str, max_pages: int = MAX_PAGES) -> tuple[list[LogLine], bool]:
    """Every line of these log groups that names `image_id`, in time order; and whether a group
    had more pages than `max_pages` (then the story may go on)."""
    if not ID_PATTERN.match(image_id):  # the id goes into a filter pattern: nothing else may
        raise ValueError(f"{image_id!r} is not an image id (32 hexadecimal digits)")
    lines: list[LogLine] = []
    cut = False
    for function, group in groups.items():
        events, more = _search(logs, group, f'"{image_id}"', max_pages)
        lines += [LogLine(e["timestamp"], function, e["message"].rstrip()) for e in events]
        cut |= more
    # A stable sort: lines of one time keep the service's order (the embedded emulator stamps
    # every line of one invocation with the same time), the API's before the processor's.
    return sorted(lines, key=lambda line: line.timestamp), cut


def _search(logs, group: str, pattern: str, max_pages: int) -> tuple[list[dict], bool]:
    params = {"logGroupName": group, "filterPattern": pattern}
    events: list[dict] = []
    for _ in range(max_pages):
        try:
            page = logs.filter_log_events(**params)
        except logs.exceptions.ResourceNotFoundException:
            return events, False  # a function never invoked has no log group yet
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events, False
        params["nextToken"] = page["nextToken"]
    return events, True


def print_story(logs, outputs: dict, image_id: str, log: Callable[[str], None], out=print) -> int:
    """The command: the lines to `out`, what it searched and found to `log`. Its exit status: 0 when
    lines were found, 1 when none, 2 when `image_id` is not an image id."""
    groups = log_groups(outputs)
    try:
        lines, cut = image_lines(logs, groups, image_id)
    except ValueError as exc:
        log(f"logs: {exc}")
        return 2
    width = max((len(role) for role in groups), default=0)
    for line in lines:
        out(line.show(width))
    searched = ", ".join(groups.values())
    if cut:
        log(f"stopped after {MAX_PAGES} pages of a log group: older or newer lines may be missing")
    log(f"{len(lines)} line(s) name image {image_id} in {searched}")
    return 0 if lines else 1
