#!/usr/bin/python3
"""A TCP relay for the specs that slows transfers down to RATE bytes per
second each way: throttle.py TARGET_HOST:PORT RATE. It listens on a free
loopback port, prints that port on a line of its own, and relays every
connection to TARGET until it is killed. A push or pull through it lasts
long enough for the live progress lines to be drawn, whatever the machine."""
import socket
import sys
import threading
import time


def relay(src, dst, rate):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = src.recv(16384)
            if not data:
                break
            dst.sendall(data)
            sent += len(data)
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(conn, target, rate):
    try:
        up = socket.create_connection(target)
    except OSError:
        conn.close()
        return
    a = threading.Thread(target=relay, args=(conn, up, rate), daemon=True)
    b = threading.Thread(target=relay, args=(up, conn, rate), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    conn.close()
    up.close()


def main(argv):
    host, port = argv[1].rsplit(":", 1)
    target, rate = (host, int(port)), int(argv[2])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print(ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, target, rate), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv)
