#!/usr/bin/env bash
# Reference tools and real version lists for the vuln crate's differential tests (idempotent).
#  - dpkg (always present), rpm + python3-rpm (rpm's own comparison), rpmbuild (rpm packages for the distro matching tests), python3-packaging (PEP 440),
#    npm's `semver` package installed with npm into ~/.cache/portcullis/npm-semver.
#  - PyPI and npm version lists fetched through pip/npm into ~/.cache/portcullis/versions/ (kept once fetched).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v rpm >/dev/null && command -v rpmbuild >/dev/null || need+=(rpm)
/usr/bin/python3 -c 'import rpm' 2>/dev/null || need+=(python3-rpm)
/usr/bin/python3 -c 'import packaging.version' 2>/dev/null || need+=(python3-packaging)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v pip >/dev/null || command -v pip3 >/dev/null || need+=(python3-pip)
[ -x /usr/lib/apt/apt-helper ] || need+=(apt)
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y --no-install-recommends "${need[@]}"
fi
cache="${HOME}/.cache/portcullis"
semver_dir="$cache/npm-semver"
if [ ! -f "$semver_dir/node_modules/semver/package.json" ]; then
  mkdir -p "$semver_dir"
  npm install --no-audit --no-fund --prefix "$semver_dir" semver@7.6.3
fi
vdir="$cache/versions"
mkdir -p "$vdir/pypi" "$vdir/npm"
pypi="django numpy requests setuptools pip urllib3 cryptography pandas flask jinja2 pillow sqlalchemy
 scipy pytest tornado twisted pyyaml lxml paramiko ansible-core celery boto3 protobuf grpcio tensorflow
 aiohttp werkzeug certifi idna packaging"
for p in $pypi; do
  f="$vdir/pypi/$p.txt"
  [ -s "$f" ] && continue
  "$(command -v pip || command -v pip3)" index versions --pre "$p" 2>/dev/null | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' > "$f.tmp" || true
  if [ -s "$f.tmp" ]; then mv "$f.tmp" "$f"; else rm -f "$f.tmp"; echo "warning: could not fetch PyPI versions of $p" >&2; fi
done
npmpkgs="lodash react express typescript webpack @babel/core next vue @angular/core axios moment
 jquery eslint rollup esbuild vite jest mocha chalk commander semver minimist ws node-fetch undici
 electron @types/node rxjs tslib"
for p in $npmpkgs; do
  f="$vdir/npm/$(echo "$p" | tr '/@' '__').json"
  [ -s "$f" ] && continue
  if npm view "$p" versions --json > "$f.tmp" 2>/dev/null && [ -s "$f.tmp" ]; then mv "$f.tmp" "$f"
  else rm -f "$f.tmp"; echo "warning: could not fetch npm versions of $p" >&2; fi
done
