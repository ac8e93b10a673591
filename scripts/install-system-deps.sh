#!/usr/bin/env bash
# Best-effort system packages, from Debian's archive:
# - bubblewrap gives the agent's commands their own mount, pid and network namespaces. Without it
#   casebank falls back to rlimits + unshare (docs/sandbox.md).
# - postgresql: the two-replica test (tests/test_scale_out.py) starts its own server in a temp dir
#   with initdb/pg_ctl (docs/scale.md). The package's own cluster service is not needed.
set -u
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null 2>&1 \
    || echo "warning: could not install ${missing[*]}; without bubblewrap the sandbox uses its fallback mode, without postgresql tests/test_scale_out.py fails" >&2
else
  echo "note: not installed: ${missing[*]} (apt-get install ${missing[*]}): without bubblewrap (bwrap) the sandbox uses its fallback mode; without postgresql tests/test_scale_out.py fails." >&2
fi
exit 0
