"""Data rows per dated source in a raw tree, counted from the files themselves (for the
rows-outside-selection counts of `process --date`): CSV lines but the header, records of the API
snapshots (traffic `disruptions`, stations of velib status files, weather `days`, bikes
`results`)."""
import csv, json, pathlib, sys
raw = pathlib.Path(sys.argv[1])
n = {"comptages": 0, "bikes": 0, "traffic": 0, "velib": 0, "weather": 0}
for f in sorted(raw.rglob("*")):
    if not f.is_file(): continue
    parts = f.relative_to(raw).parts
    if parts[0] == "batch" and f.name.startswith("comptages"):
        n["comptages"] += sum(1 for _ in csv.reader(f.open(encoding="utf-8-sig"), delimiter=";")) - 1
    elif parts[0] == "api":
        doc = json.loads(f.read_text(encoding="utf-8"))
        kind = parts[1]
        if kind.startswith("comptages"):
            n["comptages"] += len(doc if isinstance(doc, list) else doc.get("results", []))
        elif kind == "bikes":
            n["bikes"] += len(doc if isinstance(doc, list) else doc.get("results", []))
        elif kind == "traffic":
            n["traffic"] += len(doc.get("disruptions", []))
        elif kind == "velib" and "status" in f.name:
            n["velib"] += len(doc["data"]["stations"])
        elif kind == "weather":
            n["weather"] += len(doc["days"])
print(json.dumps(n))
