#!/bin/sh
# Install tcplab's desktop integration for the current user: the menu entry (.desktop), the
# AppStream metainfo, the .tcplab session file type and the icons, under
# ${XDG_DATA_HOME:-~/.local/share}. Double-clicking a .tcplab file then opens it in tcplab.
#
#   packaging/install-desktop.sh [--exec COMMAND] [--prefix DIR] [--uninstall]
#
# --exec     the tcplab program the menu entry starts (default: the bundled application beside
#            this script, else the tcplab found on PATH, as an absolute path)
# --prefix   the data folder to install into (default: ${XDG_DATA_HOME:-$HOME/.local/share};
#            /usr/local/share installs for every user, as root)
# --uninstall remove what an install put there
#
# It works from a clone (packaging/ beside resources/) and from the one-folder application
# built by packaging/tcplab.spec (which carries this script and its files).
set -eu

ID=io.github.tcplab.TcpLab
MIME_TYPE=application/x-tcplab-session
SIZES="16 22 24 32 48 64 128 256 512"

here=$(cd "$(dirname "$0")" && pwd)
prefix=${XDG_DATA_HOME:-$HOME/.local/share}
exec_path=
uninstall=no

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }
die() { echo "install-desktop.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --exec) [ $# -ge 2 ] || die "--exec needs a value"; exec_path=$2; shift 2 ;;
        --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix=$2; shift 2 ;;
        --uninstall) uninstall=yes; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

# Where the files to install are: packaging/ and resources/icons in a clone; in the bundled
# application, packaging files in share/ and the icons in the bundle's data folder.
pkg=
for d in "$here" "$here/share"; do
    [ -f "$d/$ID.desktop" ] && { pkg=$d; break; }
done
[ -n "$pkg" ] || die "cannot find $ID.desktop beside this script"
icons=
for d in "$here/../resources/icons/hicolor" "$here/_internal/tcplab_resources/icons/hicolor"; do
    [ -d "$d" ] && { icons=$(cd "$d" && pwd); break; }
done
[ -n "$icons" ] || die "cannot find the hicolor icons (resources/icons/hicolor)"

refresh() {
    if command -v update-mime-database >/dev/null 2>&1 && [ -d "$prefix/mime/packages" ]; then
        update-mime-database "$prefix/mime"
    fi
    if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$prefix/applications" ]; then
        update-desktop-database -q "$prefix/applications"
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$prefix/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t -f "$prefix/icons/hicolor" || true
    fi
}

if [ "$uninstall" = yes ]; then
    rm -f "$prefix/applications/$ID.desktop" "$prefix/metainfo/$ID.metainfo.xml" \
          "$prefix/mime/packages/$ID.xml" "$prefix/icons/hicolor/scalable/apps/$ID.svg"
    for n in $SIZES; do rm -f "$prefix/icons/hicolor/${n}x${n}/apps/$ID.png"; done
    refresh
    echo "Removed tcplab's desktop integration from $prefix"
    exit 0
fi

if [ -z "$exec_path" ]; then
    if [ -x "$here/tcplab" ] && [ ! -d "$here/tcplab" ]; then
        exec_path=$here/tcplab                      # the bundled application
    elif command -v tcplab >/dev/null 2>&1; then
        exec_path=$(command -v tcplab)
    else
        die "no tcplab on PATH: install tcplab first (pip or pipx), or give --exec PATH"
    fi
fi
case $exec_path in
    *[\"\`\$\\]*) die "--exec: the path must not contain \", \`, \$ or \\" ;;
    *" "*) exec_field="\"$exec_path\"" ;;       # quoted as the Desktop Entry spec says
    *) exec_field=$exec_path ;;
esac

install -d "$prefix/applications" "$prefix/metainfo" "$prefix/mime/packages" \
           "$prefix/icons/hicolor/scalable/apps"
sed_escape() { printf '%s' "$1" | sed 's/[&|]/\\&/g'; }
sed -e "s|^Exec=tcplab |Exec=$(sed_escape "$exec_field") |" \
    -e "s|^TryExec=tcplab\$|TryExec=$(sed_escape "$exec_path")|" \
    "$pkg/$ID.desktop" > "$prefix/applications/$ID.desktop.part"
mv "$prefix/applications/$ID.desktop.part" "$prefix/applications/$ID.desktop"
install -m 644 "$pkg/$ID.metainfo.xml" "$prefix/metainfo/$ID.metainfo.xml"
install -m 644 "$pkg/$ID.mime.xml" "$prefix/mime/packages/$ID.xml"
for n in $SIZES; do
    src=$icons/${n}x${n}/apps/tcplab.png
    [ -f "$src" ] || die "missing icon $src"
    install -d "$prefix/icons/hicolor/${n}x${n}/apps"
    install -m 644 "$src" "$prefix/icons/hicolor/${n}x${n}/apps/$ID.png"
done
install -m 644 "$icons/scalable/apps/tcplab.svg" "$prefix/icons/hicolor/scalable/apps/$ID.svg"
refresh
echo "Installed tcplab's desktop integration in $prefix (starts $exec_path; $MIME_TYPE for *.tcplab)"
