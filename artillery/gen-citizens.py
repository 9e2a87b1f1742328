#!/usr/bin/env python3
"""Synthetic citizens for the load test: valid RUTs, real motives, plausible addresses.

Deterministic: the same --seed and --count always give the same file. Seeds give disjoint
RUT ranges (seed * count onwards), so runs with different seeds never share a RUT and
never meet the weekly limit, however many runs a week.

usage: gen-citizens.py --seed N --count N > citizens.csv
"""

import argparse
import csv
import random
import sys

FIRST = ["Juan", "María", "José", "Francisca", "Luis", "Catalina", "Carlos", "Valentina", "Jorge",
         "Camila", "Pedro", "Javiera", "Diego", "Fernanda", "Andrés", "Constanza", "Felipe", "Ignacia"]
LAST = ["González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez",
        "Sepúlveda", "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya", "Flores"]
STREETS = ["Av. Grecia", "Av. Vicuña Mackenna", "Los Aromos", "Pasaje Las Lilas", "Av. Matta",
           "Santa Rosa", "Gran Avenida", "Av. Recoleta", "Independencia", "Av. Pajaritos"]
COMUNAS = ["Santiago", "Ñuñoa", "Maipú", "Puente Alto", "La Florida", "Recoleta", "Independencia",
           "San Miguel", "Estación Central", "Peñalolén", "Quilicura", "Pudahuel"]
# Motive codes of the catalogue (crates/domain/src/motive.rs) without a cap of their own.
MOTIVES = ["compras", "atencion-medica", "servicios-basicos", "banco", "paseo-mascotas", "funeral",
           "asistencia-terceros", "citacion-judicial"]

FIRST_BODY = 5_000_000
BODIES = 90_000_000


def check_digit(body):
    total, factor = 0, 2
    while body:
        total += (body % 10) * factor
        body //= 10
        factor = 2 if factor == 7 else factor + 1
    digit = 11 - total % 11
    return {11: "0", 10: "K"}.get(digit, str(digit))


def rut(body):
    return f"{body:,}".replace(",", ".") + "-" + check_digit(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["name", "rut", "motive", "address", "comuna"])
    for i in range(args.count):
        body = FIRST_BODY + (args.seed * args.count + i) % BODIES
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        address = f"{rng.choice(STREETS)} {rng.randint(1, 9999)}"
        out.writerow([name, rut(body), rng.choice(MOTIVES), address, rng.choice(COMUNAS)])


if __name__ == "__main__":
    main()
