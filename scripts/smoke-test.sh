#!/usr/bin/env bash
# Smoke test of a deployed sqs-archiver: the probes answer through the API server's service proxy, and a test
# message sent to the queue appears in S3 at <prefix>YYYY/MM/DD/HH/<MessageId>.json.
# Used by deploy.sh and Jenkinsfile-CD. Needs: kubectl (get services/proxy in the namespace), aws
# (sqs:SendMessage on the queue, s3:ListBucket on the bucket).
set -euo pipefail

PROG=smoke-test.sh
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/smoke-test.sh --namespace NS --service NAME --queue-url URL --bucket NAME --region REGION [options]

  --namespace NS         Namespace of the release
  --service NAME         Service name (helm: the release's full name; kustomize: sqs-archiver)
  --port-name NAME       Service port name (default: http)
  --queue-url URL        Queue the archiver consumes
  --bucket NAME          Archive bucket
  --prefix PREFIX        S3_PREFIX of the deployment (default: sqs-messages/)
  --region REGION        AWS region of the queue and bucket
  --from-configmap NAME  Read queue URL, bucket, prefix and region from the deployed ConfigMap NAME instead
  --kube-context CTX     kubectl context (default: current)
  --timeout SECONDS      How long to wait for the archive (default: 120)
  --skip-probes          Do not check /health and /ready
  --skip-message         Do not send a test message
  --dry-run              Print the commands instead of running them
  -h, --help             This help
USAGE
}

NAMESPACE="" SERVICE="" PORT_NAME=http QUEUE_URL="" BUCKET="" PREFIX="sqs-messages/" REGION="" KUBE_CONTEXT=""
TIMEOUT=120 SKIP_PROBES=false SKIP_MESSAGE=false FROM_CONFIGMAP=""

while (($#)); do
  case $1 in
    --namespace) NAMESPACE=${2:?--namespace needs a value}; shift 2 ;;
    --service) SERVICE=${2:?--service needs a value}; shift 2 ;;
    --port-name) PORT_NAME=${2:?--port-name needs a value}; shift 2 ;;
    --queue-url) QUEUE_URL=${2:?--queue-url needs a value}; shift 2 ;;
    --bucket) BUCKET=${2:?--bucket needs a value}; shift 2 ;;
    --prefix) PREFIX=${2?--prefix needs a value}; shift 2 ;;
    --region) REGION=${2:?--region needs a value}; shift 2 ;;
    --from-configmap) FROM_CONFIGMAP=${2:?--from-configmap needs a value}; shift 2 ;;
    --kube-context) KUBE_CONTEXT=${2:?--kube-context needs a value}; shift 2 ;;
    --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
    --skip-probes) SKIP_PROBES=true; shift ;;
    --skip-message) SKIP_MESSAGE=true; shift ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done

kubectl_args=()
[[ -z $KUBE_CONTEXT ]] || kubectl_args+=(--context "$KUBE_CONTEXT")

if [[ -n $FROM_CONFIGMAP && $SKIP_MESSAGE != true ]]; then
  [[ -n $NAMESPACE ]] || usage_error "--from-configmap needs --namespace"
  need kubectl "to read ConfigMap $FROM_CONFIGMAP"
  cm_value() {
    capture "<$1>" kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} get configmap "$FROM_CONFIGMAP" \
      --namespace "$NAMESPACE" --output "jsonpath={.data.$1}"
  }
  QUEUE_URL=$(cm_value SQS_QUEUE_URL)
  BUCKET=$(cm_value S3_BUCKET_NAME)
  PREFIX=$(cm_value S3_PREFIX)
  REGION=$(cm_value AWS_REGION)
  if [[ -z $REGION && $QUEUE_URL =~ ^https://sqs\.([a-z0-9-]+)\. ]]; then REGION=${BASH_REMATCH[1]}; fi
fi

missing=()
[[ $SKIP_PROBES == true || -n $NAMESPACE ]] || missing+=(--namespace)
[[ $SKIP_PROBES == true || -n $SERVICE ]] || missing+=(--service)
if [[ $SKIP_MESSAGE != true ]]; then
  [[ -n $QUEUE_URL ]] || missing+=(--queue-url)
  [[ -n $BUCKET ]] || missing+=(--bucket)
  [[ -n $REGION ]] || missing+=(--region)
fi
((${#missing[@]} == 0)) || usage_error "missing required option(s): ${missing[*]}"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || usage_error "--timeout must be a number of seconds"

[[ $SKIP_PROBES == true ]] || need kubectl "to reach the probes through the API server"
[[ $SKIP_MESSAGE == true ]] || need aws "to send the test message and find its archive"

if [[ $SKIP_PROBES != true ]]; then
  log "Probes of service/$SERVICE in $NAMESPACE"
  for path in /health /ready; do
    run kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} get --raw "/api/v1/namespaces/$NAMESPACE/services/http:$SERVICE:$PORT_NAME/proxy$path" >/dev/null ||
      die "GET $path on service/$SERVICE failed (kubectl -n $NAMESPACE logs deployment/$SERVICE)"
  done
fi

if [[ $SKIP_MESSAGE != true ]]; then
  log "Sending a test message to $QUEUE_URL"
  hour_before=$(date -u +%Y/%m/%d/%H)
  body=$(printf '{"smokeTest":true,"sentBy":"%s","at":"%s"}' "$PROG" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  message_id=$(capture '<MessageId>' aws sqs send-message --region "$REGION" --queue-url "$QUEUE_URL" \
    --message-body "$body" \
    --message-attributes 'smoke-test={DataType=String,StringValue=sqs-archiver}' \
    --query MessageId --output text)
  hour_after=$(date -u +%Y/%m/%d/%H)
  [[ -n $message_id && $message_id != None ]] || die "send-message returned no MessageId"

  # The key's hour comes from the message's SentTimestamp: the hour before or after the send.
  keys=("${PREFIX}${hour_before}/${message_id}.json")
  [[ $hour_after == "$hour_before" ]] || keys+=("${PREFIX}${hour_after}/${message_id}.json")

  if [[ $DRY_RUN == true ]]; then
    for key in "${keys[@]}"; do
      run aws s3 ls --region "$REGION" "s3://$BUCKET/$key"
    done
    note "repeated every 5s for up to ${TIMEOUT}s until the archive exists"
    exit 0
  fi

  log "Waiting up to ${TIMEOUT}s for s3://$BUCKET/${keys[0]}"
  deadline=$((SECONDS + TIMEOUT))
  while :; do
    for key in "${keys[@]}"; do
      if aws s3 ls --region "$REGION" "s3://$BUCKET/$key" >/dev/null 2>&1; then
        log "Archived: s3://$BUCKET/$key"
        exit 0
      fi
    done
    ((SECONDS < deadline)) || die "no archive for message $message_id after ${TIMEOUT}s (looked for: ${keys[*]}); check the pod's logs"
    sleep 5
  done
fi
