#!/usr/bin/env bash
# Smoke test of a deployed sqs-archiver: the probes answer through the API server's service proxy, and a test
# message sent to the queue is found in S3, format-aware: at <prefix>YYYY/MM/DD/HH/<MessageId>.json in message mode,
# inside one of the hour's <first SentTimestamp ms>-<hex>.ndjson[.gz|.zst] objects in batched mode (which can take
# up to BATCH_MAX_SECONDS). The test message carries the message attribute smoke-test=sqs-archiver: it is archived
# like any other message (the archive is write-once), and `sqs-archiver replay --filter 'smoke-test!=*'` leaves it out.
# Used by deploy.sh and Jenkinsfile-CD (which does not send one to production unless asked). Needs: kubectl (get
# services/proxy in the namespace), aws (sqs:SendMessage on the queue, s3:ListBucket on the bucket, s3:GetObject on
# the prefix in batched mode; iam/policy-smoke-test.json), gzip or zstd for compressed batches.
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
  --format message|ndjson  ARCHIVE_FORMAT of the deployment (default: read from the Deployment's ConfigMap)
  --batch-max-seconds N  BATCH_MAX_SECONDS of the deployment (ndjson; default 60): the wait is at least N + 60 s
  --from-configmap NAME  Read queue URL, bucket, prefix, region and format from the deployed ConfigMap NAME instead
  --role-arn ARN         Assume this role for the aws calls (one smoke-test role per environment)
  --kube-context CTX     kubectl context (default: current)
  --timeout SECONDS      How long to wait for the archive (default: 120)
  --skip-probes          Do not check /health and /ready
  --skip-message         Do not send a test message
  --dry-run              Print the commands instead of running them
  -h, --help             This help
USAGE
}

NAMESPACE="" SERVICE="" PORT_NAME=http QUEUE_URL="" BUCKET="" PREFIX="sqs-messages/" REGION="" KUBE_CONTEXT=""
TIMEOUT=120 SKIP_PROBES=false SKIP_MESSAGE=false FROM_CONFIGMAP="" FORMAT="" BATCH_MAX_SECONDS=60 ROLE_ARN=""

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
    --format) FORMAT=${2:?--format needs a value}; shift 2 ;;
    --batch-max-seconds) BATCH_MAX_SECONDS=${2:?--batch-max-seconds needs a value}; shift 2 ;;
    --role-arn) ROLE_ARN=${2:?--role-arn needs a value}; shift 2 ;;
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

# Where the test message's archive lands depends on the deployment's ARCHIVE_FORMAT: read it from the ConfigMap the
# Deployment uses (kustomize names it with a hash suffix) unless --format says.
if [[ -z $FORMAT && $SKIP_MESSAGE != true ]]; then
  [[ -n $NAMESPACE && -n $SERVICE ]] || usage_error "--format is needed without --namespace and --service"
  need kubectl "to read the deployment's ARCHIVE_FORMAT (or pass --format)"
  configmap=$FROM_CONFIGMAP
  if [[ -z $configmap ]]; then
    configmap=$(capture "<ConfigMap>" kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} get deployment "$SERVICE" --namespace "$NAMESPACE" \
      --output 'jsonpath={.spec.template.spec.containers[0].envFrom[0].configMapRef.name}')
  fi
  format_value() {
    capture "<$1>" kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} get configmap "$configmap" --namespace "$NAMESPACE" \
      --output "jsonpath={.data.$1}"
  }
  FORMAT=$(format_value ARCHIVE_FORMAT)
  if [[ $FORMAT == ndjson ]]; then BATCH_MAX_SECONDS=$(format_value BATCH_MAX_SECONDS); fi
  # A dry run prints the commands of the default layout.
  if [[ $DRY_RUN == true || -z $FORMAT ]]; then FORMAT=message; fi
fi
FORMAT=${FORMAT:-message}
BATCH_MAX_SECONDS=${BATCH_MAX_SECONDS:-60}

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
[[ $FORMAT == message || $FORMAT == ndjson ]] || usage_error "--format must be message or ndjson (got: $FORMAT)"
[[ $BATCH_MAX_SECONDS =~ ^[0-9]+$ ]] || usage_error "--batch-max-seconds must be a number of seconds (got: $BATCH_MAX_SECONDS)"
[[ -z $ROLE_ARN || $ROLE_ARN =~ ^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$ ]] || usage_error "--role-arn must be an IAM role ARN"
# A batch is written at most BATCH_MAX_SECONDS after its first message (plus the PUT): never give up before that.
if [[ $FORMAT == ndjson ]] && ((TIMEOUT < BATCH_MAX_SECONDS + 60)); then TIMEOUT=$((BATCH_MAX_SECONDS + 60)); fi

[[ $SKIP_PROBES == true ]] || need kubectl "to reach the probes through the API server"
[[ $SKIP_MESSAGE == true ]] || need aws "to send the test message and find its archive"

if [[ $SKIP_PROBES != true ]]; then
  log "Probes of service/$SERVICE in $NAMESPACE"
  for path in /health /ready; do
    run kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} get --raw "/api/v1/namespaces/$NAMESPACE/services/http:$SERVICE:$PORT_NAME/proxy$path" >/dev/null ||
      die "GET $path on service/$SERVICE failed (kubectl -n $NAMESPACE logs deployment/$SERVICE)"
  done
fi

if [[ $SKIP_MESSAGE != true && -n $ROLE_ARN ]]; then
  log "Assuming $ROLE_ARN for the test message"
  creds=$(capture '<AccessKeyId> <SecretAccessKey> <SessionToken>' aws sts assume-role --role-arn "$ROLE_ARN" \
    --role-session-name "sqs-archiver-smoke-test" --duration-seconds 900 \
    --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
  read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN <<<"$creds"
  [[ -n ${AWS_SESSION_TOKEN:-} ]] || die "aws sts assume-role $ROLE_ARN returned no credentials"
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  unset AWS_PROFILE
fi

# found_in_batch KEY: whether the ndjson object KEY holds the test message's envelope.
found_in_batch() {
  local key=$1 decode
  case $key in
    *.ndjson.gz) decode=(gzip -dc) ;;
    *.ndjson.zst) need zstd "to read the zstd-compressed batch $key"; decode=(zstd -dc) ;;
    *.ndjson) decode=(cat) ;;
    *) return 1 ;;
  esac
  aws s3 cp --quiet --region "$REGION" "s3://$BUCKET/$key" - 2>/dev/null | "${decode[@]}" 2>/dev/null |
    grep -qF "\"messageId\":\"$message_id\""
}

if [[ $SKIP_MESSAGE != true ]]; then
  log "Sending a test message to $QUEUE_URL"
  sent_ms=$(($(date -u +%s) * 1000))
  hour_before=$(date -u +%Y/%m/%d/%H)
  body=$(printf '{"smokeTest":true,"sentBy":"%s","at":"%s"}' "$PROG" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  message_id=$(capture '<MessageId>' aws sqs send-message --region "$REGION" --queue-url "$QUEUE_URL" \
    --message-body "$body" \
    --message-attributes 'smoke-test={DataType=String,StringValue=sqs-archiver}' \
    --query MessageId --output text)
  hour_after=$(date -u +%Y/%m/%d/%H)
  [[ -n $message_id && $message_id != None ]] || die "send-message returned no MessageId"

  # The key's hour comes from the message's SentTimestamp: the hour before or after the send.
  hours=("$hour_before")
  [[ $hour_after == "$hour_before" ]] || hours+=("$hour_after")
  keys=()
  for hour in "${hours[@]}"; do keys+=("${PREFIX}${hour}/${message_id}.json"); done

  if [[ $FORMAT == ndjson ]]; then
    # Batch keys start with their first message's SentTimestamp in ms (13 digits, so they sort by time): only
    # batches opened at most BATCH_MAX_SECONDS (+ a minute of clock skew) before the send can hold the message.
    start_after=$((sent_ms - (BATCH_MAX_SECONDS + 60) * 1000))
    list_batches() {
      local hour
      for hour in "${hours[@]}"; do
        run aws s3api list-objects-v2 --region "$REGION" --bucket "$BUCKET" --prefix "${PREFIX}${hour}/" \
          --start-after "${PREFIX}${hour}/${start_after}" --query 'Contents[].Key' --output text
      done
    }
    if [[ $DRY_RUN == true ]]; then
      list_batches
      run aws s3 cp --quiet --region "$REGION" "s3://$BUCKET/${PREFIX}${hour_before}/<first-ms>-<hex>.ndjson.gz" -
      note "repeated every 5s for up to ${TIMEOUT}s until a batch holding the message exists"
      exit 0
    fi
    log "Waiting up to ${TIMEOUT}s for a batch under s3://$BUCKET/${PREFIX}${hours[*]}/ holding message $message_id"
    declare -A seen=()
    deadline=$((SECONDS + TIMEOUT))
    while :; do
      for key in $(list_batches 2>/dev/null | tr '\t' '\n' | grep -v '^None$' || true); do
        [[ -z ${seen[$key]:-} ]] || continue
        if found_in_batch "$key"; then
          log "Archived: message $message_id in s3://$BUCKET/$key"
          exit 0
        fi
        # A batch object is written once, complete: one that lacks the message never will hold it.
        seen[$key]=1
      done
      ((SECONDS < deadline)) || die "no batch holding message $message_id after ${TIMEOUT}s (listed s3://$BUCKET/${PREFIX}${hours[*]}/ from ${start_after}); check the pod's logs"
      sleep 5
    done
  fi

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
