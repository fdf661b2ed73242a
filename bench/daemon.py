"""Benchmark one live pass over 2,000 watched URLs: ``monitor check`` against urlwatch 2.29.

Both tools watch the same 2,000 distinct pages (about 5 KB each, a footer naming the
operator) served from loopback by a page server in its own process: 500 sites of 4 pages,
each site on its own loopback address (127.0.1.1, 127.0.1.2, ...), so the per-host bound on
concurrent fetches works as it would on real sites.  urlwatch watches each URL with a
``css:footer`` filter and its own cache; it is installed from PyPI into a throwaway venv under
``bench/out/`` (git-ignored) the first time.

Two passes per tool, in this order, each tool in its own subprocess (its wall time measured
from start to exit, its peak memory from ``os.wait4``'s ``ru_maxrss``):

1. first pass: an empty store (cache); every page is new.
2. second pass: the same pages except one in 50, whose footer now names another operator.

monitor runs its real command line (``monitor --db ... --watchlist ... check``, its summary
table written to a file), with its default settings.  Targets (issue 5): at most 2x
urlwatch's wall time and under 200 MB, in each pass.

    python bench/daemon.py               # 2,000 URLs
    python bench/daemon.py --urls 400    # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
URLWATCH_VENV = OUT / "urlwatch-venv"
# cssselect: urlwatch's css filter needs it and urlwatch does not declare it.
URLWATCH_PACKAGES = ("urlwatch==2.29", "cssselect")
URLS = 2_000
PAGES_PER_SITE = 4
CHANGED_EVERY = 50  # the second pass: one page in 50 names another operator
TARGET_RATIO = 2.0  # at most this times urlwatch's wall time
TARGET_BYTES = 200 * 1000 * 1000
MIB = 1024 * 1024
GENERATION_PATH = "/_generation/"  # the page server's control endpoint
VOCABULARY = (
    "annual report growth market product service customer quality global innovation team "
    "results partners research platform solutions industry investors news careers energy "
    "mobility cloud security data health retail logistics sustainability technology"
)


# --- the pages -------------------------------------------------------------------------------


def host_of(site: int) -> str:
    """Site ``site``'s loopback address: 127.0.1.1, 127.0.1.2, ... (Linux routes 127/8 to lo)."""
    return f"127.0.{1 + site // 250}.{1 + site % 250}"


def page(number: int, generation: int) -> bytes:
    """Page ``number`` as the ``generation``-th pass sees it: about 5 KB, distinct, a footer."""
    rng, words = random.Random(number), VOCABULARY.split()
    paragraphs = "\n".join(
        "<p>" + " ".join(rng.choice(words) for _ in range(58)) + "</p>" for _ in range(8)
    )
    changed = generation > 1 and number % CHANGED_EVERY == 0
    owner = f"Example {'Group' if changed else 'Holdings'} {number} Co., Ltd."
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Company {number}</title></head>\n<body>\n<nav><a href='/'>Home</a> "
        "<a href='/about'>About</a> <a href='/news'>News</a></nav>\n"
        f"<main><h1>News from company {number}</h1>\n{paragraphs}\n</main>\n"
        f"<footer><p>© 2024 {owner} All rights reserved.</p>"
        f"<p>Registered office: {number} Harbour Road.</p></footer>\n</body></html>\n"
    ).encode()


def page_url(number: int, port: int) -> str:
    return f"http://{host_of(number // PAGES_PER_SITE)}:{port}/page/{number}"


# --- the page server (run in its own process: `python bench/daemon.py --serve N`) ------------


class PageServer:
    """A minimal HTTP/1.1 server with keep-alive, serving every page of one generation."""

    def __init__(self, urls: int) -> None:
        self.urls = urls
        self.generation = 1
        self.pages = [page(n, 1) for n in range(urls)]

    def answer(self, path: str) -> tuple[str, bytes]:
        if path.startswith(GENERATION_PATH):
            self.generation = int(path.removeprefix(GENERATION_PATH))
            self.pages = [page(n, self.generation) for n in range(self.urls)]
            return "200 OK", b"ok"
        number = path.removeprefix("/page/")
        if number.isdigit() and int(number) < self.urls:
            return "200 OK", self.pages[int(number)]
        return "404 Not Found", b"not found"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.readline():
                while (await reader.readline()).strip():
                    pass  # headers: not needed
                status, body = self.answer(request.split()[1].decode())
                head = (
                    f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()


async def serve(urls: int) -> None:
    """Listen on one port of every site's loopback address; print the port, serve until killed."""
    server = PageServer(urls)
    hosts = [host_of(site) for site in range(-(-urls // PAGES_PER_SITE))]
    first = socket.create_server((hosts[0], 0), backlog=1024)
    port = first.getsockname()[1]
    sockets = [first] + [socket.create_server((host, port), backlog=1024) for host in hosts[1:]]
    servers = [await asyncio.start_server(server.handle, sock=sock) for sock in sockets]
    print(port, flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


# --- the runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    tool: str
    generation: int
    seconds: float
    cpu_seconds: float  # user + system
    peak_bytes: int
    exit_status: int
    found: int  # pages the tool reported new (first pass) or changed (second pass)


def measure(tool: str, generation: int, command: Sequence[str], stdout: Path) -> Run:
    """Run ``command`` in its own process; its wall time, CPU time and peak resident memory."""
    with stdout.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    exit_status = os.waitstatus_to_exitcode(status)
    found = FOUND[tool](stdout.read_text(encoding="utf-8", errors="replace"), generation)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(tool, generation, seconds, cpu, usage.ru_maxrss * 1024, exit_status, found)


def _monitor_found(output: str, generation: int) -> int:
    """From the summary line: ``... 2000 baseline; ...`` or ``... 40 changed; ...``."""
    word = "baseline" if generation == 1 else "changed"
    match = re.search(rf"(\d+) {word}\b", output)
    return int(match.group(1)) if match else 0


def _urlwatch_found(output: str, generation: int) -> int:
    word = "NEW" if generation == 1 else "CHANGED"
    return len(re.findall(rf"^\d+\. {word}: ", output, flags=re.MULTILINE))


FOUND = {"monitor": _monitor_found, "urlwatch": _urlwatch_found}


def urlwatch_binary() -> Path:
    """urlwatch in its throwaway venv, created on first use (never a project dependency)."""
    binary = URLWATCH_VENV / "bin" / "urlwatch"
    if not binary.exists():
        print(f"installing {' '.join(URLWATCH_PACKAGES)} into {URLWATCH_VENV} ...", flush=True)
        venv.create(URLWATCH_VENV, with_pip=True)
        pip = [str(URLWATCH_VENV / "bin" / "pip"), "install", "--quiet", *URLWATCH_PACKAGES]
        subprocess.run(pip, check=True)
    return binary


def write_watchlist(path: Path, urls: int, port: int) -> None:
    lines = []
    for site in range(-(-urls // PAGES_PER_SITE)):
        numbers = range(site * PAGES_PER_SITE, min(urls, (site + 1) * PAGES_PER_SITE))
        listed = ", ".join(f'"{page_url(n, port)}"' for n in numbers)
        lines.append(f'[[site]]\nid = "site-{site:04d}"\nurls = [{listed}]\n')
    path.write_text("\n".join(lines), encoding="utf-8")


def write_urlwatch_jobs(path: Path, urls: int, port: int) -> None:
    """urls.yaml: one job per URL with the ``css: footer`` filter (urlwatch 2.29 wants the
    list form; the string ``css:footer`` works too but prints a deprecation note per job)."""
    job = "name: page {n}\nurl: {url}\nfilter:\n  - css: footer\n"
    jobs = [job.format(n=n, url=page_url(n, port)) for n in range(urls)]
    path.write_text("---\n".join(jobs), encoding="utf-8")


def monitor_command(work: Path) -> list[str]:
    files = ["--db", str(work / "monitor.db"), "--watchlist", str(work / "watchlist.toml")]
    return [sys.executable, "-m", "monitor", *files, "check"]


def urlwatch_command(work: Path) -> list[str]:
    files = {"urls": "urls.yaml", "config": "urlwatch.yaml", "hooks": "hooks.py"}
    command = [str(urlwatch_binary())]
    for option, name in files.items():
        command += [f"--{option}", str(work / name)]
    return [*command, "--cache", str(work / "cache.db")]


def set_generation(port: int, generation: int) -> None:
    with socket.create_connection((host_of(0), port)) as conn:
        conn.sendall(f"GET {GENERATION_PATH}{generation} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        conn.recv(1024)


def run_once(urls: int, port: int) -> list[Run]:
    """Both passes of both tools, each tool with a new store (cache) of its own."""
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        work = Path(tmp)
        write_watchlist(work / "watchlist.toml", urls, port)
        write_urlwatch_jobs(work / "urls.yaml", urls, port)
        (work / "hooks.py").write_text("", encoding="utf-8")
        for generation in (1, 2):
            set_generation(port, generation)
            for tool, command in (
                ("monitor", monitor_command(work)),
                ("urlwatch", urlwatch_command(work)),
            ):
                stdout = OUT / f"{tool}-pass{generation}.txt"
                runs.append(measure(tool, generation, command, stdout))
    return runs


def run_benchmark(urls: int, repeat: int) -> list[Run]:
    OUT.mkdir(parents=True, exist_ok=True)
    urlwatch_binary()
    serve_command = [sys.executable, __file__, "--serve", str(urls)]
    server = subprocess.Popen(serve_command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return [run for _ in range(repeat) for run in run_once(urls, port)]
    finally:
        server.kill()
        server.wait()


def report(runs: Sequence[Run], urls: int) -> bool:
    """Print the medians per pass and tool; True when monitor meets both targets."""
    repeat = len(runs) // 4
    print(f"one pass over {urls:,} URLs ({-(-urls // PAGES_PER_SITE)} sites), median of {repeat}")
    print("pass    tool      wall s  cpu s  peak MiB  x urlwatch  found  exit")
    ok = True
    for generation, label in ((1, "first"), (2, "second")):
        medians = {}
        for tool in ("monitor", "urlwatch"):
            mine = [run for run in runs if run.tool == tool and run.generation == generation]
            medians[tool] = [
                statistics.median(getattr(run, name) for run in mine)
                for name in ("seconds", "cpu_seconds", "peak_bytes")
            ] + [min(run.found for run in mine), max(run.exit_status for run in mine)]
        for tool, (seconds, cpu, peak, found, status) in medians.items():
            ratio = seconds / medians["urlwatch"][0]
            print(
                f"{label:<7} {tool:<9} {seconds:>6.2f} {cpu:>6.2f} {peak / MIB:>9.1f} "
                f"{ratio:>11.2f} {found:>6} {status:>5}"
            )
            if tool == "monitor":
                ok &= ratio <= TARGET_RATIO and peak < TARGET_BYTES and status == 0
    verdict = "met" if ok else "MISSED"
    print(
        f"target: monitor at most {TARGET_RATIO:g}x urlwatch's wall time, under 200 MB: {verdict}"
    )
    print(f"outputs of the last run: {OUT}/<tool>-pass<N>.txt")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=URLS, help="watched URLs (default 2000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs to take the median of")
    parser.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    ok = report(run_benchmark(args.urls, args.repeat), args.urls)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
