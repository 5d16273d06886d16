#!/usr/bin/env bash
# SBOM and vulnerability scan of a built image (Jenkinsfile-CI), where the agent has a scanner and network.
#
#   scripts/image-scan.sh IMAGE OUT_DIR
#
# With trivy: OUT_DIR/sbom.cdx.json (CycloneDX) and OUT_DIR/vulnerabilities.txt; exits 1 when the image has HIGH or
# CRITICAL vulnerabilities with a fix available. Without trivy but with syft: the SBOM only. Where no scanner is
# installed, or the vulnerability database cannot be downloaded (no network), it says so in one SKIPPED line and exits
# 0, so air-gapped agents still build; set SCAN_REQUIRED=true to make those cases fail instead.
set -euo pipefail

PROG=image-scan.sh
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

(($# == 2)) || usage_error "usage: $PROG IMAGE OUT_DIR"
IMAGE=$1 OUT=$2
SCAN_REQUIRED=${SCAN_REQUIRED:-false}
SEVERITY=${SCAN_SEVERITY:-HIGH,CRITICAL}
FINDINGS_EXIT=3
mkdir -p "$OUT"

skipped() {
  printf 'SKIPPED: %s\n' "$*" | tee "$OUT/SKIPPED.txt"
  [[ $SCAN_REQUIRED != true ]] || die "SCAN_REQUIRED=true: $*"
  exit 0
}

if command -v trivy >/dev/null 2>&1; then
  log "SBOM (CycloneDX) of $IMAGE"
  run trivy image --quiet --format cyclonedx --output "$OUT/sbom.cdx.json" "$IMAGE"
  log "Vulnerabilities ($SEVERITY, fixable) in $IMAGE"
  set +e
  trivy image --quiet --ignore-unfixed --severity "$SEVERITY" --exit-code "$FINDINGS_EXIT" \
    --format table --output "$OUT/vulnerabilities.txt" "$IMAGE" 2>"$OUT/trivy.log"
  rc=$?
  set -e
  case $rc in
    0) log "no $SEVERITY vulnerabilities with a fix"; exit 0 ;;
    "$FINDINGS_EXIT") cat "$OUT/vulnerabilities.txt"; die "$IMAGE has $SEVERITY vulnerabilities with a fix available (see $OUT/vulnerabilities.txt)" ;;
    *) cat "$OUT/trivy.log" >&2; skipped "trivy could not scan (exit $rc; vulnerability database unreachable without network?); SBOM: $OUT/sbom.cdx.json" ;;
  esac
elif command -v syft >/dev/null 2>&1; then
  run syft "$IMAGE" --output "cyclonedx-json=$OUT/sbom.cdx.json"
  skipped "vulnerability scan: trivy is not installed on this agent (SBOM written by syft to $OUT/sbom.cdx.json)"
else
  skipped "SBOM and vulnerability scan: neither trivy nor syft is installed on this agent"
fi
