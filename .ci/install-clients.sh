#!/usr/bin/env bash
# Installs the real S3 clients the conformance suite (`npm run test:clients`) drives: aws-cli v2, s3cmd
# and rclone from Debian packages. Idempotent: when all three are present it only checks versions.
set -euo pipefail

packages=()
[[ -x /usr/bin/aws ]] || packages+=(awscli)
[[ -x /usr/bin/s3cmd ]] || packages+=(s3cmd)
[[ -x /usr/bin/rclone ]] || packages+=(rclone)

if ((${#packages[@]} > 0)); then
  echo "install-clients: installing ${packages[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# /usr/bin/aws is called by absolute path because a pyenv shim for aws-cli v1 may come first on PATH.
version=$(/usr/bin/aws --version 2>&1)
if [[ $version != aws-cli/2.* ]]; then
  echo "install-clients: /usr/bin/aws must be aws-cli v2, but it reports: $version" >&2
  exit 1
fi
python3 -c 'import boto3' 2>/dev/null || {
  echo "install-clients: boto3 is missing for python3 (pip install boto3)" >&2
  exit 1
}
# --config /dev/null: without it, `rclone version` creates ~/.config/rclone.
echo "install-clients: ${version%% *}, $(/usr/bin/s3cmd --version), $(env -u AWS_CA_BUNDLE /usr/bin/rclone --config /dev/null version | head -1)"
