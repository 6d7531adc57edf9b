#!/bin/bash
# Runs INSIDE the Debian 12 image (tests/image/run.sh), as root, from
# svs-runner.service at the end of every boot, with the host's share at
# /mnt/svs:
#   /mnt/svs/repo1, /mnt/svs/repo2   local apt repositories (Packages files)
#                 with the packages of two builds (the second one newer)
#   /mnt/svs/results/                what this script writes: results.txt
#                 ("PASS: image: ..." / "FAIL: image: ..." lines), times.txt,
#                 logs; "exit-code" when done
# What an administrator would do and look at, over two boots:
#   boot 1  apt installs the three packages from repo1; DKMS built the
#           module for the running kernel; configuration: /etc/sock_vs.rules,
#           two python http.servers as real servers, a client unit ordered
#           after network-online.target, sockvs-healthd enabled; reboot
#   boot 2  sock_vs.service loaded the module and restored the rules before
#           network-online.target (journal), the client found its virtual
#           service; sockvs-healthd quiesces a stopped server and restores
#           it (its journal); `systemctl stop sock_vs` saves the live table;
#           upgrade to repo2 keeps the rules and the edited healthd
#           configuration; apt purge leaves nothing; power off
set -uo pipefail
share=/mnt/svs
res=$share/results
state=/var/lib/svs-test
mkdir -p "$res" "$state"
stage=$(cat "$state/stage" 2>/dev/null || echo 1)
vip=10.255.0.1:80
exec >> "$res/guest.log" 2>&1
echo "=== boot $stage: $(date -u +%FT%TZ), kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s"

pass() { echo "PASS: image: $*" | tee -a "$res/results.txt"; }
fail() { echo "FAIL: image: $*" | tee -a "$res/results.txt"; }
check() { # check DESCRIPTION COMMAND...: PASS if the command succeeds
	local what=$1; shift
	if "$@" >> "$res/guest.log" 2>&1; then pass "$what"; else fail "$what"; fi
}
t0=$(date +%s.%N)
timed() { # timed NAME COMMAND...: run it, log its time to times.txt
	local name=$1 s rc; shift
	s=$(date +%s.%N)
	"$@"; rc=$?
	awk -v n="$name" -v s="$s" -v e="$(date +%s.%N)" 'BEGIN { printf "%s %.1f\n", n, e - s }' >> "$res/times.txt"
	return $rc
}
finish() { # finish: power off, recording the exit status for the host
	local rc=0
	grep -q '^FAIL: ' "$res/results.txt" 2>/dev/null && rc=1
	journalctl -b --no-pager -o short-monotonic > "$res/journal-boot$stage.txt" 2>&1
	echo "$rc" > "$res/exit-code"
	sync
	systemctl poweroff --no-block
	exit 0
}
reboot_into() { # reboot_into STAGE
	echo "$1" > "$state/stage"
	journalctl -b --no-pager -o short-monotonic > "$res/journal-boot$stage.txt" 2>&1
	sync
	systemctl reboot --no-block
	exit 0
}
# wait_for SECONDS COMMAND...: until the command succeeds
wait_for() {
	local end=$(($(date +%s) + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.5
	done
}
weight_of() { # weight_of SERVER: its weight in the service, from sockvsadm -L -n
	sockvsadm -L -n -t "$vip" | awk -v s="$1" '$1 == "->" && $2 == s { print $4 }'
}
weight_is() { [ "$(weight_of "$1")" = "$2" ]; }
# (-L's header line "  -> RemoteAddress:Port ... Weight ..." starts with "->" too)
all_weights_one() { [ "$(sockvsadm -L -n -t "$vip" | awk '$1 == "->" && $4 ~ /^[0-9]+$/ { print $4 }' | sort -u)" = 1 ]; }
use_repo() { # use_repo DIR: the only apt source
	echo "deb [trusted=yes] file:$share/$1 ./" > /etc/apt/sources.list.d/svs.list
	apt-get update -qq
}
pkgs=(sock-vs-dkms sockvsadm sockvs-healthd)
export DEBIAN_FRONTEND=noninteractive
kver=$(uname -r)

case $stage in
1)
	echo "first boot took $(cut -d' ' -f1 /proc/uptime) s" >> "$res/times.txt"
	use_repo repo1 || { fail "apt-get update of the local repository"; finish; }
	if timed apt-install apt-get install -y "${pkgs[@]}" > "$res/apt-install.log" 2>&1; then
		pass "apt-get install ${pkgs[*]} from a local repository"
	else
		fail "apt-get install ${pkgs[*]} (apt-install.log)"
		finish
	fi
	check "the packages are installed at the first build's version" \
		sh -c "dpkg-query -W -f='\${Version}\n' ${pkgs[*]} | sort -u | grep -qx '$(cat "$share/version1")'"
	check "DKMS built and installed sock_vs for the running kernel ($kver)" \
		sh -c "dkms status -m sock_vs -k $kver | grep -q ': installed'"
	ko=$(modinfo -k "$kver" -n sock_vs 2>/dev/null)
	check "modprobe finds the DKMS module ($ko)" \
		sh -c "case '$ko' in /lib/modules/$kver/updates/dkms/sock_vs.ko*) exit 0 ;; *) exit 1 ;; esac"
	check "sock_vs.service is enabled, not started by the installation" \
		sh -c 'systemctl is-enabled sock_vs.service && ! systemctl is-active sock_vs.service'
	check "sockvs-healthd.service is installed disabled, with its configuration (a conffile)" \
		sh -c '! systemctl is-enabled sockvs-healthd.service && grep -qx /etc/sockvs-healthd.conf /var/lib/dpkg/info/sockvs-healthd.conffiles'
	check "sockvsadm(8) and sockvs-healthd(8) are installed" \
		test -f /usr/share/man/man8/sockvsadm.8.gz -a -f /usr/share/man/man8/sockvs-healthd.8.gz

	# Configure as an administrator would.
	cat > /etc/sock_vs.rules <<-EOF
	# written by tests/image/guest.sh
	-A -t $vip -s rr
	-a -t $vip -r 127.0.0.1:8081 -w 1
	-a -t $vip -r 127.0.0.1:8082 -w 1
	EOF
	mkdir -p /srv/www
	echo "svs-web" > /srv/www/index.html
	cat > /etc/systemd/system/svs-web@.service <<-'EOF'
	[Unit]
	Description=test real server on 127.0.0.1:%i
	[Service]
	ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory /srv/www %i
	[Install]
	WantedBy=multi-user.target
	EOF
	# A service that needs the network: it must find the virtual service.
	cat > /usr/local/bin/svs-client <<-EOF
	#!/bin/sh
	sockvsadm -L -n > $state/client-list.txt 2>&1
	# the real servers may still be starting: a few tries
	for i in 1 2 3 4 5 6 7 8 9 10; do
		python3 -c 'import urllib.request as u; print(u.urlopen("http://$vip/", timeout=5).read().decode().strip())' > $state/client-get.txt 2>&1 && exit 0
		sleep 2
	done
	exit 1
	EOF
	chmod 755 /usr/local/bin/svs-client
	cat > /etc/systemd/system/svs-client.service <<-EOF
	[Unit]
	Description=test client of the virtual service $vip
	Wants=network-online.target
	After=network-online.target svs-web@8081.service svs-web@8082.service
	[Service]
	Type=oneshot
	RemainAfterExit=yes
	ExecStart=/usr/local/bin/svs-client
	[Install]
	WantedBy=multi-user.target
	EOF
	cat > /etc/sockvs-healthd.conf <<-EOF
	# edited by tests/image/guest.sh (an administrator's change to the conffile)
	state-file /var/lib/sockvs-healthd/state
	service -t $vip
	  check http / 200
	  interval 1
	  timeout 1
	  fall 2
	  rise 2
	EOF
	sha256sum /etc/sockvs-healthd.conf > "$state/healthd-conf.sum"
	systemctl daemon-reload
	systemctl enable svs-web@8081.service svs-web@8082.service svs-client.service sockvs-healthd.service
	reboot_into 2
	;;
2)
	echo "second boot took $(cut -d' ' -f1 /proc/uptime) s" >> "$res/times.txt"
	j=$res/journal-order.txt
	journalctl -b --no-pager -o short-monotonic > "$j"
	check "sock_vs.service is active after the reboot" systemctl is-active sock_vs.service
	check "sock_vs.service loaded the module" test -d /sys/module/sock_vs
	sockvsadm -L -n > "$res/list-after-boot.txt" 2>&1
	check "the rules of /etc/sock_vs.rules are in the table (sockvsadm -L -n)" \
		sh -c "grep -q '^TCP  $vip rr' '$res/list-after-boot.txt' && [ \$(grep -c '^  -> 127.0.0.1:808[12] ' '$res/list-after-boot.txt') = 2 ]"
	# journal order: the unit finished before the target was reached
	l_svs=$(grep -n -m1 -E 'Finished (sock_vs\.service|sock_vs client-side)' "$j" | cut -d: -f1)
	l_net=$(grep -n -m1 -E 'Reached target (network-online\.target|Network is Online)' "$j" | cut -d: -f1)
	if [ -n "$l_svs" ] && [ -n "$l_net" ] && [ "$l_svs" -lt "$l_net" ]; then
		pass "journal: sock_vs.service finished (line $l_svs) before network-online.target was reached (line $l_net)"
	else
		fail "journal: sock_vs.service (line ${l_svs:-none}) before network-online.target (line ${l_net:-none})"
	fi
	a=$(systemctl show -P ActiveEnterTimestampMonotonic sock_vs.service)
	b=$(systemctl show -P ActiveEnterTimestampMonotonic network-online.target)
	check "systemd: sock_vs.service active at ${a} us, network-online.target at ${b} us" test "$a" -gt 0 -a "$a" -le "$b"
	check "svs-client.service (after network-online.target) listed the virtual service" \
		grep -q "^TCP  $vip rr" "$state/client-list.txt"
	check "svs-client.service's GET http://$vip/ reached a real server" grep -qx svs-web "$state/client-get.txt"
	cp "$state"/client-*.txt "$res/" 2>/dev/null

	# sockvs-healthd: quiesce a stopped server, bring it back.
	check "sockvs-healthd.service is active" systemctl is-active sockvs-healthd.service
	# At boot the daemon may have started before the servers listened (and
	# quiesced them for a moment): from a steady state, and only what it
	# logs from now on counts.
	wait_for 60 all_weights_one ||
		fail "the real servers did not all have weight 1 within 60 s of the boot"
	cursor=$(journalctl -u sockvs-healthd -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
	systemctl stop svs-web@8082.service
	if timed healthd-down wait_for 60 weight_is 127.0.0.1:8082 0; then
		pass "sockvs-healthd quiesced the stopped real server 127.0.0.1:8082 (weight 0)"
	else
		fail "sockvs-healthd did not quiesce 127.0.0.1:8082 in 60 s (weight $(weight_of 127.0.0.1:8082))"
	fi
	check "the other real server kept its weight" weight_is 127.0.0.1:8081 1
	systemctl start svs-web@8082.service
	if timed healthd-up wait_for 60 weight_is 127.0.0.1:8082 1; then
		pass "sockvs-healthd gave 127.0.0.1:8082 its weight back once it answered"
	else
		fail "sockvs-healthd did not restore 127.0.0.1:8082 in 60 s (weight $(weight_of 127.0.0.1:8082))"
	fi
	journalctl -u sockvs-healthd -b --no-pager > "$res/journal-healthd.txt"
	journalctl -u sockvs-healthd --after-cursor="$cursor" --no-pager > "$res/journal-healthd-test.txt"
	l_down=$(grep -n -m1 '127.0.0.1:8082: DOWN' "$res/journal-healthd-test.txt" | cut -d: -f1)
	l_up=$(grep -n -m1 '127.0.0.1:8082: UP' "$res/journal-healthd-test.txt" | cut -d: -f1)
	if [ -n "$l_down" ] && [ -n "$l_up" ] && [ "$l_down" -lt "$l_up" ]; then
		pass "journalctl -u sockvs-healthd: 127.0.0.1:8082 DOWN, then UP, after the stop"
	else
		fail "journalctl -u sockvs-healthd: no DOWN then UP of 127.0.0.1:8082 after the stop (journal-healthd-test.txt)"
	fi

	# systemctl reload sockvs-healthd: SIGHUP reads the file again, same process.
	pid=$(systemctl show -P MainPID sockvs-healthd.service)
	cursor=$(journalctl -u sockvs-healthd -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
	sed -i 's/^  fall 2$/  fall 3/' /etc/sockvs-healthd.conf
	sha256sum /etc/sockvs-healthd.conf > "$state/healthd-conf.sum"
	check "systemctl reload sockvs-healthd" systemctl reload sockvs-healthd.service
	check "... read the configuration again in the same process ($pid)" \
		sh -c "journalctl -u sockvs-healthd --after-cursor='$cursor' --no-pager | grep -q 'configuration read again' &&
			[ \"\$(systemctl show -P MainPID sockvs-healthd.service)\" = '$pid' ] && systemctl is-active sockvs-healthd.service"

	# systemctl stop sock_vs saves the live table.
	systemctl start svs-web@8083.service
	sockvsadm -a -t "$vip" -r 127.0.0.1:8083 -w 3
	systemctl stop sock_vs.service
	check "systemctl stop sock_vs saved the live table to /etc/sock_vs.rules" \
		grep -qE -- "^-a -t $vip -r 127.0.0.1:8083( .*)? -w 3" /etc/sock_vs.rules
	check "... and cleared the table" sh -c "! sockvsadm -L -n | grep -q '^TCP'"
	systemctl start sock_vs.service
	check "systemctl start sock_vs restored the saved table" weight_is 127.0.0.1:8083 3
	cp /etc/sock_vs.rules "$res/sock_vs.rules.saved"
	sha256sum /etc/sock_vs.rules > "$state/rules.sum"

	# Upgrade to the newer build (not in the quick form: a second DKMS build).
	if [ -f "$share/quick" ]; then
		echo "SKIP: image: upgrade (quick form)" | tee -a "$res/results.txt"
	else
	use_repo repo2 || fail "apt-get update of the second repository"
	pid_before=$(systemctl show -P MainPID sockvs-healthd.service)
	if timed apt-upgrade apt-get install -y "${pkgs[@]}" > "$res/apt-upgrade.log" 2>&1; then
		pass "apt-get install of the newer build (upgrade)"
	else
		fail "apt-get install of the newer build (apt-upgrade.log)"
	fi
	check "the packages are at the newer build's version $(cat "$share/version2")" \
		sh -c "dpkg-query -W -f='\${Version}\n' ${pkgs[*]} | sort -u | grep -qx '$(cat "$share/version2")'"
	check "the upgrade kept /etc/sock_vs.rules" sha256sum -c "$state/rules.sum"
	check "the upgrade kept the edited /etc/sockvs-healthd.conf" sha256sum -c "$state/healthd-conf.sum"
	check "the upgrade left the live table alone (sock_vs.service not restarted)" weight_is 127.0.0.1:8083 3
	check "DKMS rebuilt the module for $kver" sh -c "dkms status -m sock_vs -k $kver | grep -q ': installed'"
	pid_after=$(systemctl show -P MainPID sockvs-healthd.service)
	check "sockvs-healthd.service was restarted by the upgrade (pid $pid_before -> $pid_after)" \
		test "$pid_after" != 0 -a "$pid_after" != "$pid_before"
	# The rebuilt module loads and gets the rules back, as at the next boot.
	systemctl stop sockvs-healthd.service sock_vs.service
	check "the old module unloads (modprobe -r sock_vs)" modprobe -r sock_vs
	systemctl start sock_vs.service sockvs-healthd.service
	check "sock_vs.service loads the rebuilt module and restores the saved rules" \
		sh -c "test -d /sys/module/sock_vs && [ \"\$(sockvsadm -L -n | grep -c '^  -> 127.0.0.1:808[123] ')\" = 3 ]"
	fi

	# Purge.
	if timed apt-purge apt-get purge -y "${pkgs[@]}" > "$res/apt-purge.log" 2>&1; then
		pass "apt-get purge ${pkgs[*]}"
	else
		fail "apt-get purge (apt-purge.log)"
	fi
	left=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null | awk '$2 != "un"')
	check "dpkg knows none of the packages any more (not even config-files)" test -z "$left"
	check "no DKMS registration or built module left" \
		sh -c '! dkms status -m sock_vs | grep -q . && ! test -e /var/lib/dkms/sock_vs && ! ls /lib/modules/*/updates/dkms/sock_vs.ko* 2>/dev/null | grep -q .'
	leftovers=$(find / -xdev \( -path /proc -o -path /sys -o -path /mnt -o -path "$state" -o -path /var/cache/apt -o -path /var/lib/apt/lists \) -prune -o \
		\( -iname '*sock_vs*' -o -iname '*sockvs*' -o -iname 'sock-vs*' \) -print 2>/dev/null)
	echo "$leftovers" > "$res/leftovers.txt"
	if [ -z "$leftovers" ]; then
		pass "nothing named sock_vs, sockvs or sock-vs is left on the filesystem"
	else
		fail "left after purge: $(echo $leftovers)"
	fi
	check "systemd knows neither unit any more" \
		sh -c '! systemctl cat sock_vs.service && ! systemctl cat sockvs-healthd.service'
	if [ -d /sys/module/sock_vs ]; then
		echo "NOTE: image: the module stays loaded after the purge (like any DKMS module) until rmmod or reboot" | tee -a "$res/results.txt"
	fi
	awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "boot2-script %.1f\n", e - s }' >> "$res/times.txt"
	finish
	;;
*)
	fail "unknown stage '$stage'"
	finish
	;;
esac
