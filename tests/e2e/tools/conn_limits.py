#!/usr/bin/env python3
"""Exercises kmsd's connection limits from several loopback source addresses.

Usage: conn_limits.py <port> <ca-file> <per-ip-limit> <total-limit>
kmsd must run with threads = 1 (libmicrohttpd divides connection_limit among its worker
threads), per_ip_connection_limit = <per-ip-limit> and connection_limit = <total-limit>
(greater than <per-ip-limit>, at most twice it). Evaluator checklist item 25:
  1. <per-ip-limit> TLS connections from 127.0.0.1 complete their handshake and stay open;
     one more from 127.0.0.1 is closed before its handshake completes (per-IP limit);
  2. the rest up to <total-limit> from 127.0.0.2 complete; one more from 127.0.0.3 is
     closed (total limit, although 127.0.0.3 has no connection yet);
  3. every held connection still gets an HTTP answer;
  4. once they are closed, a new connection from 127.0.0.3 is served again.
Prints one line per step; exit 0 when every step holds.
"""
import socket
import ssl
import sys
import time

port, ca, per_ip, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
BODY = b"\x01\x0b\x05"  # not MIKEY: answered 200 with a MIKEY Error
REQUEST = (b"POST /kms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/mikey\r\n"
           b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY


def connect(src):
    """A TLS connection from src whose handshake completed, or None if kmsd closed it."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=3, source_address=(src, 0))
    try:
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        # TLS 1.3: the server may close right after its Finished; a read shows it.
        tls.settimeout(0.3)
        try:
            if tls.recv(1) == b"":
                tls.close()
                return None
        except socket.timeout:
            pass
        except ssl.SSLWantReadError:
            pass
        tls.settimeout(3)
        return tls
    except (ssl.SSLError, OSError):
        raw.close()
        return None


def status(tls):
    tls.sendall(REQUEST)
    head = b""
    while b"\r\n" not in head:
        chunk = tls.recv(4096)
        if not chunk:
            break
        head += chunk
    parts = head.split(b" ")
    return parts[1].decode() if len(parts) > 1 else "closed"


ok = True


def expect(what, cond):
    global ok
    print(("  ok: " if cond else "  FAILED: ") + what)
    ok = ok and cond


held = [connect("127.0.0.1") for _ in range(per_ip)]
expect(f"{per_ip} connections from 127.0.0.1 open", all(held))
expect("one more from 127.0.0.1 refused (per_ip_connection_limit)", connect("127.0.0.1") is None)
others = [connect("127.0.0.2") for _ in range(total - per_ip)]
expect(f"{total - per_ip} from 127.0.0.2 open", all(others))
held += others
expect("one from 127.0.0.3 refused (connection_limit)", connect("127.0.0.3") is None)
codes = [status(t) if t else "none" for t in held]
expect("every held connection answered: " + " ".join(codes), all(c == "200" for c in codes))
for t in held:
    if t:
        t.close()
fresh = None
deadline = time.monotonic() + 3
while fresh is None and time.monotonic() < deadline:
    time.sleep(0.2)
    fresh = connect("127.0.0.3")
expect("after closing them a new connection is served",
       fresh is not None and status(fresh) == "200")
sys.exit(0 if ok else 1)
