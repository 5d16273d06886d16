#!/usr/bin/env bash
# ecr-push.sh: push the image this CI build made to ECR under its commit tag, and prove that the tag now names
# exactly that image. Used by Jenkinsfile-CI.
#
# The repository is IMMUTABLE, so a tag that is already there is never overwritten. Finding it is not enough:
# whoever pushed it first (a workstation, another pipeline) decides what CD deploys. The tag is accepted only when
# its image is the one this build produced (same image config digest, i.e. same layers and configuration);
# otherwise the build fails, naming both digests. On success the repository digest (what CD deploys and cosign
# signs) is written to --digest-file.
set -euo pipefail

PROG=ecr-push.sh
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/ecr-push.sh --image REGISTRY/REPOSITORY:TAG --region REGION [--digest-file FILE]

  --image REF          the locally built image (docker build --tag REF)
  --region REGION      ECR region
  --digest-file FILE   where to write the pushed repository digest (default: image-digest.txt)
  -h, --help           this help
USAGE
}

IMAGE="" REGION="" DIGEST_FILE=image-digest.txt
while (($#)); do
  case $1 in
    --image) IMAGE=${2:?--image needs a value}; shift 2 ;;
    --region) REGION=${2:?--region needs a value}; shift 2 ;;
    --digest-file) DIGEST_FILE=${2:?--digest-file needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[[ -n $IMAGE && -n $REGION ]] || usage_error "--image and --region are required"
[[ $IMAGE =~ ^([^/]+)/([^:@]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$ ]] ||
  usage_error "--image must be REGISTRY/REPOSITORY:TAG (got: $IMAGE)"
REPOSITORY=${BASH_REMATCH[2]}
TAG=${BASH_REMATCH[3]}
need docker "to push the image"
need aws "to read the tag's manifest from ECR"

# What this build made. With the classic image store the ID is the config digest; with the containerd store it is
# the manifest (or index) digest: either way ECR knows it under the same name, compared below.
built=$(docker image inspect --format '{{.Id}}' "$IMAGE") || die "no local image $IMAGE (build it first)"

remote_digest() {
  aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" \
    --query 'imageDetails[0].imageDigest' --output text
}
remote_config() {
  # The manifest is a JSON document inside the JSON answer; pick its config digest without jq.
  aws ecr batch-get-image --region "$REGION" --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" \
    --query 'images[0].imageManifest' --output text |
    sed -n 's/.*"config"[^}]*"digest"[[:space:]]*:[[:space:]]*"\(sha256:[0-9a-f]\{64\}\)".*/\1/p' | head -n 1
}

if digest=$(remote_digest 2>/dev/null) && [[ $digest == sha256:* ]]; then
  log "$IMAGE is already in ECR ($digest): checking it is the image this build made"
else
  log "Pushing $IMAGE"
  docker push "$IMAGE"
  digest=$(remote_digest) || die "pushed $IMAGE but ECR does not list it"
fi

config=$(remote_config || true)
if [[ $built != "$digest" && $built != "$config" ]]; then
  die "tag $TAG in $REPOSITORY names $digest (config ${config:-unknown}), not the image this build made ($built).
Someone pushed this commit's tag before CI did (deploy.sh from a workstation, another pipeline). CD deploys whatever
the tag names, so this build refuses to record it. Delete that image (aws ecr batch-delete-image --repository-name
$REPOSITORY --image-ids imageTag=$TAG) and re-run, and restrict pushes to the CI role (docs/deploy.md, ECR repository
policy iam/ecr-repository-policy.json)."
fi
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "ECR returned no digest for $IMAGE: '$digest'"
printf '%s\n' "$digest" >"$DIGEST_FILE"
log "$IMAGE is $digest, the image this build made"
