#!/usr/bin/env bash
# deploy.sh: build, push and deploy sqs-archiver to Amazon EKS, then prove it archives a message.
#
#   1. ECR repository (created if missing), docker build (base image pinned by digest) + push of the image tagged
#      with the commit; skipped when the tag is already in ECR (the repository is IMMUTABLE). A working tree with
#      uncommitted changes is refused: its image is not the commit's. --allow-dirty pushes it as <commit>-dirty to a
#      separate dev repository instead, never to the one CI pushes to and CD deploys from.
#   2. IAM role for the pod: least-privilege policy from iam/, IRSA trust policy for the cluster's OIDC provider;
#      or, with --create-infra, the CloudFormation stack infra/cloudformation/sqs-archiver.yaml (queue + DLQ, bucket,
#      role) whose outputs feed step 3
#   3. Manifests rendered with the real values (helm chart helm/sqs-archiver, or the kustomize base k8s/) and applied
#   4. kubectl rollout status, then a test message through the queue and its archive found in S3
#
# Safe to re-run: every step converges (existing image, role, stack and release are reused or updated).
#
# Run "./deploy.sh --help" for options; "--dry-run" prints every command without running any of them.
set -euo pipefail

PROG=deploy.sh
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/scripts/lib.sh"

usage() {
  cat <<'USAGE'
Usage: ./deploy.sh --queue-url URL --bucket NAME --cluster NAME [options]

Required (flags or environment variables):
  --queue-url URL        SQS queue to archive                        (SQS_QUEUE_URL)
  --bucket NAME          S3 bucket for the archives                  (S3_BUCKET_NAME)
  --cluster NAME         EKS cluster (for its OIDC provider)         (EKS_CLUSTER_NAME)
                         not needed with --role-arn or --oidc-provider

Options:
  --region REGION        AWS region (default: from the queue URL)    (AWS_REGION)
  --s3-region REGION     Region of the bucket when it is not the queue's (S3_REGION): the service's S3_REGION
                         and the SSE-KMS policy's kms:ViaService (s3.<bucket region>)
  --prefix PREFIX        S3 key prefix (default: sqs-messages/)      (S3_PREFIX)
  --kms-key-arn ARN      Encrypt archives with SSE-KMS using this key (policy from iam/policy-sse-kms.json);
                         an alias ARN is resolved to its key ARN (aws kms describe-key), since an alias in a
                         policy's Resource authorises nothing
  --namespace NS         Kubernetes namespace (default: sqs-archiver). With --method kustomize, a namespace other
                         than sqs-archiver is treated as shared: created if missing, never relabelled or owned
  --release NAME         Helm release name (default: sqs-archiver)
  --method helm|kustomize  How to render and apply the manifests (default: helm)
  --values FILE          Extra helm values file (repeatable; helm only)
  --kube-context CTX     kubectl/helm context (default: current context)
  --ecr-repository NAME  ECR repository (default: sqs-archiver)
  --image-tag TAG        Image tag (default: git commit, 12 characters)
  --platform PLATFORM    docker build platform (default: linux/amd64; linux/arm64 for Graviton nodes)
  --skip-build           Do not build or push; the tag must already be in ECR (e.g. the image CI built)
  --allow-dirty          Build a working tree with uncommitted changes anyway: tagged <commit>-dirty and pushed to
                         the dev repository (--dev-ecr-repository), never to --ecr-repository
  --dev-ecr-repository NAME  ECR repository for --allow-dirty builds (default: <ecr-repository>-dev)
  --account-id ID        AWS account (default: from sts get-caller-identity) (AWS_ACCOUNT_ID)
  --role-name NAME       IAM role to create or update (default: sqs-archiver-<cluster>[-<namespace>])
  --role-arn ARN         Use this existing role; skip IAM changes
  --oidc-provider HOST   OIDC provider (oidc.eks.<region>.amazonaws.com/id/...); default: from the cluster
  --no-role              No IRSA role (EKS Pod Identity association managed elsewhere; with --create-infra the
                         stack creates a Pod Identity role and association instead)
  --create-infra         Create or update the queue (with DLQ), the bucket and the pod's role with CloudFormation
                         (infra/cloudformation/sqs-archiver.yaml) instead of the IAM step; the queue URL and
                         bucket name given are the ones created
  --stack-name NAME      CloudFormation stack for --create-infra (default: sqs-archiver-<queue name>)
  --timeout DURATION     Helm/rollout timeout (default: 10m)
  --verify-timeout SEC   How long to wait for the test message's archive (default: 120)
  --skip-test-message    Do not send a test message after the rollout
  --dry-run              Print every command instead of running it (nothing is created or changed)
  -h, --help             This help

Example:
  ./deploy.sh --queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/orders \
              --bucket acme-orders-archive --cluster prod-eks --dry-run
USAGE
}

QUEUE_URL=${SQS_QUEUE_URL:-}
BUCKET=${S3_BUCKET_NAME:-}
CLUSTER=${EKS_CLUSTER_NAME:-}
REGION=${AWS_REGION:-}
S3_REGION_ARG=${S3_REGION:-}
PREFIX=${S3_PREFIX:-sqs-messages/}
ACCOUNT_ID=${AWS_ACCOUNT_ID:-}
KMS_KEY_ARN=""
NAMESPACE=sqs-archiver
RELEASE=sqs-archiver
METHOD=helm
VALUES_FILES=()
KUBE_CONTEXT=""
ECR_REPOSITORY=sqs-archiver
IMAGE_TAG=""
PLATFORM=linux/amd64
SKIP_BUILD=false
ALLOW_DIRTY=false
DEV_ECR_REPOSITORY=""
ROLE_NAME=""
ROLE_ARN=""
OIDC_PROVIDER=""
NO_ROLE=false
TIMEOUT=10m
VERIFY_TIMEOUT=120
SKIP_TEST_MESSAGE=false
CREATE_INFRA=false
STACK_NAME=""

while (($#)); do
  case $1 in
    --queue-url) QUEUE_URL=${2:?--queue-url needs a value}; shift 2 ;;
    --bucket) BUCKET=${2:?--bucket needs a value}; shift 2 ;;
    --cluster) CLUSTER=${2:?--cluster needs a value}; shift 2 ;;
    --region) REGION=${2:?--region needs a value}; shift 2 ;;
    --s3-region) S3_REGION_ARG=${2:?--s3-region needs a value}; shift 2 ;;
    --prefix) PREFIX=${2?--prefix needs a value}; shift 2 ;;
    --kms-key-arn) KMS_KEY_ARN=${2:?--kms-key-arn needs a value}; shift 2 ;;
    --namespace) NAMESPACE=${2:?--namespace needs a value}; shift 2 ;;
    --release) RELEASE=${2:?--release needs a value}; shift 2 ;;
    --method) METHOD=${2:?--method needs a value}; shift 2 ;;
    --values) VALUES_FILES+=("${2:?--values needs a file}"); shift 2 ;;
    --kube-context) KUBE_CONTEXT=${2:?--kube-context needs a value}; shift 2 ;;
    --ecr-repository) ECR_REPOSITORY=${2:?--ecr-repository needs a value}; shift 2 ;;
    --image-tag) IMAGE_TAG=${2:?--image-tag needs a value}; shift 2 ;;
    --platform) PLATFORM=${2:?--platform needs a value}; shift 2 ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --allow-dirty) ALLOW_DIRTY=true; shift ;;
    --dev-ecr-repository) DEV_ECR_REPOSITORY=${2:?--dev-ecr-repository needs a value}; shift 2 ;;
    --account-id) ACCOUNT_ID=${2:?--account-id needs a value}; shift 2 ;;
    --role-name) ROLE_NAME=${2:?--role-name needs a value}; shift 2 ;;
    --role-arn) ROLE_ARN=${2:?--role-arn needs a value}; shift 2 ;;
    --oidc-provider) OIDC_PROVIDER=${2:?--oidc-provider needs a value}; shift 2 ;;
    --no-role) NO_ROLE=true; shift ;;
    --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
    --verify-timeout) VERIFY_TIMEOUT=${2:?--verify-timeout needs a value}; shift 2 ;;
    --skip-test-message) SKIP_TEST_MESSAGE=true; shift ;;
    --create-infra) CREATE_INFRA=true; shift ;;
    --stack-name) STACK_NAME=${2:?--stack-name needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done

# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------
missing=()
[[ -n $QUEUE_URL ]] || missing+=("--queue-url (or SQS_QUEUE_URL)")
[[ -n $BUCKET ]] || missing+=("--bucket (or S3_BUCKET_NAME)")
if [[ -z $CLUSTER && -z $ROLE_ARN && -z $OIDC_PROVIDER && $NO_ROLE != true ]]; then
  missing+=("--cluster (or EKS_CLUSTER_NAME)")
fi
if [[ $CREATE_INFRA == true && $NO_ROLE == true && -z $CLUSTER ]]; then
  missing+=("--cluster (the Pod Identity association needs it)")
fi
((${#missing[@]} == 0)) || usage_error "missing required input: $(printf '%s, ' "${missing[@]}" | sed 's/, $//')"

# https://sqs.<region>.amazonaws.com[.cn]/<account>/<queue>  (or the legacy https://<region>.queue.amazonaws.com/...)
queue_re='^https://(sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?|([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?)/([0-9]{12})/([A-Za-z0-9_-]{1,80}(\.fifo)?)$'
[[ $QUEUE_URL =~ $queue_re ]] ||
  usage_error "--queue-url must look like https://sqs.eu-west-1.amazonaws.com/123456789012/my-queue (got: $QUEUE_URL)"
QUEUE_REGION=${BASH_REMATCH[2]:-${BASH_REMATCH[4]}}
QUEUE_ACCOUNT=${BASH_REMATCH[6]}
QUEUE_NAME=${BASH_REMATCH[7]}
REGION=${REGION:-$QUEUE_REGION}
[[ $REGION =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || usage_error "--region must be an AWS region such as eu-west-1 (got: $REGION)"
[[ -z $S3_REGION_ARG || $S3_REGION_ARG =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] ||
  usage_error "--s3-region must be an AWS region such as eu-west-1 (got: $S3_REGION_ARG)"
# KMS is called by S3 in the bucket's region, so the policy's kms:ViaService names that region.
BUCKET_REGION=${S3_REGION_ARG:-$REGION}

[[ $BUCKET =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ && $BUCKET != *..* ]] ||
  usage_error "--bucket must be an S3 bucket name, not an ARN or s3:// URL (got: $BUCKET)"
[[ $PREFIX != /* ]] || usage_error "--prefix must not start with '/'"
[[ $PREFIX != *'*'* && $PREFIX != *'?'* ]] || usage_error "--prefix must not contain '*' or '?' (they are IAM wildcards)"
[[ -z $KMS_KEY_ARN || $KMS_KEY_ARN =~ ^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$ ]] ||
  usage_error "--kms-key-arn must be a KMS key ARN (got: $KMS_KEY_ARN)"
[[ $METHOD == helm || $METHOD == kustomize ]] || usage_error "--method must be helm or kustomize (got: $METHOD)"
((${#VALUES_FILES[@]} == 0)) || [[ $METHOD == helm ]] || usage_error "--values only applies to --method helm"
for f in ${VALUES_FILES[@]+"${VALUES_FILES[@]}"}; do
  [[ -r $f ]] || usage_error "--values file not readable: $f"
done
[[ $NAMESPACE =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || usage_error "--namespace is not a valid namespace name: $NAMESPACE"
[[ $RELEASE =~ ^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$ ]] || usage_error "--release is not a valid release name: $RELEASE"
[[ -z $ACCOUNT_ID || $ACCOUNT_ID =~ ^[0-9]{12}$ ]] || usage_error "--account-id must be 12 digits"
[[ $VERIFY_TIMEOUT =~ ^[0-9]+$ ]] || usage_error "--verify-timeout must be a number of seconds"
[[ -z $ROLE_ARN || $ROLE_ARN =~ ^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$ ]] || usage_error "--role-arn must be an IAM role ARN"
[[ $CREATE_INFRA != true || -z $ROLE_ARN ]] || usage_error "--create-infra creates the role; do not combine it with --role-arn"
STACK_NAME=${STACK_NAME:-sqs-archiver-${QUEUE_NAME%.fifo}}
[[ $STACK_NAME =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || usage_error "--stack-name is not a valid stack name: $STACK_NAME"

if [[ -z $IMAGE_TAG ]]; then
  IMAGE_TAG=$(git -C "$SCRIPT_DIR" rev-parse --short=12 HEAD 2>/dev/null) ||
    usage_error "--image-tag is required outside a git checkout"
fi
[[ $IMAGE_TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,121}$ ]] || usage_error "--image-tag is not a valid tag: $IMAGE_TAG"
[[ $ALLOW_DIRTY != true || $SKIP_BUILD != true ]] || usage_error "--allow-dirty applies to a build; do not combine it with --skip-build"

# The image CI tested is the commit's; an image built from uncommitted changes must never carry the commit's tag in
# the repository CD deploys from (CI would find the tag, skip its push, and CD would deploy the workstation build).
DEV_BUILD=false
if [[ $SKIP_BUILD != true ]]; then
  git -C "$SCRIPT_DIR" rev-parse --git-dir >/dev/null 2>&1 ||
    die "cannot tell whether $SCRIPT_DIR is committed (not a git checkout): build from a clone, or use --skip-build"
  dirty=$(git -C "$SCRIPT_DIR" status --porcelain --untracked-files=normal 2>/dev/null) ||
    die "git status failed in $SCRIPT_DIR"
  if [[ -n $dirty ]]; then
    if [[ $ALLOW_DIRTY != true ]]; then
      printf '%s\n' "$dirty" | head -n 10 >&2
      die "the working tree has uncommitted changes (above): commit them, deploy the image CI built (--skip-build), or pass --allow-dirty to push $IMAGE_TAG-dirty to the dev repository ${DEV_ECR_REPOSITORY:-$ECR_REPOSITORY-dev}"
    fi
    DEV_BUILD=true
    IMAGE_TAG=$IMAGE_TAG-dirty
    ECR_REPOSITORY=${DEV_ECR_REPOSITORY:-$ECR_REPOSITORY-dev}
  fi
fi

case $REGION in
  cn-*) PARTITION=aws-cn; DOMAIN_SUFFIX=amazonaws.com.cn ;;
  us-gov-*) PARTITION=aws-us-gov; DOMAIN_SUFFIX=amazonaws.com ;;
  *) PARTITION=aws; DOMAIN_SUFFIX=amazonaws.com ;;
esac

# Names as the chart computes them (helpers "fullname": the release name if it contains the chart name).
if [[ $METHOD == helm ]]; then
  if [[ $RELEASE == *sqs-archiver* ]]; then FULLNAME=$RELEASE; else FULLNAME=$RELEASE-sqs-archiver; fi
else
  FULLNAME=sqs-archiver
fi
SERVICE_ACCOUNT=$FULLNAME
# Role names are account-wide and the trust policy names one cluster, so the default includes both.
if [[ -z $ROLE_NAME ]]; then
  ROLE_NAME=sqs-archiver${CLUSTER:+-$CLUSTER}
  [[ $NAMESPACE == sqs-archiver ]] || ROLE_NAME+=-$NAMESPACE
fi
ROLE_NAME=${ROLE_NAME:0:64}
[[ $ROLE_NAME =~ ^[A-Za-z0-9+=,.@_-]+$ ]] || usage_error "--role-name is not a valid IAM role name: $ROLE_NAME"

# ---------------------------------------------------------------------------------------------------------------
# Prerequisites
# ---------------------------------------------------------------------------------------------------------------
need aws "AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
[[ $METHOD != helm ]] || need helm "Helm 3: https://helm.sh/docs/intro/install/"
[[ $SKIP_BUILD == true ]] || need docker "to build and push the image"
for f in "$SCRIPT_DIR/Dockerfile" "$SCRIPT_DIR/helm/sqs-archiver/Chart.yaml" "$SCRIPT_DIR/k8s/kustomization.yaml" \
  "$SCRIPT_DIR/iam/policy.json" "$SCRIPT_DIR/iam/trust-policy-irsa.json" "$SCRIPT_DIR/infra/cloudformation/sqs-archiver.yaml"; do
  [[ -r $f ]] || die "missing $f (run deploy.sh from a complete checkout)"
done

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/sqs-archiver-deploy.XXXXXX")
if [[ $DRY_RUN == true ]]; then
  note "dry run: nothing below is executed; rendered files are kept in $WORKDIR"
else
  trap 'rm -rf "$WORKDIR"' EXIT
fi

kubectl_args=()
helm_args=()
if [[ -n $KUBE_CONTEXT ]]; then
  kubectl_args+=(--context "$KUBE_CONTEXT")
  helm_args+=(--kube-context "$KUBE_CONTEXT")
fi

# render TEMPLATE OUT NAME=VALUE...: fill ${NAME} placeholders; fail on any left unfilled.
render() {
  local template=$1 out=$2 content pair key value
  shift 2
  content=$(<"$template")
  for pair in "$@"; do
    key=${pair%%=*}
    value=${pair#*=}
    content=${content//"\${$key}"/"$value"}
  done
  if [[ $content =~ \$\{[A-Z_]+\} ]]; then
    die "$template: placeholder ${BASH_REMATCH[0]} was not filled"
  fi
  printf '%s\n' "$content" >"$out"
}

# ---------------------------------------------------------------------------------------------------------------
# 1. Image
# ---------------------------------------------------------------------------------------------------------------
if [[ -z $ACCOUNT_ID ]]; then
  log "AWS account"
  ACCOUNT_ID=$(capture '<ACCOUNT_ID>' aws sts get-caller-identity --query Account --output text)
fi
REGISTRY="$ACCOUNT_ID.dkr.ecr.$REGION.$DOMAIN_SUFFIX"
IMAGE_REPOSITORY="$REGISTRY/$ECR_REPOSITORY"
IMAGE="$IMAGE_REPOSITORY:$IMAGE_TAG"

image_tag_exists() {
  exists aws ecr describe-images --region "$REGION" --repository-name "$ECR_REPOSITORY" --image-ids "imageTag=$IMAGE_TAG"
}

if [[ $SKIP_BUILD == true ]]; then
  log "Checking that $IMAGE exists"
  check aws ecr describe-images --region "$REGION" --repository-name "$ECR_REPOSITORY" --image-ids "imageTag=$IMAGE_TAG" ||
    die "image $IMAGE not found in ECR; build it first or drop --skip-build"
else
  log "ECR repository $ECR_REPOSITORY"
  # The dev repository takes <commit>-dirty again after every edit, so its tags are mutable; CD never reads it.
  mutability=IMMUTABLE
  [[ $DEV_BUILD != true ]] || mutability=MUTABLE
  if ! exists aws ecr describe-repositories --region "$REGION" --repository-names "$ECR_REPOSITORY"; then
    run aws ecr create-repository --region "$REGION" --repository-name "$ECR_REPOSITORY" \
      --image-tag-mutability "$mutability" --image-scanning-configuration scanOnPush=true \
      --encryption-configuration encryptionType=AES256 >/dev/null
  fi

  # The repository is IMMUTABLE: a second push of the same tag is rejected, and a rebuild would not be the same
  # image anyway. A tag already there is the image of this commit: reuse it.
  if [[ $DEV_BUILD != true ]] && image_tag_exists; then
    log "$IMAGE is already in ECR: not rebuilding or pushing"
  else
    [[ $DEV_BUILD != true ]] || log "warning: uncommitted changes: building $IMAGE for the dev repository only"
    log "Building and pushing $IMAGE"
    emit "$(quote_cmd aws ecr get-login-password --region "$REGION") | $(quote_cmd docker login --username AWS --password-stdin "$REGISTRY")"
    if [[ $DRY_RUN != true ]]; then
      aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"
    fi
    version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$SCRIPT_DIR/package.json" | head -n 1)
    revision=$(git -C "$SCRIPT_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
    # The commit's time, not now: the label is part of the image, and the same commit should build the same image.
    created=$(TZ=UTC0 git -C "$SCRIPT_DIR" show -s --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD 2>/dev/null ||
      date -u +%Y-%m-%dT%H:%M:%SZ)
    # Pin the base by digest, as CI does, so the image records (org.opencontainers.image.base.digest) what it was
    # built on instead of whatever the tag meant at that moment.
    base_tag=$(sed -n 's/^ARG NODE_IMAGE=\(.*\)$/\1/p' "$SCRIPT_DIR/Dockerfile" | head -n 1)
    [[ -n $base_tag ]] || die "no ARG NODE_IMAGE=<image> default in $SCRIPT_DIR/Dockerfile"
    run docker pull --quiet --platform "$PLATFORM" "$base_tag" >/dev/null
    base_image=$(capture "$base_tag@sha256:<BASE_DIGEST>" docker image inspect --format '{{index .RepoDigests 0}}' "$base_tag")
    [[ $base_image == *@sha256:* ]] || die "no registry digest for $base_tag (docker image inspect): cannot pin the base image"
    run docker build --pull --platform "$PLATFORM" \
      --build-arg "NODE_IMAGE=$base_image" \
      --build-arg "VERSION=${version:-0.0.0}" --build-arg "REVISION=$revision" \
      --build-arg "CREATED=$created" \
      --tag "$IMAGE" "$SCRIPT_DIR"
    run docker push "$IMAGE"
  fi
fi

# ---------------------------------------------------------------------------------------------------------------
# KMS key: the policy's Resource must be the key ARN. An alias ARN there matches nothing at request time (KMS
# authorises against the key), so every PutObject would fail with AccessDenied (kms).
# ---------------------------------------------------------------------------------------------------------------
if [[ $KMS_KEY_ARN == *:alias/* ]]; then
  log "Resolving KMS alias $KMS_KEY_ARN to its key ARN"
  alias_region=$(cut -d: -f4 <<<"$KMS_KEY_ARN")
  resolved=$(capture "arn:$PARTITION:kms:$alias_region:<KEY_ACCOUNT>:key/<KEY_ID_OF_${KMS_KEY_ARN##*:alias/}>" \
    aws kms describe-key --region "$alias_region" --key-id "$KMS_KEY_ARN" --query KeyMetadata.Arn --output text) ||
    die "cannot resolve $KMS_KEY_ARN (aws kms describe-key failed); pass the key ARN (arn:...:key/<id>) instead"
  if [[ $DRY_RUN != true && ! $resolved =~ ^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$ ]]; then
    die "refusing to use $KMS_KEY_ARN: it resolved to '$resolved', not a key ARN"
  fi
  KMS_KEY_ARN=$resolved
fi

# ---------------------------------------------------------------------------------------------------------------
# 2. IAM role (IRSA)
# ---------------------------------------------------------------------------------------------------------------
if [[ $CREATE_INFRA == true ]]; then
  log "CloudFormation stack $STACK_NAME (queue $QUEUE_NAME with DLQ, bucket $BUCKET, role)"
  [[ $QUEUE_ACCOUNT == "$ACCOUNT_ID" || $DRY_RUN == true ]] ||
    die "--create-infra creates the queue in account $ACCOUNT_ID, but --queue-url names account $QUEUE_ACCOUNT"
  cfn_params=("QueueName=$QUEUE_NAME" "BucketName=$BUCKET" "ArchivePrefix=$PREFIX" "Namespace=$NAMESPACE"
    "ServiceAccount=$SERVICE_ACCOUNT" "KmsKeyArn=$KMS_KEY_ARN")
  [[ $QUEUE_NAME != *.fifo ]] || cfn_params+=("FifoQueue=true" "DeadLetterQueueName=${QUEUE_NAME%.fifo}-dlq.fifo")
  if [[ $NO_ROLE == true ]]; then
    cfn_params+=("IdentityType=PodIdentity" "ClusterName=$CLUSTER")
  else
    if [[ -z $OIDC_PROVIDER ]]; then
      issuer=$(capture "https://oidc.eks.$REGION.$DOMAIN_SUFFIX/id/<OIDC_ID>" \
        aws eks describe-cluster --region "$REGION" --name "$CLUSTER" --query cluster.identity.oidc.issuer --output text)
      OIDC_PROVIDER=${issuer#https://}
    fi
    cfn_params+=("IdentityType=IRSA" "OidcProvider=$OIDC_PROVIDER")
  fi
  # A stack whose first create failed stays in ROLLBACK_COMPLETE and can never be updated: every re-run would fail
  # the same way. Say what to do instead of letting `cloudformation deploy` fail with a generic message.
  stack_status=$(capture "<StackStatus>" aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK_NAME" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null) || stack_status=""
  cfn_cmd="aws cloudformation --region $REGION"
  case $stack_status in
    ROLLBACK_COMPLETE | ROLLBACK_FAILED)
      die "stack $STACK_NAME is in $stack_status: its first create failed and was rolled back, and CloudFormation cannot update it.
  1. See why:    $cfn_cmd describe-stack-events --stack-name $STACK_NAME --query \"StackEvents[?ResourceStatus=='CREATE_FAILED'].[LogicalResourceId,ResourceStatusReason]\" --output text
  2. Delete it:  $cfn_cmd delete-stack --stack-name $STACK_NAME && $cfn_cmd wait stack-delete-complete --stack-name $STACK_NAME
     (nothing a failed create made is kept: the template uses DeletionPolicy RetainExceptOnCreate; a stack made from an
     older template, with Retain, may have left the queue $QUEUE_NAME or the bucket $BUCKET behind: delete them or pick other names)
  3. Fix the cause and re-run deploy.sh"
      ;;
    *_IN_PROGRESS)
      die "stack $STACK_NAME is $stack_status: wait for it ($cfn_cmd describe-stacks --stack-name $STACK_NAME) and re-run" ;;
    UPDATE_ROLLBACK_FAILED)
      die "stack $STACK_NAME is UPDATE_ROLLBACK_FAILED: fix the resource that failed (describe-stack-events), then $cfn_cmd continue-update-rollback --stack-name $STACK_NAME, and re-run" ;;
    DELETE_FAILED)
      die "stack $STACK_NAME is DELETE_FAILED: finish deleting it ($cfn_cmd delete-stack --stack-name $STACK_NAME, see describe-stack-events) and re-run" ;;
  esac
  run aws cloudformation deploy --region "$REGION" --stack-name "$STACK_NAME" \
    --template-file "$SCRIPT_DIR/infra/cloudformation/sqs-archiver.yaml" \
    --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
    --tags app.kubernetes.io/name=sqs-archiver "kubernetes-namespace=$NAMESPACE" \
    --parameter-overrides "${cfn_params[@]}"
  stack_output() {
    capture "<$1>" aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK_NAME" \
      --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
  }
  created_queue=$(stack_output QueueUrl)
  [[ $DRY_RUN == true || $created_queue == "$QUEUE_URL" ]] ||
    die "stack $STACK_NAME created queue $created_queue, not $QUEUE_URL"
  if [[ $NO_ROLE == true ]]; then
    ROLE_ARN=""
    log "Pod Identity association for $NAMESPACE/$SERVICE_ACCOUNT created by the stack"
  else
    ROLE_ARN=$(stack_output RoleArn)
  fi
elif [[ $NO_ROLE == true ]]; then
  ROLE_ARN=""
  log "No IRSA role (--no-role): the pod needs an EKS Pod Identity association for $NAMESPACE/$SERVICE_ACCOUNT"
elif [[ -n $ROLE_ARN ]]; then
  log "Using existing role $ROLE_ARN"
else
  log "IAM role $ROLE_NAME"
  if [[ -z $OIDC_PROVIDER ]]; then
    issuer=$(capture "https://oidc.eks.$REGION.$DOMAIN_SUFFIX/id/<OIDC_ID>" \
      aws eks describe-cluster --region "$REGION" --name "$CLUSTER" --query cluster.identity.oidc.issuer --output text)
    OIDC_PROVIDER=${issuer#https://}
  fi
  check aws iam get-open-id-connect-provider \
    --open-id-connect-provider-arn "arn:$PARTITION:iam::$ACCOUNT_ID:oidc-provider/$OIDC_PROVIDER" ||
    die "the cluster's OIDC provider $OIDC_PROVIDER is not registered in IAM (eksctl utils associate-iam-oidc-provider --cluster $CLUSTER --approve)"

  render "$SCRIPT_DIR/iam/trust-policy-irsa.json" "$WORKDIR/trust-policy.json" \
    "AWS_PARTITION=$PARTITION" "AWS_ACCOUNT_ID=$ACCOUNT_ID" "OIDC_PROVIDER=$OIDC_PROVIDER" \
    "NAMESPACE=$NAMESPACE" "SERVICE_ACCOUNT=$SERVICE_ACCOUNT"
  policy_vars=("AWS_PARTITION=$PARTITION" "AWS_REGION=$REGION" "S3_REGION=$BUCKET_REGION" "AWS_ACCOUNT_ID=$QUEUE_ACCOUNT"
    "SQS_QUEUE_NAME=$QUEUE_NAME" "S3_BUCKET_NAME=$BUCKET" "S3_PREFIX=$PREFIX")
  if [[ -n $KMS_KEY_ARN ]]; then
    render "$SCRIPT_DIR/iam/policy-sse-kms.json" "$WORKDIR/policy.json" "${policy_vars[@]}" "KMS_KEY_ARN=$KMS_KEY_ARN"
  else
    render "$SCRIPT_DIR/iam/policy.json" "$WORKDIR/policy.json" "${policy_vars[@]}"
  fi

  if exists aws iam get-role --role-name "$ROLE_NAME"; then
    run aws iam update-assume-role-policy --role-name "$ROLE_NAME" --policy-document "file://$WORKDIR/trust-policy.json"
  else
    run aws iam create-role --role-name "$ROLE_NAME" \
      --description "sqs-archiver in $NAMESPACE: reads $QUEUE_NAME, writes s3://$BUCKET/$PREFIX" \
      --assume-role-policy-document "file://$WORKDIR/trust-policy.json" \
      --tags Key=app.kubernetes.io/name,Value=sqs-archiver "Key=kubernetes-namespace,Value=$NAMESPACE" >/dev/null
    run aws iam wait role-exists --role-name "$ROLE_NAME"
  fi
  run aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name sqs-archiver \
    --policy-document "file://$WORKDIR/policy.json"
  ROLE_ARN="arn:$PARTITION:iam::$ACCOUNT_ID:role/$ROLE_NAME"
fi

# ---------------------------------------------------------------------------------------------------------------
# 3. Render and apply the manifests
# ---------------------------------------------------------------------------------------------------------------
if [[ $METHOD == helm ]]; then
  log "helm upgrade --install $RELEASE in $NAMESPACE"
  helm_values=()
  for f in ${VALUES_FILES[@]+"${VALUES_FILES[@]}"}; do helm_values+=(--values "$f"); done
  helm_values+=(
    --set-string "image.repository=$IMAGE_REPOSITORY"
    --set-string "image.tag=$IMAGE_TAG"
    --set-string "config.sqsQueueUrl=$QUEUE_URL"
    --set-string "config.s3BucketName=$BUCKET"
    --set-string "config.awsRegion=$REGION"
    --set-string "config.s3Prefix=$PREFIX"
    --set-string "serviceAccount.roleArn=$ROLE_ARN"
  )
  if [[ -n $KMS_KEY_ARN ]]; then
    helm_values+=(--set-string "config.s3Sse=aws:kms" --set-string "config.s3KmsKeyId=$KMS_KEY_ARN")
  fi
  if [[ -n $S3_REGION_ARG ]]; then helm_values+=(--set-string "config.s3Region=$S3_REGION_ARG"); fi
  # Not `helm --create-namespace`: a namespace this script creates gets the restricted Pod Security labels.
  ns_args=(--namespace "$NAMESPACE")
  [[ -z $KUBE_CONTEXT ]] || ns_args+=(--kube-context "$KUBE_CONTEXT")
  [[ $DRY_RUN != true ]] || ns_args+=(--dry-run)
  "$SCRIPT_DIR/scripts/ensure-namespace.sh" "${ns_args[@]}"
  run helm ${helm_args[@]+"${helm_args[@]}"} upgrade --install "$RELEASE" "$SCRIPT_DIR/helm/sqs-archiver" \
    --namespace "$NAMESPACE" "${helm_values[@]}" \
    --atomic --wait --timeout "$TIMEOUT"
else
  log "kustomize overlay for $NAMESPACE"
  # The base's Namespace (restricted PSS labels, owned by this app) is for the dedicated namespace sqs-archiver only.
  # Another namespace is assumed shared: kustomize would otherwise rename the base Namespace to it, relabel it, and
  # a later `kubectl delete -f` of these manifests would delete it with everything in it.
  SHARED_NAMESPACE=false
  if [[ $NAMESPACE != sqs-archiver ]]; then
    SHARED_NAMESPACE=true
    ns_args=(--namespace "$NAMESPACE")
    [[ -z $KUBE_CONTEXT ]] || ns_args+=(--kube-context "$KUBE_CONTEXT")
    [[ $DRY_RUN != true ]] || ns_args+=(--dry-run)
    "$SCRIPT_DIR/scripts/ensure-namespace.sh" "${ns_args[@]}"

  fi
  mkdir -p "$WORKDIR/overlay"
  cp -R "$SCRIPT_DIR/k8s" "$WORKDIR/base"
  {
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'
    printf 'namespace: %s\n' "$NAMESPACE"
    printf 'resources:\n  - ../base\n'
    printf 'images:\n  - name: sqs-archiver\n    newName: %s\n    newTag: "%s"\n' "$IMAGE_REPOSITORY" "$IMAGE_TAG"
    printf 'configMapGenerator:\n  - name: sqs-archiver\n    behavior: merge\n    literals:\n'
    printf '      - "%s"\n' "SQS_QUEUE_URL=$QUEUE_URL" "S3_BUCKET_NAME=$BUCKET" "AWS_REGION=$REGION" "S3_PREFIX=$PREFIX"
    if [[ -n $KMS_KEY_ARN ]]; then
      printf '      - "%s"\n' "S3_SSE=aws:kms" "S3_KMS_KEY_ID=$KMS_KEY_ARN"
    fi
    if [[ -n $S3_REGION_ARG ]]; then printf '      - "%s"\n' "S3_REGION=$S3_REGION_ARG"; fi
    printf 'patches:\n'
    if [[ $SHARED_NAMESPACE == true ]]; then
      printf '  - target:\n      kind: Namespace\n    patch: |-\n'
      # shellcheck disable=SC2016 # "$patch: delete" is kustomize's literal directive, not a shell expansion
      printf '      $patch: delete\n      apiVersion: v1\n      kind: Namespace\n      metadata:\n        name: sqs-archiver\n'
    fi
    printf '  - target:\n      kind: ServiceAccount\n      name: sqs-archiver\n    patch: |-\n'
    if [[ -n $ROLE_ARN ]]; then
      printf '      - op: replace\n        path: /metadata/annotations/eks.amazonaws.com~1role-arn\n        value: "%s"\n' "$ROLE_ARN"
    else
      printf '      - op: remove\n        path: /metadata/annotations/eks.amazonaws.com~1role-arn\n'
    fi
  } >"$WORKDIR/overlay/kustomization.yaml"
  emit "$(quote_cmd kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} kustomize "$WORKDIR/overlay") > $(quote_cmd "$WORKDIR/manifests.yaml")"
  if [[ $DRY_RUN != true ]]; then
    kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} kustomize "$WORKDIR/overlay" >"$WORKDIR/manifests.yaml"
  fi
  run kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} apply --server-side --field-manager=deploy.sh \
    -f "$WORKDIR/manifests.yaml"
fi

# ---------------------------------------------------------------------------------------------------------------
# 4. Verify
# ---------------------------------------------------------------------------------------------------------------
log "Waiting for deployment/$FULLNAME"
run kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} rollout status "deployment/$FULLNAME" \
  --namespace "$NAMESPACE" --timeout "$TIMEOUT"

smoke_args=(--namespace "$NAMESPACE" --service "$FULLNAME" --queue-url "$QUEUE_URL" --bucket "$BUCKET"
  --prefix "$PREFIX" --region "$REGION" --timeout "$VERIFY_TIMEOUT")
[[ -z $KUBE_CONTEXT ]] || smoke_args+=(--kube-context "$KUBE_CONTEXT")
[[ $SKIP_TEST_MESSAGE != true ]] || smoke_args+=(--skip-message)
[[ $DRY_RUN != true ]] || smoke_args+=(--dry-run)
"$SCRIPT_DIR/scripts/smoke-test.sh" "${smoke_args[@]}"

log "Done: $IMAGE archives $QUEUE_URL to s3://$BUCKET/${PREFIX}YYYY/MM/DD/HH/"
