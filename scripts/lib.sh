# shellcheck shell=bash
# Shared helpers for deploy.sh and scripts/smoke-test.sh (sourced, not executed).
#
# Commands go through run/capture/exists/check so that --dry-run prints every command instead of running it:
# in dry-run mode each command is printed on stdout as "+ cmd args" (shell-quoted, copy-pastable) and nothing
# that talks to AWS, Kubernetes, Helm or Docker runs. In normal mode the same line goes to stderr as a trace.

DRY_RUN=${DRY_RUN:-false}

die() {
  printf '%s: error: %s\n' "${PROG:-${0##*/}}" "$*" >&2
  exit 1
}

usage_error() {
  printf '%s: %s\n' "${PROG:-${0##*/}}" "$*" >&2
  printf 'Run "%s --help" for usage.\n' "${PROG:-${0##*/}}" >&2
  exit 2
}

log() {
  printf '==> %s\n' "$*" >&2
}

# Quote each argument only if it needs it, so dry-run output reads like what you would type.
quote_cmd() {
  local out="" arg
  for arg in "$@"; do
    if [[ -n $arg && $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+="$arg "
    else
      out+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  printf '%s' "${out% }"
}

# Print a command line: on stdout in dry-run mode (that is the output), on stderr as a trace otherwise.
emit() {
  if [[ $DRY_RUN == true ]]; then
    printf '+ %s\n' "$1" >&3
  else
    printf '+ %s\n' "$1" >&2
  fi
}

# Print a note in dry-run output (comment lines start with #).
note() {
  if [[ $DRY_RUN == true ]]; then
    printf '# %s\n' "$*" >&3
  fi
}

run() {
  emit "$(quote_cmd "$@")"
  [[ $DRY_RUN == true ]] && return 0
  "$@"
}

# capture PLACEHOLDER CMD...: print CMD's stdout (trimmed); in dry-run mode print PLACEHOLDER instead.
# Use as: VAR=$(capture '<x>' cmd ...); the command line is printed on fd 3, outside the substitution.
# CMD's failure is capture's failure (errexit does not reach into $(...)), so the assignment fails with it.
capture() {
  local placeholder=$1
  shift
  emit "$(quote_cmd "$@")"
  if [[ $DRY_RUN == true ]]; then
    printf '%s\n' "$placeholder"
    return 0
  fi
  local out
  out=$("$@") || return
  printf '%s\n' "${out//[$'\r\n']/}"
}

# exists CMD...: true when CMD succeeds (quietly). In dry-run mode always false, so the commands that create a
# missing resource are printed too.
exists() {
  emit "$(quote_cmd "$@")"
  [[ $DRY_RUN == true ]] && return 1
  "$@" >/dev/null 2>&1
}

# check CMD...: a precondition that must hold. In dry-run mode assumed to hold.
check() {
  emit "$(quote_cmd "$@")"
  [[ $DRY_RUN == true ]] && return 0
  "$@" >/dev/null
}

need() {
  local tool=$1 why=$2
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required ($why) but was not found on PATH"
}

# fd 3 = the script's real stdout, where dry-run output goes even from inside $(...) or a redirected command.
exec 3>&1
