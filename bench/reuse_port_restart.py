#!/usr/bin/env python3
"""Zero-downtime restart under steady load (issue 4): an old instance serves with --reuse-port,
a new one binds the same port, the old one gets SIGTERM and drains. Clients keep sending
keep-alive requests the whole time, reconnecting after `Connection: close`; every request that
does not get a complete 200 is a failure. 127.0.0.1 only, bounded in time.

usage: bench/reuse_port_restart.py [BINARY] [--clients N] [--seconds S]
Sets net.ipv4.tcp_migrate_req=1 when the kernel has it and we may (root)."""
import argparse, os, signal, socket, subprocess, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("binary", nargs="?", default="target/debug/etamil-mio")
ap.add_argument("--clients", type=int, default=8)
ap.add_argument("--seconds", type=float, default=6.0)
args = ap.parse_args()

migrate = "/proc/sys/net/ipv4/tcp_migrate_req"
if os.path.exists(migrate):
    try:
        with open(migrate, "w") as f:
            f.write("1")
    except OSError as e:
        print(f"cannot set tcp_migrate_req: {e}", file=sys.stderr)
    print("tcp_migrate_req =", open(migrate).read().strip())

def start(port):
    p = subprocess.Popen([args.binary, "--port", str(port), "--reuse-port", "on",
                          "--access-log", "off", "--log-level", "warn"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    addr = p.stdout.readline().decode().strip()
    return p, int(addr.rsplit(":", 1)[1])

old, port = start(0)
stop = threading.Event()
lock = threading.Lock()
stats = {"ok": 0, "failed": 0, "errors": {}}

def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before a response" + (" (partial)" if buf else ""))
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:] if b":" in l}
    n = int(hdrs.get(b"content-length", b"0"))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed inside a body")
        rest += d
    return status, hdrs, rest[n:]

def client():
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as e:
            with lock:
                stats["failed"] += 1
                stats["errors"][f"connect: {e}"] = stats["errors"].get(f"connect: {e}", 0) + 1
            continue
        buf = b""
        try:
            while not stop.is_set():
                s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                status, hdrs, buf = read_response(s, buf)
                with lock:
                    if status == 200:
                        stats["ok"] += 1
                    else:
                        stats["failed"] += 1
                if hdrs.get(b"connection") == b"close":
                    break
        except (OSError, ConnectionError) as e:
            with lock:
                stats["failed"] += 1
                k = type(e).__name__ + ": " + str(e)
                stats["errors"][k] = stats["errors"].get(k, 0) + 1
        finally:
            s.close()

threads = [threading.Thread(target=client) for _ in range(args.clients)]
for t in threads:
    t.start()
time.sleep(args.seconds / 3)
new, _ = start(port)
time.sleep(0.2)
old.send_signal(signal.SIGTERM)
old_status = old.wait(timeout=60)
time.sleep(args.seconds / 3)
stop.set()
for t in threads:
    t.join()
new.send_signal(signal.SIGTERM)
new_status = new.wait(timeout=60)
print(f"requests ok: {stats['ok']}, failed: {stats['failed']}, old exit {old_status}, new exit {new_status}")
for k, v in stats["errors"].items():
    print(f"  {v} x {k}")
sys.exit(0 if stats["failed"] == 0 else 1)
