# shellcheck shell=bash
# ./build.sh install: the binary, the systemd unit, the example config, the logrotate
# snippet and the man page, under DESTDIR and PREFIX. Sourced by build.sh.

name=postfix-mx-smart-router

version() { sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1; }

# A binary to install: out/'s, built first when there is none.
need_binary() {
    if [[ ! -x "$bin" ]]; then
        say "no $bin yet: building it"
        build
    fi
}

# install_tree DESTDIR PREFIX UNITDIR: the files every installation has.
install_tree() {
    local dest="$1" prefix="$2" unitdir="$3"
    install -d -m 0755 "$dest$prefix/sbin" "$dest$unitdir" "$dest$prefix/share/man/man8" \
        "$dest$prefix/share/doc/$name" "$dest/etc/postfix"
    install -m 0755 "$bin" "$dest$prefix/sbin/$name"
    # The unit names the binary by its path: point it at this PREFIX.
    sed "s#/usr/sbin/$name#$prefix/sbin/$name#g" "$root/contrib/$name.service" > "$dest$unitdir/$name.service"
    chmod 0644 "$dest$unitdir/$name.service"
    "$root/docs/man.sh" "$root/README.md" "$(version)" | gzip -9n > "$dest$prefix/share/man/man8/$name.8.gz"
    chmod 0644 "$dest$prefix/share/man/man8/$name.8.gz"
    install -m 0644 "$root/README.md" "$dest$prefix/share/doc/$name/README.md"
}

install_cmd() {
    local prefix="${PREFIX:-/usr/local}" dest="${DESTDIR:-}"
    prefix="${prefix%/}"
    need_binary
    install_tree "$dest" "$prefix" "$prefix/lib/systemd/system"
    install -m 0644 "$root/$name.yaml.example" "$dest/etc/postfix/$name.yaml.example"
    # The admin's own copies are never overwritten.
    if [[ ! -e "$dest/etc/logrotate.d/$name" ]]; then
        install -D -m 0644 "$root/contrib/$name.logrotate" "$dest/etc/logrotate.d/$name"
    fi
    say "installed under ${dest:-/} with PREFIX=$prefix:"
    say "  $prefix/sbin/$name, $prefix/lib/systemd/system/$name.service,"
    say "  /etc/postfix/$name.yaml.example, /etc/logrotate.d/$name, $prefix/share/man/man8/$name.8.gz"
    if [[ ! -e "$dest/etc/postfix/$name.yaml" ]]; then
        say "next: cp /etc/postfix/$name.yaml.example /etc/postfix/$name.yaml, edit it, then"
    fi
    say "  systemctl daemon-reload && systemctl enable --now $name"
}

