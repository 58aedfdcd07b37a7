"""A minimal rtnetlink client: links, addresses and routes of the CALLER's netns.

netlink(7), rtnetlink(7).  It opens a NETLINK_ROUTE socket, sends one dump
request and reads the multipart answer.  A netlink socket talks to the
network namespace it was created in, so this works inside a child that
entered another network namespace; it reads no path (/sys/class/net would
show the namespace of whoever mounted that sysfs, not the caller's).

The pure part (``parse_messages``, ``parse_link``, ``parse_addr``,
``parse_route``) takes bytes and raises :class:`~nslab._errors.ParseError`
on anything truncated or malformed; the dumps add the socket.  Everything
returned is plain JSON-friendly data.  Strings from the kernel (interface
names, labels) are decoded as UTF-8 with ``backslashreplace``, so they are
always valid text for JSON.

Structures are native-endian and unpadded (``=`` in struct), as the kernel
sends them to a process on the same host.
"""

from __future__ import annotations

import errno as _errno
import os
import socket
import struct

from ._errors import NsValueError, ParseError

__all__ = [
    "dump_addrs",
    "dump_links",
    "dump_routes",
    "parse_addr",
    "parse_attrs",
    "parse_link",
    "parse_messages",
    "parse_route",
]

NETLINK_ROUTE = 0

# include/uapi/linux/netlink.h
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP_INTR = 0x1, 0x2, 0x4, 0x10
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLA_TYPE_MASK = 0x3FFF  # clears NLA_F_NESTED and NLA_F_NET_BYTEORDER

# include/uapi/linux/rtnetlink.h
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")

# include/uapi/linux/if_link.h
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 3, 4, 5
IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_LINK_NETNSID = 10, 16, 18, 37
IFLA_INFO_KIND = 1

# include/uapi/linux/if_addr.h
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL = 1, 2, 3

# include/uapi/linux/rtnetlink.h (enum rtattr_type_t)
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15

# RFC 2863 operstates, Documentation/networking/operstates.rst
OPERSTATES = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN", 4: "TESTING", 5: "DORMANT", 6: "UP"}

# include/uapi/linux/if.h, netdevice(7)
IFF_FLAGS = (
    (0x1, "UP"),
    (0x2, "BROADCAST"),
    (0x4, "DEBUG"),
    (0x8, "LOOPBACK"),
    (0x10, "POINTOPOINT"),
    (0x20, "NOTRAILERS"),
    (0x40, "RUNNING"),
    (0x80, "NOARP"),
    (0x100, "PROMISC"),
    (0x200, "ALLMULTI"),
    (0x400, "MASTER"),
    (0x800, "SLAVE"),
    (0x1000, "MULTICAST"),
    (0x2000, "PORTSEL"),
    (0x4000, "AUTOMEDIA"),
    (0x8000, "DYNAMIC"),
    (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"),
    (0x40000, "ECHO"),
)

SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
_ADDR_LEN = {socket.AF_INET: 4, socket.AF_INET6: 16}
ROUTE_TYPES = {
    0: "unspec",
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
    11: "xresolve",
}
# include/uapi/linux/rtnetlink.h RTPROT_*; names as /etc/iproute2/rt_protos.
ROUTE_PROTOCOLS = {
    0: "unspec",
    1: "redirect",
    2: "kernel",
    3: "boot",
    4: "static",
    8: "gated",
    9: "ra",
    10: "mrt",
    11: "zebra",
    12: "bird",
    13: "dnrouted",
    14: "xorp",
    15: "ntk",
    16: "dhcp",
    17: "mrouted",
    18: "keepalived",
    42: "babel",
    99: "openr",
    186: "bgp",
    187: "isis",
    188: "ospf",
    189: "rip",
    192: "eigrp",
}


def _align(n):
    return (n + 3) & ~3  # NLMSG_ALIGNTO == NLA_ALIGNTO == 4


def _bad(what, step="parse netlink"):
    raise ParseError(f"netlink: {what}", step=step)


def _bytes(data, what):
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise ParseError(f"netlink {what}: expected bytes, got {type(data).__name__}", step="parse netlink")


# -- pure parsers ---------------------------------------------------------------


def parse_messages(data):
    """Split one recv() buffer into netlink messages, netlink(7).

    Returns a list of ``(type, flags, seq, payload)``; each message starts at
    a 4-byte boundary (NLMSG_ALIGN).  ParseError if a header is cut short or
    a length points past the buffer.
    """
    data = _bytes(data, "buffer")
    out = []
    off = 0
    while off < len(data):
        if len(data) - off < _NLMSGHDR.size:
            _bad(f"truncated message header at byte {off} ({len(data) - off} bytes left)")
        length, mtype, flags, seq, _pid = _NLMSGHDR.unpack_from(data, off)
        if length < _NLMSGHDR.size or off + length > len(data):
            _bad(f"message at byte {off} claims {length} bytes, {len(data) - off} left")
        out.append((mtype, flags, seq, data[off + _NLMSGHDR.size : off + length]))
        off += _align(length)
    return out


def parse_attrs(data, what="attributes"):
    """Split a run of rtattrs/nlattrs into a dict ``type -> bytes``, rtnetlink(7).

    The type is masked with NLA_TYPE_MASK (so a nested attribute with
    NLA_F_NESTED set is found under its plain type); the first of two equal
    types wins.  Each attribute starts at a 4-byte boundary (NLA_ALIGN).
    """
    data = _bytes(data, what)
    out = {}
    off = 0
    while off < len(data):
        if len(data) - off < _RTATTR.size:
            _bad(f"{what}: truncated attribute header at byte {off}")
        alen, atype = _RTATTR.unpack_from(data, off)
        if alen < _RTATTR.size or off + alen > len(data):
            _bad(f"{what}: attribute {atype} at byte {off} claims {alen} bytes, {len(data) - off} left")
        out.setdefault(atype & NLA_TYPE_MASK, data[off + _RTATTR.size : off + alen])
        off += _align(alen)
    return out


def _u32(attrs, key, what):
    v = attrs.get(key)
    if v is None:
        return None
    if len(v) != 4:
        _bad(f"{what} is {len(v)} bytes, not 4")
    return _U32.unpack(v)[0]


def _str(attrs, key, what):
    v = attrs.get(key)
    if v is None:
        return None
    # NUL-terminated; stop at the first NUL as the kernel's nla_strscpy does.
    return v.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


def _ip(family, raw, what):
    if raw is None:
        return None
    want = _ADDR_LEN.get(family)
    if want is None:
        return raw.hex()  # a family this client does not decode
    if len(raw) != want:
        _bad(f"{what} is {len(raw)} bytes, not {want} for {FAMILIES[family]}")
    return socket.inet_ntop(family, raw)


def _name(table, value):
    return table.get(value, value)


def parse_link(payload):
    """Decode one RTM_NEWLINK payload (ifinfomsg + IFLA_* attributes), rtnetlink(7).

    Keys: ``index`` (int), ``name`` (str), ``kind`` (IFLA_INFO_KIND inside
    IFLA_LINKINFO, e.g. ``"veth"``, ``"bridge"``; None for lo and physical
    NICs), ``state`` (operstate name: ``"UP"``, ``"DOWN"``, ``"UNKNOWN"``,
    ``"LOWERLAYERDOWN"``...; lo is ``"UNKNOWN"`` when up), ``flags`` (list of
    IFF_* names in bit order, including ``"RUNNING"``, which ``ip`` hides),
    ``mtu`` (int), ``address`` (str ``"aa:bb:..."`` or None), ``link``
    (IFLA_LINK: the peer's ifindex, in the peer's namespace when
    ``link_netnsid`` is set; None), ``link_netnsid`` (int or None),
    ``master`` (ifindex of the bridge/bond, or None).
    """
    payload = _bytes(payload, "link")
    if len(payload) < _IFINFOMSG.size:
        _bad(f"link message is {len(payload)} bytes, shorter than ifinfomsg")
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(payload)
    attrs = parse_attrs(payload[_IFINFOMSG.size :], "link attributes")
    name = _str(attrs, IFLA_IFNAME, "IFLA_IFNAME")
    if name is None:
        _bad(f"link {index} has no IFLA_IFNAME")
    kind = None
    if IFLA_LINKINFO in attrs:
        kind = _str(parse_attrs(attrs[IFLA_LINKINFO], "IFLA_LINKINFO"), IFLA_INFO_KIND, "IFLA_INFO_KIND")
    oper = attrs.get(IFLA_OPERSTATE)
    if oper is not None and len(oper) != 1:
        _bad(f"IFLA_OPERSTATE is {len(oper)} bytes, not 1")
    mac = attrs.get(IFLA_ADDRESS)
    return {
        "index": index,
        "name": name,
        "kind": kind,
        "state": OPERSTATES.get(oper[0], str(oper[0])) if oper is not None else "UNKNOWN",
        "flags": [n for bit, n in IFF_FLAGS if flags & bit],
        "mtu": _u32(attrs, IFLA_MTU, "IFLA_MTU"),
        "address": ":".join(f"{b:02x}" for b in mac) if mac else None,
        "link": _u32(attrs, IFLA_LINK, "IFLA_LINK"),
        "link_netnsid": _u32(attrs, IFLA_LINK_NETNSID, "IFLA_LINK_NETNSID"),
        "master": _u32(attrs, IFLA_MASTER, "IFLA_MASTER"),
    }


def parse_addr(payload):
    """Decode one RTM_NEWADDR payload (ifaddrmsg + IFA_* attributes), rtnetlink(7).

    Keys: ``index`` (ifindex), ``family`` (``"inet"``/``"inet6"``, else the
    number), ``address`` (str: IFA_LOCAL when present, else IFA_ADDRESS; on
    a point-to-point IPv4 link IFA_ADDRESS is the peer), ``prefixlen``
    (int), ``scope`` (``"host"``, ``"link"``, ``"global"``, ``"site"``, or
    the number), ``label`` (IPv4 IFA_LABEL such as ``"eth0:1"``; None for
    IPv6, which has no labels).
    """
    payload = _bytes(payload, "address")
    if len(payload) < _IFADDRMSG.size:
        _bad(f"address message is {len(payload)} bytes, shorter than ifaddrmsg")
    family, prefixlen, _flags, scope, index = _IFADDRMSG.unpack_from(payload)
    attrs = parse_attrs(payload[_IFADDRMSG.size :], "address attributes")
    raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
    return {
        "index": index,
        "family": _name(FAMILIES, family),
        "address": _ip(family, raw, "IFA_LOCAL/IFA_ADDRESS"),
        "prefixlen": prefixlen,
        "scope": _name(SCOPES, scope),
        "label": _str(attrs, IFA_LABEL, "IFA_LABEL"),
    }


def parse_route(payload):
    """Decode one RTM_NEWROUTE payload (rtmsg + RTA_* attributes), rtnetlink(7).

    Keys: ``family`` (``"inet"``/``"inet6"``, else the number), ``table``
    (int: 254 main, 255 local, 253 default; RTA_TABLE when present, since
    rtm_table holds only 8 bits), ``dst`` (``"default"`` or always
    ``"addr/len"``, host routes included: ``"10.0.0.1/32"``, where ``ip``
    prints ``10.0.0.1``), ``gateway`` (str or None), ``oif`` (ifindex or
    None), ``protocol`` (``"kernel"``, ``"boot"``, ``"static"``, ``"dhcp"``...,
    or the number), ``scope`` (as in addresses), ``type`` (``"unicast"``,
    ``"local"``, ``"broadcast"``, ``"unreachable"``...), ``prefsrc`` (str or
    None), ``priority`` (the metric, int or None).  Multipath next hops
    (RTA_MULTIPATH) are not decoded: such a route has gateway and oif None.
    """
    payload = _bytes(payload, "route")
    if len(payload) < _RTMSG.size:
        _bad(f"route message is {len(payload)} bytes, shorter than rtmsg")
    family, dst_len, _src_len, _tos, table, proto, scope, rtype, _flags = _RTMSG.unpack_from(payload)
    attrs = parse_attrs(payload[_RTMSG.size :], "route attributes")
    dst = _ip(family, attrs.get(RTA_DST), "RTA_DST")
    if dst is None:
        # No RTA_DST means the all-zero address (the kernel omits a zero dst).
        dst = "default" if dst_len == 0 else f"{_ip(family, bytes(_ADDR_LEN.get(family, 0)), 'RTA_DST')}/{dst_len}"
    else:
        dst = f"{dst}/{dst_len}"
    rta_table = _u32(attrs, RTA_TABLE, "RTA_TABLE")
    return {
        "family": _name(FAMILIES, family),
        "table": rta_table if rta_table is not None else table,
        "dst": dst,
        "gateway": _ip(family, attrs.get(RTA_GATEWAY), "RTA_GATEWAY"),
        "oif": _u32(attrs, RTA_OIF, "RTA_OIF"),
        "protocol": _name(ROUTE_PROTOCOLS, proto),
        "scope": _name(SCOPES, scope),
        "type": _name(ROUTE_TYPES, rtype),
        "prefsrc": _ip(family, attrs.get(RTA_PREFSRC), "RTA_PREFSRC"),
        "priority": _u32(attrs, RTA_PRIORITY, "RTA_PRIORITY"),
    }


# -- the socket -----------------------------------------------------------------

_RECV_SIZE = 1 << 16  # the kernel caps a dump skb at 32 KiB (netlink_dump)
_RETRIES = 3  # NLM_F_DUMP_INTR: the table changed mid-dump; ask again


def _open():
    # CLOEXEC atomically at creation: a child exec'd meanwhile must not inherit it.
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)


def _dump_once(msg_type, body, want):
    seq = 1
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    out = []
    interrupted = False
    with _open() as sock:
        sock.settimeout(5.0)  # the kernel answers at once; never hang a child
        sock.bind((0, 0))
        sock.sendto(header + body, (0, 0))
        while True:
            data, _anc, mflags, _addr = sock.recvmsg(_RECV_SIZE)
            if mflags & socket.MSG_TRUNC:
                _bad(f"a netlink reply exceeded {_RECV_SIZE} bytes and was cut")
            if not data:
                _bad("netlink socket closed mid-dump")
            for mtype, flags, mseq, payload in parse_messages(data):
                if mseq != seq:
                    continue  # not an answer to us
                if flags & NLM_F_DUMP_INTR:
                    interrupted = True
                if mtype == NLMSG_DONE:
                    # The payload, when present, is an int: 0, or -errno if the dump failed.
                    if len(payload) >= 4:
                        err = _I32.unpack_from(payload)[0]
                        if err < 0:
                            raise OSError(-err, f"netlink dump failed: {os.strerror(-err)}")
                    return out, interrupted
                if mtype == NLMSG_ERROR:
                    if len(payload) < 4:
                        _bad("truncated NLMSG_ERROR")
                    err = _I32.unpack_from(payload)[0]
                    if err < 0:
                        raise OSError(-err, f"netlink request failed: {os.strerror(-err)}")
                    continue  # 0 is an ACK
                if mtype == NLMSG_OVERRUN:
                    raise OSError(_errno.ENOBUFS, "netlink overrun: data was lost")
                if mtype == want:
                    out.append(payload)
                if not flags & NLM_F_MULTI:
                    return out, interrupted  # a single-part answer


def _dump(msg_type, body, want):
    for _ in range(_RETRIES):
        out, interrupted = _dump_once(msg_type, body, want)
        if not interrupted:
            return out
    return out  # still changing: the last view, as ip(8) would show it


def dump_links():
    """All network interfaces of the caller's network namespace (RTM_GETLINK dump).

    A list of :func:`parse_link` dicts in ifindex order.  A fresh namespace
    gives one: ``lo``, ``state "DOWN"``, flags ``["LOOPBACK"]``.
    """
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return [parse_link(p) for p in _dump(RTM_GETLINK, body, RTM_NEWLINK)]


def dump_addrs():
    """All IPv4 and IPv6 addresses of the caller's netns (RTM_GETADDR dump).

    A list of :func:`parse_addr` dicts; IPv4 first, as the kernel sends them.
    """
    body = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return [a for a in map(parse_addr, _dump(RTM_GETADDR, body, RTM_NEWADDR)) if a["family"] in ("inet", "inet6")]


def dump_routes(family=None):
    """The routes of every table in the caller's netns (RTM_GETROUTE dump).

    ``family`` is None (IPv4 and IPv6), ``"inet"``/``"inet6"`` or
    ``socket.AF_INET``/``AF_INET6``.  A list of :func:`parse_route` dicts;
    filter on ``table == 254`` for what ``ip route`` shows, 255 for the
    local table (``ip route show table local``).  An AF_UNSPEC dump also
    returns multicast (ipmr) and MPLS tables; those are left out.
    """
    fam = {None: socket.AF_UNSPEC, "inet": socket.AF_INET, "inet6": socket.AF_INET6}.get(family, family)
    if fam not in (socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6):
        raise NsValueError(f"family must be None, 'inet' or 'inet6', not {family!r}")
    body = _RTMSG.pack(fam, 0, 0, 0, 0, 0, 0, 0, 0)
    routes = map(parse_route, _dump(RTM_GETROUTE, body, RTM_NEWROUTE))
    return [r for r in routes if r["family"] in ("inet", "inet6")]
