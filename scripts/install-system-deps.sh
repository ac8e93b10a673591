#!/usr/bin/env bash
# Best-effort system packages for the sandbox: bubblewrap gives the agent's commands their own
# mount, pid and network namespaces. Without it casebank falls back to rlimits + unshare (docs/sandbox.md).
set -u
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing bubblewrap for the sandbox..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null 2>&1 \
    || echo "warning: could not install bubblewrap; the sandbox will use its fallback mode" >&2
else
  echo "note: bubblewrap (bwrap) not found; the sandbox uses its fallback mode. Install it for full isolation." >&2
fi
exit 0
