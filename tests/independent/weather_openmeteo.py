#!/usr/bin/env python3
"""Independent recomputation of the weather rules (prototype §2.4 with its fixes) over an
Open-Meteo daily JSON, straight from its columnar arrays.
weather_openmeteo.py FILE.json -> JSON {days: {date: [mean, min, max, precip, wind, categories,
impact]}, counts: {category: days}, rejected: n}"""
import json
import sys
from decimal import ROUND_HALF_UP, Decimal


def r2(x):
    # the output's 0.01 precision, half away from zero, from the exact decimal text
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def main(path):
    doc = json.load(open(path, encoding="utf-8"))
    d = doc["daily"]
    units = doc.get("daily_units", {})
    assert units.get("temperature_2m_max", "°C") == "°C"
    assert units.get("precipitation_sum", "mm") == "mm"
    wind_key = next((k for k in ("wind_speed_10m_max", "windspeed_10m_max") if k in d), None)
    days, counts, rejected = {}, {"Pluvieux": 0, "Venteux": 0, "Froid": 0, "Chaud": 0}, 0
    for i, date in enumerate(d["time"]):
        tmax, tmin = d["temperature_2m_max"][i], d["temperature_2m_min"][i]
        mean = d.get("temperature_2m_mean", [None] * len(d["time"]))[i]
        precip = d["precipitation_sum"][i]
        wind = d[wind_key][i] if wind_key else None
        if tmin is not None and tmax is not None and tmin > tmax:
            rejected += 1
            continue
        if tmin is not None and tmax is not None:
            if mean is None or not (tmin <= mean <= tmax):
                mean = (Decimal(repr(tmin)) + Decimal(repr(tmax))) / 2
                mean = float(mean)
        mean = None if mean is None else r2(mean)
        precip = None if precip is None else r2(precip)
        wind = None if wind is None else r2(wind)
        cats, impact = [], 50
        if precip is not None and precip >= 5:
            cats.append("Pluvieux")
            impact -= 20
        if wind is not None and wind >= 30:
            cats.append("Venteux")
            impact -= 10
        if mean is not None and mean < 10:
            cats.append("Froid")
            impact -= 10
        if mean is not None and mean > 25:
            cats.append("Chaud")
            impact += 5
        for c in cats:
            counts[c] += 1
        days[date] = [mean, r2(tmin), r2(tmax), precip, wind, cats, float(max(0, min(100, impact)))]
    json.dump({"days": days, "counts": counts, "rejected": rejected}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
