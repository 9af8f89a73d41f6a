#!/usr/bin/env python3
"""milter-client.py - N concurrent milter sessions, one message each

Usage: milter-client.py SOCKET MESSAGE CONNECTIONS [/proc/PID/status]

Speaks the milter protocol (version 6) like Postfix: offers every action
and protocol flag, honours the milter's no-reply (SMFIP_NR_*) and skip
(SMFIP_NO*) flags, sends envelope, headers and the body in 64 KB chunks
(stopping at SKIP), then every session waits at a barrier and sends end of
message at once.  Prints the milter's VmHWM/VmRSS (from the status file)
when all buffers are full, then a summary line.  SOCKET: a unix socket
path, or HOST:PORT.
"""
import socket, struct, sys, threading, time

path, msgfile, conns = sys.argv[1], sys.argv[2], int(sys.argv[3])
status = sys.argv[4] if len(sys.argv) > 4 else None
raw = open(msgfile, "rb").read()
head, _, body = raw.partition(b"\r\n\r\n")
headers = []
for line in head.split(b"\r\n"):
    if line[:1] in (b" ", b"\t") and headers:
        headers[-1][1] += b"\r\n" + line
    elif b":" in line:
        n, _, v = line.partition(b":")
        headers.append([n, v.lstrip(b" \t")])

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000, b"T": 0x10000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
NO = {b"C": 0x1, b"H": 0x2, b"M": 0x4, b"R": 0x8, b"B": 0x10, b"L": 0x20,
      b"N": 0x40, b"T": 0x200}
CHUNK = 65535

def vm(key):
    if status is None:
        return 0
    try:
        f = open(status)
    except OSError:
        return -1
    for line in f:
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0

class Conn:
    def __init__(self, i):
        self.i = i
        for attempt in range(50):
            try:
                if path.startswith("/"):
                    self.s = socket.socket(socket.AF_UNIX)
                    addr = path
                else:
                    host, _, port = path.rpartition(":")
                    self.s = socket.socket(socket.AF_INET)
                    addr = (host, int(port))
                self.s.settimeout(300)
                self.s.connect(addr)
                break
            except OSError:
                self.s.close()
                time.sleep(0.1)
        else:
            raise SystemExit("cannot connect")

    def send(self, cmd, data=b""):
        self.s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def recvn(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise SystemExit("milter closed the connection")
            b += c
        return b

    def recv(self):
        n = struct.unpack(">I", self.recvn(4))[0]
        d = self.recvn(n)
        return d[:1], d[1:]

    def step(self, cmd, data=b""):
        """send a step unless skipped; its reply, or None (no reply)"""
        if self.proto & NO.get(cmd, 0):
            return b"-"
        self.send(cmd, data)
        if self.proto & NR.get(cmd, 0):
            return None
        r, _ = self.recv()
        return r

    def start(self):
        self.send(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
        cmd, data = self.recv()
        assert cmd == b"O", cmd
        self.proto = struct.unpack(">III", data[:12])[2]
        # (b"\0" + b"192..." would read as the octal escape "\019")
        self.send(b"D", b"\0".join([b"Cj", b"mx.example.com", b"{client_addr}",
                                     b"192.0.2.10", b""]))
        self.step(b"C", b"client.example.net\0" + b"4" +
                  struct.pack(">H", 25) + b"192.0.2.10\0")
        self.step(b"H", b"client.example.net\0")
        self.send(b"D", b"Mi\0MEM%05d\0" % self.i)
        self.step(b"M", b"<customer@example.net>\0")
        self.step(b"R", b"<support@example.com>\0")
        self.step(b"T")
        for n, v in headers:
            self.step(b"L", n + b"\0" + v + b"\0")
        self.step(b"N")
        self.sent = 0
        for o in range(0, len(body), CHUNK):
            r = self.step(b"B", body[o:o + CHUNK])
            self.sent += min(CHUNK, len(body) - o)
            if r == b"s":
                break

    def finish(self):
        self.send(b"D", b"Ei\0MEM%05d\0" % self.i)
        self.send(b"E")
        mods = 0
        while True:
            r, _ = self.recv()
            if r in (b"h", b"m", b"i", b"+", b"-", b"q"):
                mods += 1
                continue
            self.final = r
            self.mods = mods
            break
        self.send(b"Q")
        self.s.close()

errors = []
barrier = threading.Barrier(conns + 1)
done = threading.Barrier(conns + 1)
cs = [None] * conns

def worker(i):
    try:
        c = Conn(i)
        cs[i] = c
        c.start()
    except BaseException as e:
        errors.append("start %d: %r" % (i, e))
    try:
        barrier.wait(timeout=600)
    except threading.BrokenBarrierError:
        pass
    try:
        if cs[i] is not None and hasattr(cs[i], "sent"):
            cs[i].finish()
    except BaseException as e:
        errors.append("eom %d: %r" % (i, e))
    try:
        done.wait(timeout=600)
    except threading.BrokenBarrierError:
        pass

t0 = time.time()
th = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
for t in th:
    t.start()
try:
    barrier.wait(timeout=600)
except threading.BrokenBarrierError:
    errors.append("barrier broken")
t1 = time.time()
print("buffered_hwm_kb=%d buffered_rss_kb=%d threads=%d" % (vm("VmHWM"), vm("VmRSS"), vm("Threads")))
try:
    done.wait(timeout=600)
except threading.BrokenBarrierError:
    errors.append("done barrier broken")
t2 = time.time()
for t in th:
    t.join()
ok = sum(1 for c in cs if c is not None and getattr(c, "final", None) in (b"c", b"a"))
sent = [c.sent for c in cs if c is not None and hasattr(c, "sent")]
print("connections=%d verdicts_ok=%d body_sent_kb_min=%d body_sent_kb_max=%d "
      "send_secs=%.2f eom_secs=%.2f errors=%d" % (
      conns, ok, min(sent) // 1024 if sent else 0, max(sent) // 1024 if sent else 0,
      t1 - t0, t2 - t1, len(errors)))
for e in errors[:5]:
    print("error:", e)
sys.exit(1 if errors else 0)
