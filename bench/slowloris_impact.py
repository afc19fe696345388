#!/usr/bin/env python3
"""How much a slowloris slows a normal client (issue 4: measured here, never in a timed test).

Starts the server (release build) on 127.0.0.1 with a free port, then alternates runs of
`loadgen` against /gst/1000 without and with N slowloris connections open (A B A B ...), and
prints the median p50/p99 of each side and their ratio. The slowloris is stdlib Python: each
connection sends a partial head, then one more header line every --interval seconds, and
reconnects when the server closes it (the header timeout), as the real tool does. Only our own
processes are stopped; nothing but 127.0.0.1 is contacted; every run is bounded in time.

usage: bench/slowloris_impact.py [--binary B] [--loadgen L] [--slow N] [--rate R]
                                 [--connections C] [--duration D] [--repeat K] [SERVER ARGS...]
e.g.   bench/slowloris_impact.py --slow 2000 -- --header-timeout 10s
"""
import argparse, json, os, selectors, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/etamil-mio"))
ap.add_argument("--loadgen", default=os.path.join(ROOT, "bench/target/release/loadgen"))
ap.add_argument("--slow", type=int, default=1000, help="slowloris connections (1000)")
ap.add_argument("--interval", type=float, default=1.0, help="seconds between a slow conn's lines")
ap.add_argument("--connections", type=int, default=10, help="normal client's connections (10)")
ap.add_argument("--rate", type=int, default=2000,
                help="normal client's open-loop rate, req/s (2000; 0 = closed loop)")
ap.add_argument("--duration", default="5s", help="each loadgen run (5s)")
ap.add_argument("--repeat", type=int, default=3, help="runs per side, interleaved (3)")
ap.add_argument("server_args", nargs="*", help="extra server options, after --")
args = ap.parse_args()

for path in (args.binary, args.loadgen):
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} not built: cargo build --release; cd bench && cargo build --release")

server = subprocess.Popen(
    [args.binary, "--host", "127.0.0.1", "--port", "0", "--access-log", "off",
     "--log-level", "warn", *args.server_args],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
addr = server.stdout.readline().decode().strip()
host, port = addr.rsplit(":", 1)
port = int(port)
assert host == "127.0.0.1", addr
url = f"http://{addr}/gst/1000"


class Slowloris(threading.Thread):
    """N partial heads kept open with one header line per interval; reconnects when closed."""

    def __init__(self, n, interval):
        super().__init__(daemon=True)
        self.n, self.interval = n, interval
        self.stop = threading.Event()
        self.open = 0
        self.reconnects = 0
        self.sel = selectors.DefaultSelector()

    def connect(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            return
        self.sel.register(s, selectors.EVENT_READ, {"sent_head": False})

    def run(self):
        for _ in range(self.n):
            self.connect()
        next_tick = time.monotonic()
        while not self.stop.is_set():
            # A readable slow connection was answered (408) or closed: replace it.
            for key, _ in self.sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(s)
                    s.close()
                    self.reconnects += 1
                    self.connect()
            if time.monotonic() < next_tick:
                continue
            next_tick += self.interval
            alive = 0
            for key in list(self.sel.get_map().values()):
                s, st = key.fileobj, key.data
                line = b"X-a: b\r\n" if st["sent_head"] else b"GET / HTTP/1.1\r\nHost: x\r\n"
                try:
                    s.send(line)
                    st["sent_head"] = True
                    alive += 1
                except (BlockingIOError, InterruptedError):
                    alive += 1
                except OSError:
                    pass  # not connected yet, or closed: the read side notices
            self.open = alive
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


def loadgen():
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [args.loadgen, "-q", "-c", str(args.connections), "-d", args.duration,
               "--json", out.name, url]
        if args.rate:
            cmd[2:2] = ["-R", str(args.rate)]
        subprocess.run(cmd, check=False, timeout=600)
        run = json.load(open(out.name))["summary"][0]
    return run


def show(label, run):
    print(f"  {label:<16} p50 {run['p50_us']:>9.1f} us   p99 {run['p99_us']:>9.1f} us   "
          f"{run['rps']:>8.1f} req/s   errors {run['errors']}", flush=True)


base, slow = [], []
try:
    print(f"server {addr} ({args.binary}), normal client: loadgen -c {args.connections} "
          f"{'-R ' + str(args.rate) + ' ' if args.rate else ''}-d {args.duration} {url}; "
          f"slowloris: {args.slow} connections, a line every {args.interval}s", flush=True)
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat}", flush=True)
        run = loadgen()
        base.append(run)
        show("baseline", run)
        sl = Slowloris(args.slow, args.interval)
        sl.start()
        deadline = time.monotonic() + 30
        while sl.open < args.slow * 0.95 and time.monotonic() < deadline:
            time.sleep(0.2)
        run = loadgen()
        slow.append(run)
        show(f"+{sl.open} slowloris", run)
        sl.stop.set()
        sl.join(timeout=30)
        print(f"  (slowloris reconnects after the server closed them: {sl.reconnects})")
    if server.poll() is not None:
        sys.exit(f"the server exited with {server.returncode}")
finally:
    server.terminate()
    try:
        server.wait(timeout=35)
    except subprocess.TimeoutExpired:
        server.kill()

med = lambda runs, k: statistics.median(r[k] for r in runs)
print("\nmedians over", args.repeat, "rounds")
print(f"{'':<16}{'p50 us':>10}{'p99 us':>10}{'req/s':>10}{'errors':>8}")
for label, runs in (("baseline", base), (f"+{args.slow} slowloris", slow)):
    print(f"{label:<16}{med(runs, 'p50_us'):>10.1f}{med(runs, 'p99_us'):>10.1f}"
          f"{med(runs, 'rps'):>10.1f}{sum(r['errors'] for r in runs):>8}")
print(f"{'ratio':<16}{med(slow, 'p50_us') / med(base, 'p50_us'):>10.2f}"
      f"{med(slow, 'p99_us') / med(base, 'p99_us'):>10.2f}")
