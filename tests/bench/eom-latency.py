#!/usr/bin/env python3
"""eom-latency.py HOST PORT N LABEL - end-of-message round trip over TCP

One session at a time, as an idle MTA sends: negotiate (all actions and
protocol flags offered, the milter's no-reply flags honoured), a short
message, then the time from sending end-of-message to the milter's final
answer, N times.  Prints "LABEL eom-latency-ms p50 X max Y".  Over TCP a
milter that writes its header changes and its answer as separate small
packets without TCP_NODELAY waits for the MTA's delayed ACK (~40 ms).
"""
import socket
import struct
import sys
import time

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}


def send(s, cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("milter closed the connection")
        buf += chunk
    return buf


def recv(s):
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    data = recv_exact(s, n)
    return data[:1], data[1:]


def one(host, port, i):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Postfix
    send(s, b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
    _, data = recv(s)
    proto = struct.unpack(">III", data[:12])[2]

    def step(cmd, data=b""):
        if proto & {b"C": 0x1, b"H": 0x2, b"M": 0x4, b"R": 0x8,
                    b"B": 0x10, b"L": 0x20, b"N": 0x40}.get(cmd, 0):
            return
        send(s, cmd, data)
        if not proto & NR.get(cmd, 0):
            recv(s)

    step(b"C", b"client\0" + b"4" + struct.pack(">H", 25) + b"192.0.2.10\0")
    step(b"H", b"client\0")
    send(s, b"D", b"Mi\0LAT%05d\0" % i)
    step(b"M", b"<customer@example.net>\0")
    step(b"R", b"<support@example.com>\0")
    for name, value in ((b"From", b" customer@example.net"),
                        (b"To", b" support@example.com"),
                        (b"Subject", b" Order 1234")):
        step(b"L", name + b"\0" + value + b"\0")
    step(b"N")
    step(b"B", b"Hello, my order has not arrived yet.\r\n")
    start = time.monotonic()
    send(s, b"E")
    while True:
        cmd, _ = recv(s)
        if cmd in (b"a", b"c", b"t", b"r", b"d"):
            break
    ms = (time.monotonic() - start) * 1000
    send(s, b"Q")
    s.close()
    return ms


def main():
    host, port, n, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    times = sorted(one(host, port, i) for i in range(n))
    print("%-14s eom-latency-ms p50 %6.1f max %6.1f" %
          (label, times[len(times) // 2], times[-1]))


if __name__ == "__main__":
    main()
