#!/usr/bin/env bash
# Roll a Helm release back after a failed deployment, only when this deployment created the revision that failed.
#
#   scripts/cd-rollback.sh --release R --namespace NS --print-deployed-revision
#       prints the release's last revision with status "deployed" (nothing for a new or never-deployed release);
#       Jenkinsfile-CD records it before `helm upgrade`.
#   scripts/cd-rollback.sh --release R --namespace NS --print-latest-revision
#       prints the latest revision; recorded right after a successful upgrade (= the revision this run deployed).
#   scripts/cd-rollback.sh --release R --namespace NS --previous P [--upgraded U] [--timeout 10m]
#       after a failure: rolls back to P only if the upgrade completed (U given) and U is still the latest revision.
#
# Why not `helm rollback R 0`: 0 means "current revision - 1" whatever its status. After `--atomic` already rolled a
# failed upgrade back, that re-applies the failed revision; after an upgrade that failed before creating a revision
# (schema error, `required`, a chart `fail` guard) it rolls a healthy release back one version.
set -euo pipefail

PROG=cd-rollback.sh
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

RELEASE="" NAMESPACE="" PREVIOUS="" UPGRADED="" TIMEOUT=10m PRINT=false
while (($#)); do
  case $1 in
    --release) RELEASE=${2:?--release needs a value}; shift 2 ;;
    --namespace) NAMESPACE=${2:?--namespace needs a value}; shift 2 ;;
    --previous) PREVIOUS=${2?--previous needs a value}; shift 2 ;;
    --upgraded) UPGRADED=${2?--upgraded needs a value}; shift 2 ;;
    --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
    --print-deployed-revision) PRINT=deployed; shift ;;
    --print-latest-revision) PRINT=latest; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[[ -n $RELEASE && -n $NAMESPACE ]] || usage_error "--release and --namespace are required"
[[ -z $PREVIOUS || $PREVIOUS =~ ^[0-9]+$ ]] || usage_error "--previous must be a revision number"
[[ -z $UPGRADED || $UPGRADED =~ ^[0-9]+$ ]] || usage_error "--upgraded must be a revision number"
need helm "to read the release history and roll back"

# history_json: the release's history as JSON ([] for a release that does not exist yet).
history_json() {
  helm history "$RELEASE" --namespace "$NAMESPACE" --max 256 --output json 2>/dev/null || echo '[]'
}

# One revision object per line: {"revision":N,...,"status":"..."...}
revisions() {
  history_json | tr '}' '\n' | grep '"revision"' || true
}

last_deployed() {
  revisions | grep '"status":"deployed"' | sed -n 's/.*"revision":\([0-9][0-9]*\).*/\1/p' | tail -n 1
}

latest() {
  revisions | sed -n 's/.*"revision":\([0-9][0-9]*\).*/\1/p' | sort -n | tail -n 1
}

case $PRINT in
  deployed) last_deployed; exit 0 ;;
  latest) latest; exit 0 ;;
esac

if [[ -z $UPGRADED ]]; then
  log "helm upgrade did not complete: --atomic already restored the previous release, or no revision was created; not rolling back"
  exit 0
fi
if [[ -z $PREVIOUS ]]; then
  log "first installation of $RELEASE failed after the upgrade; there is no earlier revision to roll back to (helm uninstall $RELEASE -n $NAMESPACE to remove it)"
  exit 0
fi
current=$(latest)
if [[ $current != "$UPGRADED" ]]; then
  log "latest revision of $RELEASE is ${current:-none}, not $UPGRADED (deployed by this run): someone else changed it; not rolling back"
  exit 0
fi
log "Rolling $RELEASE back from revision $UPGRADED to $PREVIOUS"
run helm rollback "$RELEASE" "$PREVIOUS" --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT"
