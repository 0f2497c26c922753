#!/usr/bin/env python3
"""A TCP proxy that forwards slowly: for tests that need a transfer in progress.

    throttle_proxy.py --listen PORT --target HOST:PORT --rate BYTES_PER_SECOND

Listens on 127.0.0.1:PORT and forwards every connection to HOST:PORT. What the
target sends back shares one budget of --rate bytes per second across all
connections (a token bucket refilled continuously, sent in chunks of at most
1 KiB); what clients send is forwarded at once. Prints "listening on PORT" on
stdout once it accepts connections, and the bytes sent back so far to stderr
every few seconds. Runs until killed. Standard library only.
"""
import argparse
import socket
import sys
import threading
import time


class Budget:
    """Bytes that may be sent now: `rate` per second, at most one second's worth banked."""

    def __init__(self, rate):
        self.rate = float(rate)
        self.tokens = 0.0
        self.last = time.monotonic()
        self.sent = 0
        self.lock = threading.Lock()

    def take(self, want):
        """Blocks until at least one byte may be sent; returns how many (<= want)."""
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= 1:
                    n = int(min(want, self.tokens))
                    self.tokens -= n
                    self.sent += n
                    return n
                wait = (1 - self.tokens) / self.rate
            time.sleep(max(wait, 0.01))


def pump(src, dst, budget):
    """Copies src to dst until either side closes; throttled when budget is set."""
    try:
        while True:
            data = src.recv(1024 if budget else 65536)
            if not data:
                break
            while data:
                n = budget.take(len(data)) if budget else len(data)
                dst.sendall(data[:n])
                data = data[n:]
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, target, budget):
    try:
        upstream = socket.create_connection(target)
    except OSError as e:
        print(f"throttle_proxy: connecting to {target[0]}:{target[1]}: {e}", file=sys.stderr)
        client.close()
        return
    threads = [
        threading.Thread(target=pump, args=(client, upstream, None), daemon=True),
        threading.Thread(target=pump, args=(upstream, client, budget), daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    upstream.close()


def report(budget):
    while True:
        time.sleep(5)
        print(f"throttle_proxy: {budget.sent} bytes sent back", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True, help="HOST:PORT")
    parser.add_argument("--rate", type=int, required=True, help="bytes per second, back")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    target = (host, int(port))
    budget = Budget(args.rate)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.listen))
    listener.listen(64)
    print(f"listening on {args.listen}", flush=True)
    threading.Thread(target=report, args=(budget,), daemon=True).start()
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, target, budget), daemon=True).start()


if __name__ == "__main__":
    main()
