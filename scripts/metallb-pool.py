#!/usr/bin/env python3
"""The MetalLB address range for a kind network: the last 56 usable addresses of its IPv4
subnet, far from the nodes' addresses at its start.

usage: docker network inspect kind | metallb-pool.py   → prints e.g. 172.18.255.199-172.18.255.254
"""

import ipaddress
import json
import sys

networks = json.load(sys.stdin)
subnets = [c["Subnet"] for n in networks for c in n["IPAM"]["Config"] if ":" not in c.get("Subnet", ":")]
if not subnets:
    sys.exit("the kind network has no IPv4 subnet")
subnet = ipaddress.ip_network(subnets[0])
last = subnet.broadcast_address - 1
print(f"{last - 55}-{last}")
