#!/usr/bin/env bash
# The CJK serif duban's documents use, from the npm registry: Noto Serif SC Regular and Bold
# (SIL Open Font License 1.1, LICENSE_FONT beside them) into fonts/ of the checkout, or into
# $DUBAN_FONT_DIR. The PDF conversion adds that folder to fontconfig (仿宋 and 宋体 → Regular,
# 小标宋 → Bold), so a machine without Debian's fonts-noto-cjk still prints serif documents.
# Idempotent; needs npm. The sans face comes from PyPI (cvttf-notosanscjk-regular), 楷体 from
# Debian's fonts-lxgw-wenkai (scripts/ci-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${DUBAN_FONT_DIR:-fonts}"
pkg="@expo-google-fonts/noto-serif-sc@0.4.3"
if [[ -s "$dest/NotoSerifSC-Regular.ttf" && -s "$dest/NotoSerifSC-Bold.ttf" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fonts: npm is needed to fetch $pkg" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fonts: fetching $pkg"
(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/400Regular/NotoSerifSC_400Regular.ttf \
  package/700Bold/NotoSerifSC_700Bold.ttf package/LICENSE_FONT
mkdir -p "$dest"
cp "$work/package/LICENSE_FONT" "$dest/LICENSE-NotoSerifSC.txt"
cp "$work/package/700Bold/NotoSerifSC_700Bold.ttf" "$dest/NotoSerifSC-Bold.ttf"
cp "$work/package/400Regular/NotoSerifSC_400Regular.ttf" "$dest/NotoSerifSC-Regular.ttf"
echo "fonts: Noto Serif SC in $dest"
