"""IP minimisation: only the network part of an address is ever stored (P3)."""
import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncate_ip(address):
    """Return the /24 (IPv4) or /48 (IPv6) network address of ``address``.

    IPv4-mapped IPv6 addresses are treated as IPv4. Anything unparsable gives
    None: a bad header must not end up in the database. ``address`` may also
    be parsed already (an ``ipaddress`` address).
    """
    if not address:
        return None
    if isinstance(address, str):
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return None
    else:
        ip = address
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
