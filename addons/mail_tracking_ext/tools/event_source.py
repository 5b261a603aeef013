"""Who opened or clicked: a person, or a machine (A1, A3).

Two kinds of evidence. What a single request shows: its network and its user
agent, matched against published facts (``data/event_sources.json``) and the
networks an administrator adds (:func:`listed_source`). And what the request
means in its email's story: how long after delivery it came, whether the same
network followed several links of the email at once, or the hidden link no
person sees (:func:`judge`). Everything is decided in memory, from data loaded
once per worker: no outside call, no query beyond the recorder's own.
"""

import functools
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta

SOURCES = ("human", "privacy_proxy", "image_proxy", "scanner", "sender", "unknown")
# Which events count as a person's open or click: statuses, rates, statistics,
# the feed and notifications read only these. An image proxy fetches on behalf
# of a reader who opened the email: a real open, without location.
COUNTED_SOURCES = {"open": ("human", "image_proxy"), "click": ("human",)}
MACHINE_SOURCES = ("privacy_proxy", "image_proxy", "scanner")
# The machines whose events count for nothing: what "machine activity" means in statistics.
UNCOUNTED_MACHINES = ("privacy_proxy", "scanner")

# A person needs more than this to receive, open, read and click an email: a
# click sooner after delivery is a machine's, unless a person's open came
# READING_SECONDS before it at least (a fast reader; a program fetches the pixel
# and the link within a second).
EARLIEST_HUMAN_CLICK = 30
READING_SECONDS = 3
# Links of one email followed from one network within this many seconds...
BURST_SECONDS = 10
# ...this many of them at least (different links), are a scanner's.
BURST_LINKS = 3
# Requests sent at the same instant do not see each other's events: a person's click
# this soon after delivery is judged again once committed, beside what came with it.
RECHECK_SECONDS = 600
# When a burst or the hidden link reveals a scanner, its events on the email from
# the same network within this many seconds before are re-classified with it.
REVISION_SECONDS = 60
BURST_WINDOW = timedelta(seconds=BURST_SECONDS)
REVISION_WINDOW = timedelta(seconds=REVISION_SECONDS)

SOURCES_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                            "event_sources.json")


@dataclass(frozen=True)
class Verdict:
    """What an event is: its ``source``, the ``rule`` that decided it and the
    ``detail`` that rule names (the listed entry's name, a count)."""
    source: str
    rule: str
    detail: str = ""

    @property
    def is_machine(self):
        return self.source in MACHINE_SOURCES


HUMAN = Verdict("human", "person")


class NetworkSet:
    """IPv4 and IPv6 networks, looked up by prefix: a few set lookups whatever
    their number."""

    def __init__(self, cidrs=(), strict=True):
        """``strict``: a value that is not a network raises ValueError; else it
        is left out (a setting typed elsewhere than in Settings must not stop
        the tracking routes)."""
        self._by_prefix = {}  # (version, prefix length) -> {network address as int}
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                if strict:
                    raise
                continue
            self._by_prefix.setdefault((network.version, network.prefixlen), set()).add(
                int(network.network_address))

    def __bool__(self):
        return bool(self._by_prefix)

    def __contains__(self, address):
        if address is None:
            return False
        bits = 32 if address.version == 4 else 128
        value = int(address)
        return any(
            (value >> (bits - prefix)) << (bits - prefix) in networks
            for (version, prefix), networks in self._by_prefix.items() if version == address.version)


@dataclass(frozen=True)
class Entry:
    name: str
    source: str
    events: frozenset
    agents: re.Pattern | None
    networks: NetworkSet
    match: str

    def matches(self, address, user_agent):
        agent = bool(self.agents and user_agent and self.agents.search(user_agent))
        network = address in self.networks
        return {
            "user_agent": agent,
            "network": network,
            "user_agent_and_network": agent and network,
            "user_agent_or_network": agent or network,
        }[self.match]


class Catalog:
    """The published facts, ready to match requests."""

    def __init__(self, entries):
        self.entries = tuple(entries)

    @classmethod
    def from_file(cls, path=SOURCES_FILE):
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
        return cls(Entry(
            name=entry["name"],
            source=entry["source"],
            events=frozenset(entry["events"]),
            agents=re.compile("|".join(entry["user_agents"]), re.IGNORECASE) if entry["user_agents"] else None,
            networks=NetworkSet(entry["networks"]),
            match=entry["match"],
        ) for entry in data["entries"])


_CATALOG = None


def catalog():
    """The shipped catalog, loaded once per worker."""
    global _CATALOG  # noqa: PLW0603 - a per-process cache of a read-only file
    if _CATALOG is None:
        _CATALOG = Catalog.from_file()
    return _CATALOG


def parse_address(address):
    """The client address, IPv4-mapped IPv6 addresses as IPv4; None when unparsable."""
    try:
        address = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    return (address.version == 6 and address.ipv4_mapped) or address


def split_networks(value):
    """The networks (CIDR) a setting lists, separated by spaces or commas."""
    return (value or "").replace(",", " ").split()


_OWN_NETWORKS = {}  # setting's value -> its NetworkSet, per process


def own_networks(value):
    """The networks of the company's own mail gateway, from the setting's
    ``value``: what comes from them is a machine's. A value typed elsewhere
    than in Settings must not stop the tracking routes: what is not a network
    is left out."""
    networks = _OWN_NETWORKS.get(value or "")
    if networks is None:
        if len(_OWN_NETWORKS) > 16:
            _OWN_NETWORKS.clear()
        networks = _OWN_NETWORKS[value or ""] = NetworkSet(split_networks(value), strict=False)
    return networks


def listed_source(event_type, address, user_agent, own_networks=None):
    """The verdict on a request from what it shows alone: a network of the
    company's own mail gateway (``own_networks``, a :class:`NetworkSet`), a
    listed proxy or scanner, no user agent at all; None when nothing says it
    is a machine. ``address`` is the full client address (not truncated)."""
    address = parse_address(address) if isinstance(address, str) else address
    if own_networks and address in own_networks:
        return Verdict("scanner", "own_network")
    return _published_verdict(event_type, address, user_agent)


@functools.lru_cache(maxsize=4096)
def _published_verdict(event_type, address, user_agent):
    """``listed_source`` from the shipped catalog alone: the same networks and
    clients come back in bursts, each answered once per worker."""
    for entry in catalog().entries:
        if event_type in entry.events and entry.matches(address, user_agent):
            return Verdict(entry.source, "listed", entry.name)
    if not (user_agent or "").strip():
        return Verdict("unknown", "no_agent")
    return None


def judge(event_type, listed, *, delay, burst_links=0, reading=None, honeypot=False, unmasked=False):
    """The verdict on an event in its email's story.

    ``listed``: :func:`listed_source`'s verdict; ``delay``: seconds since the
    SMTP server accepted the email (None when unknown); ``burst_links``: the
    different links of the copy this network followed within
    ``BURST_SECONDS``, this one included; ``reading``: seconds since a
    person's first open of this copy (None: no open); ``honeypot``: the
    request followed the hidden link; ``unmasked``: the same network showed
    itself a program on this copy within ``REVISION_SECONDS``."""
    if honeypot:
        return Verdict("scanner", "honeypot")
    if listed:
        return listed
    if unmasked:
        return Verdict("scanner", "unmasked")
    if event_type == "click" and burst_links >= BURST_LINKS:
        return Verdict("scanner", "burst", str(burst_links))
    if (event_type == "click" and delay is not None and delay < EARLIEST_HUMAN_CLICK
            and (reading is None or reading < READING_SECONDS)):
        return Verdict("scanner", "early")
    return HUMAN


# Rules that unmask a program: what its network did on the email just before is its own too.
REVEALING_RULES = ("honeypot", "burst", "early")


def is_counted(event_type, source):
    return source in COUNTED_SOURCES[event_type]


def is_automatic(message):
    """Whether ``message`` (an :class:`email.message.Message`) was sent by a
    program: an out-of-office answer, a list, a bounce (RFC 3834)."""
    return bool(
        (message.get("Auto-Submitted") or "no").strip().lower() != "no"
        or message.get("X-Autoreply") or message.get("X-Autorespond")
        or (message.get("Precedence") or "").strip().lower() in ("bulk", "list", "junk", "auto_reply")
        or message.get("List-Id")
        or (message.get("Return-Path") or "").strip() == "<>"
    )
