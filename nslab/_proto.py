"""The typed request/reply framing between the kernel, the helper and children.

A message is one JSON object behind an 8-byte header (``!II``: body length,
number of file descriptors).  Descriptors ride as SCM_RIGHTS on the header.
Strings that came from /proc as bytes are decoded with surrogateescape, which
json's ensure_ascii keeps intact across the socket.
"""

from __future__ import annotations

import array
import json
import select
import socket
import struct
import time

from ._errors import ChildTimeout, HelperError

_HDR = struct.Struct("!II")
MAX_BODY = 64 << 20
MAX_FDS = 4


class Closed(EOFError):
    """The peer closed its end."""


def send(sock, obj, fds=()):
    body = json.dumps(obj, separators=(",", ":")).encode("ascii")
    hdr = _HDR.pack(len(body), len(fds))
    if fds:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = sock.sendmsg([hdr + body], anc)
    else:
        sent = sock.send(hdr + body)
    data = memoryview(hdr + body)[sent:]
    if data:
        sock.sendall(data)


def _recv_exact(sock, n, deadline):
    chunks = []
    while n:
        _wait(sock, deadline)
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise Closed("peer closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _wait(sock, deadline):
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise ChildTimeout("no answer in time", step="wait for reply")
    r, _, _ = select.select([sock], [], [], left)
    if not r:
        raise ChildTimeout("no answer in time", step="wait for reply")


def recv(sock, timeout=None):
    """Return (obj, fds).  Raises Closed on EOF, ChildTimeout after timeout seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    _wait(sock, deadline)
    fds = array.array("i")
    msg, anc, _flags, _addr = sock.recvmsg(_HDR.size, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not msg:
        for fd in fds:
            _close(fd)
        raise Closed("peer closed the connection")
    if len(msg) < _HDR.size:
        msg += _recv_exact(sock, _HDR.size - len(msg), deadline)
    length, nfds = _HDR.unpack(msg)
    if length > MAX_BODY or nfds != len(fds):
        for fd in fds:
            _close(fd)
        raise HelperError(f"bad frame (length {length}, {len(fds)} fds for {nfds})", step="read reply")
    body = _recv_exact(sock, length, deadline)
    return json.loads(body), list(fds)


def _close(fd):
    import os

    try:
        os.close(fd)
    except OSError:
        pass
