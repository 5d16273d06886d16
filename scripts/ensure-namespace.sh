#!/usr/bin/env bash
# ensure-namespace.sh: create the namespace the archiver deploys to when it is missing, with the Pod Security
# Standard "restricted" labels (enforce, audit, warn), as the kustomize base's own Namespace has. An existing namespace
# is left exactly as it is (it may be shared: never relabelled or owned). Used by deploy.sh and Jenkinsfile-CD instead
# of `helm --create-namespace`, which creates a namespace without any Pod Security labels.
set -euo pipefail

PROG=ensure-namespace.sh
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/ensure-namespace.sh --namespace NS [--kube-context CTX] [--dry-run]
USAGE
}

NAMESPACE="" KUBE_CONTEXT=""
while (($#)); do
  case $1 in
    --namespace) NAMESPACE=${2:?--namespace needs a value}; shift 2 ;;
    --kube-context) KUBE_CONTEXT=${2:?--kube-context needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[[ $NAMESPACE =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || usage_error "--namespace is not a valid namespace name: $NAMESPACE"
need kubectl "to create the namespace"
kubectl_args=()
[[ -z $KUBE_CONTEXT ]] || kubectl_args+=(--context "$KUBE_CONTEXT")

if exists kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} get namespace "$NAMESPACE"; then
  log "Namespace $NAMESPACE exists: left as it is"
  exit 0
fi
log "Creating namespace $NAMESPACE (Pod Security: restricted)"
run kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} create namespace "$NAMESPACE"
run kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} label namespace "$NAMESPACE" \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest \
  pod-security.kubernetes.io/audit=restricted pod-security.kubernetes.io/warn=restricted \
  app.kubernetes.io/created-by=sqs-archiver
