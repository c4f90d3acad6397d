#!/bin/sh
# Makes a root-filesystem folder from busybox-static: the image the HPC and
# container tests run under bubblewrap. `sh busybox-image.sh DIR`: DIR/bin/busybox
# and a link per applet, /etc/passwd. Used as a site's pull command too (it
# ignores the image name it is given after DIR).
set -eu
dest=$1
mkdir -p "$dest/bin" "$dest/etc" "$dest/tmp" "$dest/var/spool/cwl"
cp /bin/busybox "$dest/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ -e "$dest/bin/$applet" ] || ln -s busybox "$dest/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$dest/etc/passwd"
