#!/usr/bin/env python3
"""Puts into the database the permits a browser cannot create: one that expired and one
that is not valid yet. Prints their ids as JSON. Writes the same document shape as
crates/store/src/documents.rs.

usage: seed.py MONGODB_URI DATABASE
"""

import base64
import datetime
import json
import secrets
import sys

from pymongo import MongoClient


def permit(start, hours):
    permit_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
    return {
        "_id": permit_id,
        "name": "Tomás Aravena Rojas",
        "rut": "7654321-6",
        "motive": "compras",
        "address": "Los Aromos 55",
        "comuna": "Maipú",
        "requested_at": start - datetime.timedelta(minutes=15),
        "valid_from": start,
        "expires_at": start + datetime.timedelta(hours=hours),
    }


def main():
    uri, database = sys.argv[1], sys.argv[2]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    expired = permit(now - datetime.timedelta(hours=5), 3)
    not_yet_valid = permit(now + datetime.timedelta(hours=2), 3)
    MongoClient(uri)[database]["permits"].insert_many([expired, not_yet_valid])
    print(json.dumps({"expired": expired["_id"], "not_yet_valid": not_yet_valid["_id"]}))


if __name__ == "__main__":
    main()
