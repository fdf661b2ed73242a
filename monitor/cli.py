"""The ``monitor`` command line: wiring only, the work happens in the pipeline modules.

One error handler serves every command: a :class:`MonitorError` becomes one ``Error: ...``
line on stderr and its exit code (1, or 2 for usage and watchlist errors); a traceback only
with ``--debug``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor import __version__, config
from monitor.errors import MonitorError, UsageError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """What the global options resolve to; commands read settings only from here."""

    db_flag: str | None
    watchlist_flag: str | None
    debug: bool
    _settings: config.Settings | None = field(default=None, repr=False)

    @property
    def watchlist_path(self) -> Path:
        return config.watchlist_path(self.watchlist_flag)

    def settings(self, *, with_watchlist: bool = True) -> config.Settings:
        """Settings from flag, environment, ``[settings]`` of the watchlist (if any), defaults."""
        if self._settings is None:
            file_settings: dict[str, Any] = {}
            path = self.watchlist_path
            if with_watchlist and path.exists():
                from monitor.watchlist import read_settings_table

                file_settings = read_settings_table(path)
            self._settings = config.resolve(
                flags={"db": self.db_flag}, file_settings=file_settings, file_path=str(path)
            )
        return self._settings


class MonitorGroup(click.Group):
    """A click group whose commands share one error handler."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            if _debug_requested(ctx):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


def _debug_requested(ctx: click.Context) -> bool:
    obj = ctx.find_object(AppContext)
    return bool(obj and obj.debug) or "--debug" in sys.argv


pass_app = click.make_pass_decorator(AppContext)


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--db",
    envvar="MONITOR_DB",
    metavar="URL_OR_PATH",
    help=f"Evidence store: a SQLAlchemy URL or a SQLite file path [default: {config.DEFAULT_DB}].",
)
@click.option(
    "--watchlist",
    envvar="MONITOR_WATCHLIST",
    metavar="PATH",
    help=f"Watchlist file [default: ./{config.DEFAULT_WATCHLIST}].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, watchlist: str | None, debug: bool) -> None:
    """Catch companies quietly changing the legal entity their websites name.

    \b
    Example:
      monitor extract page.html --json
    """
    ctx.obj = AppContext(db_flag=db, watchlist_flag=watchlist, debug=debug)


@cli.command()
@click.argument("path_or_url")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def extract(app: AppContext, path_or_url: str, as_json: bool) -> None:
    """Print the ownership facts of one page: a saved HTML file or a URL.

    \b
    Example:
      monitor extract tests/data/footers/uk-guardian.html --json
    """
    from monitor import extract as extractor
    from monitor import fetch, render

    if path_or_url.startswith(("http://", "https://")):
        body, content_type = fetch.fetch_one(path_or_url, app.settings(with_watchlist=False))
    else:
        body, content_type = _read_file(path_or_url), None
    facts = extractor.extract(body, content_type=content_type, url=path_or_url)
    if as_json:
        click.echo(json.dumps(facts.to_json(), ensure_ascii=False, indent=2))
    else:
        render.print_facts(facts, title=path_or_url)


def _read_file(path: str) -> bytes:
    from monitor.errors import InputError

    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(path, "is a directory, not a file") from exc
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from exc


@cli.command("sites")
@click.argument("site_ids", nargs=-1, metavar="[SITE_ID]...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object a site.")
@pass_app
def sites_command(app: AppContext, site_ids: tuple[str, ...], as_json: bool) -> None:
    """List the watched sites (all, or those named) with their URLs and intervals in force.

    Reading the list checks the whole watchlist: a mistake is one line naming the file, the
    entry and the key, and exit status 2. See docs/watchlist.md for the format.

    \b
    Example:
      monitor sites
      monitor --watchlist cases.toml sites sensetime --json
    """
    from rich.console import Console

    from monitor import watchlist

    loaded = watchlist.load(app.watchlist_path)
    chosen = watchlist.find_sites(loaded, site_ids) if site_ids else loaded.sites
    settings = app.settings()
    if as_json:
        rows = [site.to_json(settings) for site in chosen]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        Console().print(watchlist.sites_table(chosen, settings, loaded.path))


@cli.group("db")
def db_group() -> None:
    """Manage the evidence store's database schema.

    \b
    Example:
      monitor --db evidence.db db upgrade
    """


@db_group.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Migrate the evidence store to the newest schema, creating a new database.

    A new database is also created by the first command that writes (check, run, backfill,
    demo, lists import or fetch, reextract); the commands that only read refuse a missing
    SQLite file. An existing database is only migrated by this command, so back it up first.

    \b
    Example:
      monitor --db evidence.db db upgrade
      monitor --db postgresql+psycopg://monitor@localhost/monitor db upgrade
    """
    from monitor import models

    done = models.upgrade(app.settings().db_url)
    if done.before == done.after:
        click.echo(f"already at {done.after}")
    else:
        click.echo(f"upgraded from {done.before or 'an empty database'} to {done.after}")


@cli.command("verify")
@pass_app
def verify_command(app: AppContext) -> None:
    """Re-hash every stored body and check every capture against its body.

    Each mismatch or missing body is printed with the captures and changes it affects; the
    exit status is 1 when anything fails.

    \b
    Example:
      monitor --db evidence.db verify
    """
    from monitor import blobs, store
    from monitor.errors import IntegrityError

    with store.open_store(app.settings().db_url, create=False) as opened:
        report = blobs.verify(opened)
    for problem in report.problems:
        click.echo(problem.describe())
    click.echo(report.summary())
    if not report.ok:
        raise IntegrityError(f"{len(report.problems)} problem(s) in the stored evidence")


@cli.command("reextract")
@pass_app
def reextract_command(app: AppContext) -> None:
    """Extract the facts of stored captures again with the current extractor, without fetching.

    Captures this extractor version has read already are skipped, so an interrupted run
    resumes where it stopped; earlier extractions are kept.

    \b
    Example:
      monitor --db evidence.db reextract
    """
    from monitor import store

    with store.open_store(app.settings().db_url) as opened:
        click.echo(store.reextract(opened).summary())


@cli.command("backfill")
@click.argument("site_ids", nargs=-1, metavar="[SITE_ID]...")
@click.option("--from", "since", metavar="DATE", help="Skip captures before DATE (2021-01-31).")
@click.option("--to", "until", metavar="DATE", help="Skip captures after DATE (2021-12-31).")
@click.option("--dense", is_flag=True, help="Read every distinct capture instead of sampling.")
@pass_app
def backfill_command(
    app: AppContext, site_ids: tuple[str, ...], since: str | None, until: str | None, dense: bool
) -> None:
    """Sweep the Wayback Machine's history of the watched sites and record every change.

    Reads one capture per sample spacing (default 30 days) and bisects between captures that
    differ until each change sits between two adjacent readable captures (docs/backfill.md).
    A second run fetches only what the first did not; a site that fails is reported, the
    others go on, and the exit status is 1. DATE is 2021-08-01 or 1-14 digits of a timestamp.

    \b
    Example:
      monitor backfill sensetime --from 2021-01-01 --to 2021-12-31
    """
    from rich.console import Console

    from monitor import backfill, lists, store, watchlist

    loaded = watchlist.load(app.watchlist_path)
    chosen = watchlist.find_sites(loaded, site_ids)
    settings = app.settings()
    options = backfill.BackfillOptions.from_settings(
        settings,
        since=backfill.parse_bound(since, "--from"),
        until=backfill.parse_bound(until, "--to"),
        dense=dense,
    )
    with store.open_store(settings.db_url) as opened:
        with opened.session() as session:
            store.sync_sites(session, loaded.sites)
        progress = backfill.RichProgress(Console(stderr=True))
        with progress.shown():
            reports = backfill.run(opened, settings, chosen, options, progress)
        # The names the new changes moved, against the loaded lists, as the daemon does.
        new_ids = [change_id for report in reports for change_id in report.recorded_ids]
        lists.Screener(opened).screen_changes(new_ids)
    Console().print(backfill.report_table(reports))
    failed = [report.site_id for report in reports if not report.ok]
    for report in reports:
        if report.error is not None:
            click.echo(f"{report.site_id}: {report.error}", err=True)
    if failed:
        raise MonitorError(f"{len(failed)} of {len(reports)} sites failed: {', '.join(failed)}")
    click.echo(f"Next: {_command(app, 'changes')}")


# The values of monitor.classify.ChangeKind, spelled here so `monitor --help` stays fast.
CHANGE_KINDS = (
    "relocation",
    "legal_form",
    "rename",
    "switch",
    "registration",
    "cosmetic",
    "inconsistent",
)


@cli.command("changes")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object a change.")
@click.option(
    "--site", "site_ids", multiple=True, metavar="ID", help="Only this site (repeatable)."
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(CHANGE_KINDS),
    help="Only changes of this kind (repeatable).",
)
@click.option("--all", "show_all", is_flag=True, help="Also list cosmetic changes.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["new", "confirmed", "dismissed"]),
    help="Only changes with this review status (repeatable; see monitor review).",
)
@pass_app
def changes_command(
    app: AppContext,
    as_json: bool,
    site_ids: tuple[str, ...],
    kinds: tuple[str, ...],
    show_all: bool,
    statuses: tuple[str, ...],
) -> None:
    """List the recorded changes: what each means, a fact's old and new value, the last
    capture showing the old one and the first showing the new one, with their archive URLs
    and SHA-256.

    What a change means is its kind (relocation, legal_form, rename, switch, registration,
    cosmetic) and, after `monitor screen`, whether it moved from or to a listed entity.
    Cosmetic changes (case, spacing, years) are hidden unless --all or --kind cosmetic.
    Days on which a site's pages named different operators are listed as inconsistent.
    See docs/matching.md.

    \b
    Example:
      monitor changes --site sensetime --json
      monitor changes --kind relocation --kind switch
      monitor changes --status new
    """
    from rich.console import Console

    from monitor import listing, store

    with (
        store.open_store(app.settings().db_url, create=False) as opened,
        opened.session(write=False) as session,
    ):
        recorded = listing.listed_changes(session, list(site_ids) or None)
    listed = listing.select(recorded, kinds, show_all=show_all, statuses=statuses)
    if unclassified := listing.unclassified(listed):
        hint = f"{unclassified} changes recorded before kinds existed have none"
        click.echo(f"{hint}: run {_command(app, 'screen')}", err=True)
    if as_json:
        click.echo(json.dumps([item.to_json() for item in listed], ensure_ascii=False, indent=2))
    elif listed:
        Console().print(listing.changes_table(listed))
    else:
        click.echo("No changes recorded." if not kinds else "No changes of these kinds.")


@cli.command("demo")
@pass_app
def demo_command(app: AppContext) -> None:
    """Run the backfill on a bundled RECONSTRUCTION of the 2021 SenseTime footer change.

    A local fake Wayback Machine on 127.0.0.1 serves 226 invented captures of a homepage whose
    footer moves from Beijing SenseTime to Shanghai SenseTime in August 2021; the backfill
    finds the change and leaves it in the store for the other commands. No network needed;
    running it again adds nothing.

    \b
    Example:
      monitor --db demo.db demo
    """
    from rich.console import Console
    from rich.text import Text

    from monitor import backfill, demo, listing, store

    settings = app.settings(with_watchlist=False)
    console = Console()
    console.print(Text("RECONSTRUCTION, not archived data.", style="bold yellow"))
    console.print(Text(demo.NOTICE))
    with store.open_store(settings.db_url) as opened:
        progress = backfill.RichProgress(Console(stderr=True))
        with progress.shown():
            report = backfill.run_demo(opened, settings, progress)
        with opened.session(write=False) as session:
            recorded = store.list_changes(session, [demo.DEMO_SITE_ID])
    if report.error is not None:
        raise MonitorError(f"demo: {report.error}")
    changes = [listing.as_listed(change) for change in recorded]
    console.print(
        f"\n{report.total('listed')} captures listed, {report.total('fetched')} fetched, "
        f"{len(changes)} changes in the store (the archive URLs point at the demo's local "
        "archive, gone now):"
    )
    console.print(listing.changes_table(changes))
    click.echo(f"Next: {_command(app, 'changes')}   or   {_command(app, 'changes --json')}")


def _command(app: AppContext, command: str) -> str:
    """How to run ``command`` on the same store as this one."""
    db = f"--db {app.db_flag} " if app.db_flag else ""
    return f"monitor {db}{command}"


# The values of monitor.export.ExportFormat, spelled here so `monitor --help` stays fast.
EXPORT_FORMATS = ("csv", "json", "md", "html", "warc", "bundle")
REVIEW_STATUSES = ("new", "confirmed", "dismissed")


@cli.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH")
@click.option(
    "--site", "site_ids", multiple=True, metavar="ID", help="Only this site (repeatable)."
)
@click.option("--since", metavar="DATE", help="Only changes first seen on or after DATE.")
@click.option("--status", type=click.Choice(REVIEW_STATUSES), help="Only changes with this review.")
@pass_app
def export_command(
    app: AppContext,
    fmt: str,
    output: Path | None,
    site_ids: tuple[str, ...],
    since: str | None,
    status: str | None,
) -> None:
    """Export recorded changes as evidence to attach (to PATH, or standard output).

    csv and json: one row or object per change, with both captures, review and copyright
    lines; md: a section per site; html: one self-contained report (no scripts, no network)
    with each site's timeline and each change side by side; warc: the raw captures behind the
    changes; bundle: a zip of report.html, changes.json, changes.csv, captures.warc.gz and a
    manifest of their SHA-256 (check it with verify-bundle). See docs/exports.md.

    \b
    Example:
      monitor export --format bundle -o sensetime.zip --site sensetime
      monitor export --format csv --status confirmed --since 2021-01-01 > confirmed.csv
    """
    from monitor import blobs, export, store
    from monitor.models import ReviewStatus

    chosen = export.ExportFormat(fmt)
    if output is None and chosen.binary and sys.stdout.isatty():
        raise UsageError(f"--format {fmt} writes binary data: give -o PATH")
    selection = export.Selection(
        site_ids=site_ids,
        since=None if since is None else export.parse_since(since),
        status=None if status is None else ReviewStatus(status),
    )
    with store.open_store(app.settings().db_url, create=False) as opened:
        collected = export.collect(opened, selection, timelines=export.needs_timelines(chosen))
        captures = collected.captures() if export.needs_bodies(chosen) else []
        bodies = export.read_bodies(opened, captures)
    data = export.render(collected, chosen, bodies)
    if not collected.changes:
        click.echo("No changes match the selection; the export lists none.", err=True)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    export.write_file(output, data)
    click.echo(
        f"wrote {len(collected.changes)} changes as {fmt} to {output} "
        f"({len(data):,} bytes, SHA-256 {blobs.sha256_hex(data)})"
    )


@cli.command("verify-bundle")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def verify_bundle_command(path: Path) -> None:
    """Check an export bundle: each file against the SHA-256 in its manifest, no file missing
    or added, and every capture named in changes.json in the WARC with its bytes intact.

    Prints the whole bundle's SHA-256, to compare with the figure published beside it (a
    manifest inside the bundle cannot prove the bundle was not rebuilt). Exit status 1,
    naming each failing file, when anything does not match.

    \b
    Example:
      monitor verify-bundle sensetime.zip
    """
    from monitor import export
    from monitor.errors import IntegrityError

    check = export.check_bundle(_read_file(str(path)))
    for name in check.matched:
        click.echo(f"ok      {name}")
    for problem in check.problems:
        click.echo(f"FAILED  {problem}")
    click.echo(f"bundle SHA-256 {check.sha256}")
    if not check.ok:
        raise IntegrityError(f"{path}: {len(check.problems)} problem(s): {check.problems[0]}")


@cli.command("timeline")
@click.argument("site_id")
@pass_app
def timeline_command(app: AppContext, site_id: str) -> None:
    """Print who one site named, and when: each operator, entity and registration its stored
    captures showed, with the first and last capture showing it, how many did, and links.

    The URLs are the site's in the watchlist (when it lists the site) and those with recorded
    changes. First and last seen are the captures stored, which sample the archive's history.

    \b
    Example:
      monitor --db demo.db timeline sensetime
    """
    from rich.console import Console

    from monitor import export, report, store, watchlist

    watched: tuple[str, ...] = ()
    if app.watchlist_path.exists():
        sites = watchlist.load(app.watchlist_path).sites
        watched = next((site.urls for site in sites if site.id == site_id), ())
    with store.open_store(app.settings().db_url, create=False) as opened:
        timelines = export.site_timelines(opened, site_id, watched)
    if not timelines:
        raise UsageError(
            f"site {site_id!r}: no URLs known (not in {app.watchlist_path}, no recorded changes)"
        )
    console = Console()
    for shown in report.timeline_renderables(timelines):
        console.print(shown)


@cli.command("review")
@click.argument("change_id", type=int)
@click.option("--confirm", is_flag=True, help="The change is real and matters.")
@click.option("--dismiss", is_flag=True, help="The change is noise or not relevant.")
@click.option("--note", metavar="TEXT", help="Why; replaces the change's note.")
@click.option("--by", "who", metavar="NAME", help="Who reviews [default: your user name].")
@pass_app
def review_command(
    app: AppContext,
    change_id: int,
    confirm: bool,
    dismiss: bool,
    note: str | None,
    who: str | None,
) -> None:
    """Confirm or dismiss a recorded change, with an optional note, and print its review
    history. Every review is kept (who, when, old and new status and note); exports carry the
    status and note. With neither --confirm, --dismiss nor --note, only prints the history.

    \b
    Example:
      monitor review 1 --confirm --note "Beijing entity is on the Entity List"
      monitor review 1
    """
    from monitor import report, store
    from monitor.models import ReviewStatus

    if confirm and dismiss:
        raise UsageError("give --confirm or --dismiss, not both")
    with (
        store.open_store(app.settings().db_url, create=False) as opened,
        opened.session() as session,
    ):
        change = store.get_change(session, change_id)
        if confirm or dismiss or note is not None:
            verdict = ReviewStatus.CONFIRMED if confirm else ReviewStatus.DISMISSED
            status = verdict if confirm or dismiss else change.status
            change = store.review(session, change_id, status, note, who or _user_name())
        history = store.review_history(session, change_id)
    for line in report.review_lines(change, history):
        click.echo(line)


def _user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:  # no login name in the environment or the passwd file
        raise UsageError("cannot tell who you are: give --by NAME") from exc


# The keys of monitor.lists.PUBLISHERS, spelled here so `monitor --help` stays fast.
FETCHED_LISTS = ("csl", "opensanctions")


@cli.group("lists", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object a list.")
@click.pass_context
def lists_group(ctx: click.Context, as_json: bool) -> None:
    """Screening lists: import or download them; alone, list those loaded.

    Lists are the US Consolidated Screening List (trade.gov consolidated.csv or .json) and
    OpenSanctions' simplified CSV (targets.simple.csv). After loading one, run
    `monitor screen`. See docs/matching.md.

    \b
    Example:
      monitor lists import consolidated.csv
      monitor lists
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(lists_show, as_json=as_json)


@lists_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object a list.")
@pass_app
def lists_show(app: AppContext, as_json: bool) -> None:
    """List the loaded screening lists: name, format, date, entries, file and last screen.

    \b
    Example:
      monitor lists show --json
    """
    from rich.console import Console

    from monitor import lists, liststore, store

    with (
        store.open_store(app.settings().db_url, create=False) as opened,
        opened.session(write=False) as session,
    ):
        loaded = liststore.stored_lists(session)
    if as_json:
        click.echo(json.dumps([item.to_json() for item in loaded], ensure_ascii=False, indent=2))
    elif loaded:
        Console().print(lists.lists_table(loaded))
    else:
        click.echo(f"No lists loaded. Next: {_command(app, 'lists import FILE')}")


@lists_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--name", metavar="NAME", help="Load it as this list [default: csl or opensanctions]."
)
@click.option("--force", is_flag=True, help="Load a file dated before the loaded copy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def lists_import(app: AppContext, path: Path, name: str | None, force: bool, as_json: bool) -> None:
    """Load a screening list file, replacing an older copy of the same list.

    Reads trade.gov's consolidated.csv or consolidated.json, or OpenSanctions'
    targets.simple.csv; records the file's SHA-256 and the list's date. Importing the same
    file again does nothing; a file dated before the loaded copy needs --force.

    \b
    Example:
      monitor lists import consolidated.csv
      monitor lists import targets.simple.csv --name opensanctions-sanctions
    """
    from monitor import lists, store

    with store.open_store(app.settings().db_url) as opened:
        report = lists.import_list(opened, path, name, force=force)
    _print_imports([report], as_json, one=True)
    if not as_json:
        click.echo(f"Next: {_command(app, 'screen')}")


@lists_group.command("fetch")
@click.option(
    "--name",
    "names",
    multiple=True,
    type=click.Choice(FETCHED_LISTS),
    help="Download this list (repeatable) [default: csl].",
)
@click.option(
    "--dir",
    "directory",
    default="screening-lists",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the downloaded files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object a list.")
@pass_app
def lists_fetch(app: AppContext, names: tuple[str, ...], directory: Path, as_json: bool) -> None:
    """Download the publishers' list files and import them (needs network access).

    csl is trade.gov's Consolidated Screening List (public domain); opensanctions is
    OpenSanctions' sanctions collection (CC BY-NC 4.0: check its terms for your use). The
    lists_url setting (MONITOR_LISTS_URL) names a mirror serving consolidated.csv and
    targets.simple.csv instead. Without network, download them elsewhere and use
    `monitor lists import`.

    \b
    Example:
      monitor lists fetch
      monitor lists fetch --name csl --name opensanctions
    """
    from monitor import lists, store

    settings = app.settings()
    with store.open_store(settings.db_url) as opened:
        chosen = names or lists.DEFAULT_FETCHED
        reports = lists.fetch_lists(opened, settings, chosen, directory)
    _print_imports(reports, as_json)
    if not as_json:
        click.echo(f"Next: {_command(app, 'screen')}")


def _print_imports(reports: Any, as_json: bool, *, one: bool = False) -> None:
    """Import reports as text lines, or as JSON: one object (``one``) or an array."""
    if as_json:
        shown = [report.to_json() for report in reports]
        click.echo(json.dumps(shown[0] if one else shown, ensure_ascii=False, indent=2))
        return
    for report in reports:
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(report.summary())


@cli.command("screen")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def screen_command(app: AppContext, as_json: bool) -> None:
    """Match every recorded entity against the loaded lists and print the new matches.

    Screens the operators and entities of every stored page and change (exact on the
    normalised name and aliases, then fuzzy; a different place or legal form never
    matches), stores the matches and prints those not found by the last screen. Also gives
    changes recorded before kinds existed their kind. Run it after a backfill or a list
    update. A match is a lead to confirm against the list's entry. See docs/matching.md.

    \b
    Example:
      monitor screen
      monitor screen --json
    """
    from rich.console import Console

    from monitor import lists, store

    with store.open_store(app.settings().db_url, create=False) as opened:
        report = lists.screen(opened)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return
    if report.update.new:
        Console().print(lists.matches_table(report.update.new))
    click.echo(report.summary())
    if report.update.new:
        click.echo(f"Next: {_command(app, 'changes')}")


@cli.command("check")
@click.argument("site_ids", nargs=-1, metavar="[SITE_ID]...")
@click.option("--all", "every", is_flag=True, help="List every URL, not only those to look at.")
@pass_app
def check_command(app: AppContext, site_ids: tuple[str, ...], every: bool) -> None:
    """Fetch the watched pages now and record every change since the last capture.

    Each URL is fetched (redirects followed, within fetch_timeout and fetch_max_bytes, with
    the site's headers and User-Agent), stored with its facts and compared with the newest
    readable capture of that URL, live or archived. A change becomes an evidence item, is
    sent to Save Page Now when keys are set, and is announced to the watchlist's alerts
    (alerts still owed from before, say to a target that was down, go out after the pass).
    A site that fails is shown in the table and logged for `monitor status`; the others go
    on, and the exit status is 0. Past 50 URLs, the table lists only those to look at.

    \b
    Example:
      monitor check
      monitor check sensetime --db evidence.db
    """
    from rich.console import Console

    from monitor import check, store, watchlist

    loaded = watchlist.load(app.watchlist_path)
    chosen = watchlist.find_sites(loaded, site_ids)
    settings = app.settings()
    with store.open_store(settings.db_url) as opened:
        with opened.session() as session:
            store.sync_sites(session, loaded.sites)
        checks = check.run_check(opened, settings, chosen, loaded.alerts)
    console = Console()
    console.print(check.check_table(checks, every=every))
    console.print(check.summary(checks))
    if hidden := check.unlisted(checks, every=every):
        click.echo(f"({hidden} URLs unchanged or captured for the first time not listed: --all)")
    if any(checked.changed for checked in checks):
        click.echo(f"Next: {_command(app, 'changes')}")


@cli.command("run")
@pass_app
def run_command(app: AppContext) -> None:
    """Run the daemon: check each watched site on its interval until SIGTERM or Ctrl-C.

    Each site is checked every `interval` (with jitter) as `monitor check` does, and its
    Wayback Machine captures are swept every `archive_interval` (the changes they reveal are
    alerted too). Alerts still owed, after a stop or a target that was down, go out at start
    and every 10 minutes. Edits to the watchlist are picked up within seconds (or at once on
    SIGHUP). One JSON line per check goes to standard output; see docs/daemon.md.

    \b
    Example:
      monitor --db evidence.db --watchlist cases.toml run
    """
    from monitor import daemon, store, watchlist

    daemon.configure_logging(app.debug)
    settings = app.settings()

    def settle(loaded: watchlist.Watchlist) -> config.Settings:
        file_settings = dict(loaded.settings)
        flags = {"db": app.db_flag}
        return config.resolve(flags=flags, file_settings=file_settings, file_path=str(loaded.path))

    with store.open_store(settings.db_url) as opened:
        daemon.run_daemon(opened, app.watchlist_path, settle)


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show each site's last successful check and the sites failing repeatedly.

    The exit status is 1 when a URL failed `status_failures` checks in a row (default 3),
    or a site was never checked or not for twice its interval; 0 otherwise. Docker's
    HEALTHCHECK runs it. Sites are the watchlist's enabled ones, or the store's without one.

    \b
    Example:
      monitor status --json
    """
    from datetime import UTC, datetime

    from rich.console import Console

    from monitor import outbox, status, store, watchlist

    app = ctx.find_object(AppContext)
    assert app is not None
    settings = app.settings()
    path = app.watchlist_path
    loaded = watchlist.load(path) if path.exists() else None
    with (
        store.open_store(settings.db_url, create=False) as opened,
        opened.session(write=False) as session,
    ):
        sites = status.sites_to_judge(None if loaded is None else loaded.sites, session)
        owed = len(outbox.owed(session, loaded.alerts)) if loaded else 0
        states = status.url_states(session)
        health = status.judge(sites, states, settings, datetime.now(UTC), alerts_owed=owed)
    if as_json:
        click.echo(json.dumps(health.to_json(), ensure_ascii=False, indent=2))
    else:
        Console().print(status.status_table(health))
        click.echo(status.summary(health))
    if not health.healthy:
        ctx.exit(1)


def main() -> None:
    """Console entry point."""
    try:
        cli.main(prog_name="monitor", standalone_mode=True)
    except UsageError as exc:  # raised outside a command's invoke (option parsing)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
