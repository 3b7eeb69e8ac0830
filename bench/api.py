"""Benchmark: Candor's API against bare Starlette + asyncpg doing the same work (issue 14).

Run: ``python bench/api.py`` (from the repository root; needs ``wrk``, Debian's package, and a
loopback PostgreSQL). Not a test: it prints figures.

For each size (100,000 and 1,000,000 submissions by default) it drops and recreates the bench
database (``--database-url``, loopback only), builds the schema with Alembic and loads the
agency of ``bench/sweep.py`` with COPY (recruiters, calendar, clients, contacts, jobs,
candidates, submissions with running clocks and their checks). The first rows are then put in
``interview_scheduled`` with their clocks stopped, for the stage moves. An integration key is
issued the way ``candor keys`` issues one.

Two servers run side by side on the same database, with the same uvicorn options and process
count: **Candor** (``candor serve``, as it ships) and **bare** (``bench/bare_app.py``: Starlette
and an asyncpg pool doing the same reads and writes, row for row; its docstring lists them).
``wrk`` drives each path at each concurrency, **interleaved**: after a warm-up of both, rounds
of (Candor, bare) and (bare, Candor) alternately, each run ``--duration`` seconds. The paths:

* ``get``: ``GET /v1/submissions/{id}``, a random id among all;
* ``list``: ``GET /v1/submissions?limit=50``, the first page in id order;
* ``sync``: ``GET /v1/submissions?updated_since=…&stage=submitted&limit=50``, the first page of
  an ATS sync whose window holds the 5,000 most recently changed submissions (the end of the
  table, where ``updated_since`` lands in practice);
* ``move``: ``POST /v1/submissions/{id}/moves``, ``interview_scheduled`` ↔ ``interviewed`` over
  a fresh block of 1,024 submissions per run (each run starts them all in
  ``interview_scheduled``, so both servers do the same mix: half the moves stop a clock, half
  start one with its three checks, each queues a status message);
* ``create``: ``POST /v1/candidates``, a new candidate per request.

For every run it prints requests per second, p50 and p99 latency (wrk's, over every request),
non-2xx answers and socket errors (a run with any is marked ``!``), and the 1-minute load average
read just before it; then per path the medians and the ratio Candor / bare. ``--pin`` runs the
servers on core 0 and wrk on core 1 (``taskset``; PostgreSQL floats).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import sweep as agency  # noqa: E402 - bench/sweep.py: the same agency, loaded the same way

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/candor_api_bench"
SECRET = "bench-secret-not-for-production-4f1c2a9e7d3b"  # noqa: S105 - a throwaway database
PATHS = ("get", "list", "sync", "move", "create")
SIZES = (100_000, 1_000_000)
CONCURRENCY = (16, 64)
SYNC_WINDOW = 5_000
MOVE_BLOCK = 1_024
WARMUP_SECONDS = 3
#: The targets of issue 14.
TARGET_RATIO = 0.3
TARGET_P99_MS = 50.0
TARGET_SYNC_SCALING = 1.3

LUA_COMMON = """
local json_summary = function(summary, latency)
  local e = summary.errors
  io.write(string.format(
    "JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"status\\": %d, \\"connect\\": %d, "
    .. "\\"read\\": %d, \\"write\\": %d, \\"timeout\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d}\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
done = function(summary, latency, requests) json_summary(summary, latency) end
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
"""

LUA = {
    "get": """
init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  n = tonumber(args[2])
  math.randomseed(1000 + tid)
end
request = function()
  return wrk.format("GET", "/v1/submissions/" .. math.random(1, n))
end
""",
    "list": """
init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  path = args[2]
end
request = function() return wrk.format("GET", path) end
""",
    "move": """
init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  local first, count, nthreads = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  ids, stage, i, primed = {}, {}, 0, false
  for id = first, first + count - 1 do
    if id % nthreads == tid then
      ids[#ids + 1] = id
      stage[id] = "interview_scheduled"
    end
  end
end
request = function()
  -- wrk builds one request of one thread to check the script and never sends it: were that a
  -- move, this thread's idea of the stage would be one move ahead of the row's for that id
  -- (a 409 per run). The first request is therefore a read, which changes nothing either way.
  if not primed then
    primed = true
    return wrk.format("GET", "/v1/submissions/" .. ids[1])
  end
  i = i % #ids + 1
  local id = ids[i]
  local to = stage[id] == "interview_scheduled" and "interviewed" or "interview_scheduled"
  stage[id] = to
  return wrk.format("POST", "/v1/submissions/" .. id .. "/moves", nil,
    '{"to_stage": "' .. to .. '"}')
end
""",
    "create": """
init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  run, k = args[2], 0
end
request = function()
  k = k + 1
  return wrk.format("POST", "/v1/candidates", nil, string.format(
    '{"first_name": "Bench", "last_name": "Candidate", "email": "bench-%s-%d-%d@example.com", '
    .. '"owner_id": 1, "time_zone": "Europe/London"}', run, tid, k))
end
""",
}
LUA["sync"] = LUA["list"]


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str], log: Path) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own commands
            self.command,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )

    def wait_ready(self, key: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.process.returncode}); see its log")
            try:
                r = httpx.get(
                    f"{self.url}/v1/submissions/1",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=2,
                )
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def servers(
    target: agency.Target, workers: int, pin: bool, logs: Path, candor_command: list[str]
) -> Iterator[list[Server]]:
    env = {
        **os.environ,
        "CANDOR_DATABASE_URL": target.url,
        "CANDOR_SECRET_KEY": SECRET,
        "CANDOR_LOG_LEVEL": "info",
    }
    env.pop("WEB_CONCURRENCY", None)
    pinned = ["taskset", "-c", "0"] if pin else []
    bin_dir = Path(sys.executable).parent
    candor_port, bare_port = free_port(), free_port()
    candor = Server(
        "candor",
        [
            *pinned,
            *(candor_command or [str(bin_dir / "candor")]),
            "serve",
            "--port",
            str(candor_port),
            "--workers",
            str(workers),
        ],
        candor_port,
    )
    # The same uvicorn options as `candor serve` (app.cli:serve).
    bare = Server(
        "bare",
        [
            *pinned,
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(BENCH),
            "--host",
            "127.0.0.1",
            "--port",
            str(bare_port),
            "--workers",
            str(workers),
            "--log-level",
            "info",
            "--proxy-headers",
        ],
        bare_port,
    )
    started = []
    try:
        for server in (candor, bare):
            server.start(env, logs / f"{server.name}.log")
            started.append(server)
        yield started
    finally:
        for server in started:
            server.stop()


# --- runs ---------------------------------------------------------------------------------------


@dataclass
class Run:
    server: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    load: float

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0


def wrk(
    url: str, script: Path, args: list[str], *, connections: int, seconds: float, pin: bool
) -> Run:
    threads = 2
    command = [
        *(["taskset", "-c", "1"] if pin else []),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        *args,
    ]
    load = loadavg()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    data = json.loads(line[5:])
    seconds_run = data["duration_us"] / 1e6
    return Run(
        server="",
        rps=data["requests"] / seconds_run,
        p50_ms=data["p50_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        non_2xx=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        load=load,
    )


@dataclass
class Bench:
    key: str
    n: int
    sync_path: str
    scripts: dict[str, Path]
    connections: tuple[int, ...]
    seconds: float
    rounds: int
    pin: bool
    next_block: int = 1
    run_no: int = 0
    results: dict[tuple[str, int], dict[str, list[Run]]] = field(default_factory=dict)

    def args(self, path: str) -> list[str]:
        self.run_no += 1
        if path == "get":
            return [self.key, str(self.n)]
        if path == "list":
            return [self.key, "/v1/submissions?limit=50"]
        if path == "sync":
            return [self.key, self.sync_path]
        if path == "move":
            first = self.next_block
            self.next_block += MOVE_BLOCK
            return [self.key, str(first), str(MOVE_BLOCK), "2"]
        return [self.key, f"{os.getpid()}x{self.run_no}"]

    def one(self, server: Server, path: str, c: int, seconds: float) -> Run:
        run = wrk(
            server.url,
            self.scripts[path],
            self.args(path),
            connections=c,
            seconds=seconds,
            pin=self.pin,
        )
        run.server = server.name
        return run

    def path(self, pair: list[Server], path: str, c: int) -> None:
        for server in pair:
            self.one(server, path, c, WARMUP_SECONDS)
        runs: dict[str, list[Run]] = {s.name: [] for s in pair}
        for r in range(self.rounds):
            for server in pair if r % 2 == 0 else list(reversed(pair)):
                run = self.one(server, path, c, self.seconds)
                runs[server.name].append(run)
                mark = "" if run.clean else f"  ! {run.non_2xx} non-2xx, {run.socket_errors} err"
                print(
                    f"    {path:<6} c{c:<3} {server.name:<6} {run.rps:>8.0f} rps  "
                    f"p50 {run.p50_ms:>7.1f} ms  p99 {run.p99_ms:>7.1f} ms  "
                    f"load {run.load:.2f}{mark}",
                    flush=True,
                )
        self.results[(path, c)] = runs


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- data ---------------------------------------------------------------------------------------


async def prepare(target: agency.Target, n: int, seed: int, move_rows: int) -> tuple[str, str]:
    """Load the agency; put the move blocks in ``interview_scheduled``; issue a key. Returns the
    key and the sync window's ``updated_since``."""
    await agency.rebuild(target)
    steps = await agency.load(target, agency.Shape(n), seed)
    print("  load: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()), flush=True)
    conn = await target.connect()
    try:
        moved_at = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
        async with conn.transaction():
            await conn.execute(
                "UPDATE submission SET stage = 'interview_scheduled', stage_changed_at = $2 "
                "WHERE id <= $1",
                move_rows,
                moved_at,
            )
            await conn.execute(
                "UPDATE sla_clock SET stopped_at = $2, stop_reason = 'moved to "
                "interview_scheduled' WHERE submission_id <= $1",
                move_rows,
                moved_at,
            )
            await conn.execute(
                "UPDATE sla_check SET state = 'cancelled' WHERE submission_id <= $1", move_rows
            )
        since = await conn.fetchval(
            "SELECT updated_at FROM submission ORDER BY updated_at DESC, id DESC OFFSET $1 LIMIT 1",
            SYNC_WINDOW - 1,
        )
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    os.environ["CANDOR_DATABASE_URL"] = target.url
    os.environ["CANDOR_SECRET_KEY"] = SECRET
    from app.auth.bootstrap import create_client_key
    from app.core.settings import Settings

    key = await create_client_key(Settings(), role="integration", name="bench")
    since_text = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return key, since_text


# --- main ---------------------------------------------------------------------------------------


def print_summary(n: int, bench: Bench) -> None:
    print(f"\n  summary at {n:,} submissions (medians of {bench.rounds} runs each)")
    print(
        f"  {'path':<8}{'conc':>5}{'candor rps':>12}{'bare rps':>10}{'ratio':>8}"
        f"{'candor p50':>12}{'p99':>9}{'bare p50':>10}{'p99':>9}{'load':>12}"
    )
    for (path, c), runs in bench.results.items():
        cr, br = runs["candor"], runs["bare"]
        c_rps, b_rps = median([r.rps for r in cr]), median([r.rps for r in br])
        loads = [r.load for r in cr + br]
        dirty = "" if all(r.clean for r in cr + br) else "  ! errors"
        print(
            f"  {path:<8}{c:>5}{c_rps:>12.0f}{b_rps:>10.0f}{c_rps / b_rps:>7.2f}x"
            f"{median([r.p50_ms for r in cr]):>10.1f}ms{median([r.p99_ms for r in cr]):>7.1f}ms"
            f"{median([r.p50_ms for r in br]):>8.1f}ms{median([r.p99_ms for r in br]):>7.1f}ms"
            f"{min(loads):>6.2f}-{max(loads):.2f}{dirty}"
        )


def verdicts(by_size: dict[int, Bench]) -> None:
    print("\n=== issue 14 targets ===")
    for n, bench in by_size.items():
        for path in ("get", "move"):
            runs = bench.results.get((path, 16))
            if runs is None:
                continue
            ratio = median([r.rps for r in runs["candor"]]) / median([r.rps for r in runs["bare"]])
            verdict = "MET" if ratio >= TARGET_RATIO else "NOT met"
            print(f"  {n:,}: {path} c16 {ratio:.2f}x bare: {verdict} (target >= {TARGET_RATIO})")
        runs = bench.results.get(("get", 16))
        if runs is not None:
            p99 = median([r.p99_ms for r in runs["candor"]])
            verdict = "MET" if p99 < TARGET_P99_MS else "NOT met"
            print(f"  {n:,}: get c16 p99 {p99:.1f} ms: {verdict} (target < {TARGET_P99_MS:g} ms)")
    sizes = sorted(by_size)
    if len(sizes) > 1:
        small, large = by_size[sizes[0]], by_size[sizes[-1]]
        for c in small.connections:
            a, b = small.results.get(("sync", c)), large.results.get(("sync", c))
            if a is None or b is None:
                continue
            p50_small = median([r.p50_ms for r in a["candor"]])
            p50_large = median([r.p50_ms for r in b["candor"]])
            ratio = p50_large / p50_small
            verdict = "MET" if ratio <= TARGET_SYNC_SCALING else "NOT met"
            print(
                f"  sync c{c} p50 {sizes[-1]:,} vs {sizes[0]:,}: {p50_large:.1f} / "
                f"{p50_small:.1f} ms = {ratio:.2f}x: {verdict} (target <= {TARGET_SYNC_SCALING})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--connections", default=",".join(map(str, CONCURRENCY)))
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per server, interleaved")
    parser.add_argument("--workers", type=int, default=1, help="server processes, both servers")
    parser.add_argument("--pin", action="store_true", help="servers on core 0, wrk on core 1")
    parser.add_argument("--seed", type=int, default=20261208)
    parser.add_argument(
        "--candor-command",
        default="",
        help="the command that runs Candor's CLI (default: this environment's `candor`), to "
        "measure another checkout against the same bare app, e.g. the state before a change",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    target = agency.Target.parse(args.database_url)
    sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(","))
    paths = tuple(p for p in args.paths.split(",") if p)
    if unknown := set(paths) - set(PATHS):
        raise SystemExit(f"unknown paths: {sorted(unknown)}")
    connections = tuple(int(c) for c in args.connections.split(","))
    move_rows = MOVE_BLOCK * len(connections) * (args.rounds * 2 + 2)

    async def machine() -> None:
        admin = await target.connect("postgres")
        try:
            await agency.print_machine(admin)
        finally:
            await admin.close()

    asyncio.run(machine())
    print(
        f"api bench: paths {', '.join(paths)}; connections {connections}; {args.duration:g} s "
        f"per run, {args.rounds} interleaved rounds after a {WARMUP_SECONDS} s warm-up; "
        f"{args.workers} server process(es) each; {'pinned' if args.pin else 'not pinned'}"
    )
    began = time.perf_counter()
    by_size: dict[int, Bench] = {}
    # Kept afterwards: the servers' logs say what any non-2xx answer was.
    tmp = tempfile.mkdtemp(prefix="candor-api-bench-")
    print(f"scripts and server logs in {tmp}")
    scripts: dict[str, Path] = {}
    for name in paths:
        script = Path(tmp) / f"{name}.lua"
        script.write_text(LUA_COMMON + LUA[name])
        scripts[name] = script
    for n in sizes:
        print(f"\n--- {n:,} submissions ---", flush=True)
        key, since = asyncio.run(prepare(target, n, args.seed, move_rows))
        since_query = since.replace(":", "%3A")
        sync_path = f"/v1/submissions?limit=50&stage=submitted&updated_since={since_query}"
        bench = Bench(
            key=key,
            n=n,
            sync_path=sync_path,
            scripts=scripts,
            connections=connections,
            seconds=args.duration,
            rounds=args.rounds,
            pin=args.pin,
        )
        logs = Path(tmp) / f"{n}"
        logs.mkdir()
        with servers(
            target, args.workers, args.pin, logs, shlex.split(args.candor_command)
        ) as pair:
            for server in pair:
                server.wait_ready(key)
            for path in paths:
                for c in connections:
                    bench.path(pair, path, c)
        print_summary(n, bench)
        by_size[n] = bench
    verdicts(by_size)
    print(f"total bench time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
