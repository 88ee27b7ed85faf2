#!/usr/bin/env python3
"""What an open process table costs the server: CPU and RSS of a release server at 1 s with one
WebSocket client subscribed like the dashboard, first with the table closed, then open (the client
also subscribes to system/processes, so the server scans every 2 s).

    python3 bench/processes_cost.py [SECONDS] [--server target/release/vitals] [--port 3910]

Build the server first (cargo leptos build --release). Only loopback traffic. The WebSocket client
is a few lines over a plain socket: it sends one subscribe and reads what comes.
"""
import argparse, base64, json, os, socket, subprocess, sys, threading, time

HOST_CHANNELS = ["system/cpu", "system/memory", "system/disk", "system/network", "system/gpu/*"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def subscriber(port, channels, stop):
    """A WebSocket client that subscribes to `channels` and drains frames until `stop`."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert b" 101 " in response.split(b"\r\n")[0], response
    payload = json.dumps({"type": "subscribe", "channels": channels}).encode()
    mask = os.urandom(4)
    header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") if len(payload) >= 126 \
        else bytes([0x81, 0x80 | len(payload)])
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    sock.settimeout(0.5)
    received = 0
    while not stop.is_set():
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        received += len(chunk)
    sock.close()
    return received


def measure(server, port, seconds, channels):
    process = subprocess.Popen([server, "--bind", f"127.0.0.1:{port}", "--interval", "1", "--no-persist",
                                "--nvml-library", "/nonexistent/libnvidia-ml.so.1",
                                "--emit-token", "bench-emit-token-0123456789"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in process.stdout:
            if "Vitals is serving on" in line:
                break
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        stop = threading.Event()
        client = threading.Thread(target=subscriber, args=(port, channels, stop), daemon=True)
        client.start()
        time.sleep(5)
        start_cpu, start = cpu_seconds(process.pid), time.monotonic()
        peak = 0.0
        while time.monotonic() - start < seconds:
            time.sleep(1)
            peak = max(peak, rss_mib(process.pid))
        used = cpu_seconds(process.pid) - start_cpu
        elapsed = time.monotonic() - start
        stop.set()
        client.join()
        return used / elapsed * 100, peak
    finally:
        process.terminate()
        process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("seconds", nargs="?", type=int, default=60)
    parser.add_argument("--server", default="target/release/vitals")
    parser.add_argument("--port", type=int, default=3910)
    args = parser.parse_args()
    processes = len([p for p in os.listdir("/proc") if p.isdigit()])
    print(f"{processes} processes on this machine, {args.seconds} s each, interval 1 s, one client")
    for label, channels in [("table closed", HOST_CHANNELS),
                            ("table open  ", HOST_CHANNELS + ["system/processes"])]:
        cpu, rss = measure(args.server, args.port, args.seconds, channels)
        print(f"{label}: {cpu:.3f} % of a core, peak RSS {rss:.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
