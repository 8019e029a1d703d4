# Sourced by the e2e scripts that drive Bourse with a Python client. Sets TARGET (the
# absolute cargo target dir: the runners start clients from temp dirs) and ensure_venv.
TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac

# ensure_venv NAME DIST VERSION: sets VENV to $TARGET/NAME, a venv holding exactly
# DIST==VERSION. Made once; remade when the pin changes, so a bump needs no manual cleanup.
ensure_venv() {
  VENV=$TARGET/$1
  local dist=$2 version=$3
  if [ "$("$VENV/bin/pip" show "$dist" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]; then
    echo "installing $dist $version into $VENV…"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$dist==$version"
  fi
}
