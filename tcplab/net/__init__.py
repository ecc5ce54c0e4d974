"""The simulated network: packets and their wire format, links, hosts, routers, faults."""
