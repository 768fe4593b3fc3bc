# shellcheck shell=bash
# ./build.sh deb: the Debian package, built from out/. Sourced by build.sh.

# The Depends line: what the binary's dynamic symbols need (dpkg-shlibdeps, else the
# highest GLIBC_ symbol version objdump shows).
deb_depends() {   # $1: folder with debian/control, $2: the staged binary, relative to $1
    local line
    if command -v dpkg-shlibdeps >/dev/null 2>&1 \
        && line=$(cd "$1" && dpkg-shlibdeps -O -e"$2" 2>/dev/null) && [[ "$line" == shlibs:Depends=* ]]; then
        echo "${line#shlibs:Depends=}"
        return
    fi
    local glibc
    glibc=$(objdump -T "$1/$2" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
    echo "libc6 (>= ${glibc:-2.34})"
}

deb_cmd() {
    need_binary
    local upstream revision pkgver arch work pkg maintainer epoch
    upstream=$(version)
    revision="${DEB_REVISION:-1}"
    pkgver="$upstream-$revision"
    arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
    epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}"
    export SOURCE_DATE_EPOCH="$epoch"
    maintainer="${MAINTAINER:-}"
    if [[ -z "$maintainer" ]]; then
        local gname gmail
        gname=$(git -C "$root" config user.name 2>/dev/null || true)
        gmail=$(git -C "$root" config user.email 2>/dev/null || true)
        if [[ -n "$gname" && -n "$gmail" ]]; then maintainer="$gname <$gmail>"
        else maintainer="postfix-mx-smart-router maintainers <postfix-mx-smart-router@localhost.localdomain>"; fi
    fi

    work="$root/dist/deb"
    pkg="$work/debian/$name"
    rm -rf "$work"
    mkdir -p "$pkg/DEBIAN"
    printf 'Source: %s

Package: %s
Architecture: any
' "$name" "$name" > "$work/debian/control"

    # Debian 12 keeps units of packages in /lib/systemd/system.
    install_tree "$pkg" /usr /lib/systemd/system
    # The config is a conffile: dpkg keeps the admin's edits on upgrade and asks about conflicts.
    install -m 0644 "$root/$name.yaml.example" "$pkg/etc/postfix/$name.yaml"
    install -D -m 0644 "$root/$name.yaml.example" "$pkg/usr/share/doc/$name/examples/$name.yaml"
    install -D -m 0644 "$root/contrib/$name.logrotate" "$pkg/etc/logrotate.d/$name"

    local doc="$pkg/usr/share/doc/$name"
    local date
    date=$(date -u -R -d "@$epoch")
    {
        echo "$name ($pkgver) unstable; urgency=medium"
        echo
        echo "  * Built from commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown) of $name."
        echo
        echo " -- $maintainer  $date"
    } | gzip -9n > "$doc/changelog.Debian.gz"
    local year
    year=$(date -u -d "@$epoch" +%Y)
    if [[ -f "$root/LICENSE" ]]; then
        { echo "This is $name, packaged from its repository."; echo; cat "$root/LICENSE"; } > "$doc/copyright"
    else
        {
            echo "This is $name, packaged from its repository."
            echo
            echo "Copyright $year the $name authors"
            echo
            echo "No license file has been published with this software yet: it is distributed"
            echo "by its authors, who keep all rights until they choose a license."
        } > "$doc/copyright"
    fi
    chmod 0644 "$doc/changelog.Debian.gz" "$doc/copyright"

    cat > "$pkg/DEBIAN/conffiles" <<CONFFILES
/etc/postfix/$name.yaml
/etc/logrotate.d/$name
CONFFILES

    cat > "$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# The unit is installed, not enabled: edit /etc/postfix/postfix-mx-smart-router.yaml, then
# run "systemctl enable --now postfix-mx-smart-router".
set -e
unit=postfix-mx-smart-router.service
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
    # Record the unit so that purge removes the links "systemctl enable" makes.
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper update-state "$unit" >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        # An upgrade restarts a router that runs (a reload cannot swap the binary).
        if [ -n "$2" ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
            deb-systemd-invoke try-restart "$unit" >/dev/null || true
        fi
    fi
fi
exit 0
POSTINST

    cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
    deb-systemd-invoke stop postfix-mx-smart-router.service >/dev/null || true
fi
exit 0
PRERM

    cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper purge postfix-mx-smart-router.service >/dev/null || true
    fi
    rm -rf /var/log/postfix-mx-smart-router /var/log/private/postfix-mx-smart-router
fi
exit 0
POSTRM
    chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

    local depends size
    depends=$(deb_depends "$work" "debian/$name/usr/sbin/$name")
    size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
    cat > "$pkg/DEBIAN/control" <<CONTROL
Package: $name
Version: $pkgver
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Suggests: postfix
Section: mail
Priority: optional
Description: MX-aware weighted relay chooser for Postfix transport_maps
 A small lookup daemon that tells Postfix which relay to use for each
 recipient (tcp_table protocol). It looks up the MX hosts of the
 recipient's domain, walks ordered rules to choose a group of relays and
 picks one of them by weighted round robin, so that mail for, say,
 Microsoft-hosted domains leaves through chosen relays in chosen shares.
 .
 One native executable, no runtime needed. The systemd unit is installed
 but not enabled; edit /etc/postfix/postfix-mx-smart-router.yaml first.
CONTROL

    (cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | LC_ALL=C sort -z \
        | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
    chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles"

    # Same commit, same bytes: every file dated by the commit, not by the build.
    find "$pkg" -exec touch -h -d "@$epoch" {} +

    local deb="$root/dist/${name}_${pkgver}_${arch}.deb"
    rm -f "$deb"
    dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
    say "package: $deb"
    say "Depends: $depends"
    echo "$deb"
}
