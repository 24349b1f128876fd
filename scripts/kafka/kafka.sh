#!/usr/bin/env bash
# A 3-broker Apache Kafka cluster (KRaft, every node broker and controller) on loopback, run with the JVM on
# the machine: no docker. Replication factor 3, min.insync.replicas 2, as compose.yaml.
#
#   scripts/kafka/kafka.sh fetch           resolve the broker's jars from Maven Central, check them against jars.sha256
#   scripts/kafka/kafka.sh start           format (first time) and start the three nodes, then wait until healthy
#   scripts/kafka/kafka.sh stop            stop every node (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka/kafka.sh kill N          kill -9 node N (1-3)
#   scripts/kafka/kafka.sh restart N       start node N again (after kill or stop-node), then wait until healthy
#   scripts/kafka/kafka.sh stop-node N     stop node N cleanly (SIGTERM)
#   scripts/kafka/kafka.sh wait            wait until every node is up and in the cluster's metadata
#   scripts/kafka/kafka.sh env             print the addresses and files a client needs, as shell assignments
#
# Environment: XLING_KAFKA_DIR is the cluster's folder (default .cache/kafka-cluster: data, logs, config,
# certificates, secrets); XLING_KAFKA_PORT the first of its ports (default 19092); XLING_KAFKA_OWNER_PID, if
# set, a process whose end stops the cluster (the tests set it). Node N (1-3) listens on
#   PLAINTEXT  127.0.0.1:PORT+N-1      no authentication (User:ANONYMOUS, a super user: the operators' door)
#   SECURE     127.0.0.1:PORT+200+N-1  SASL_SSL, SCRAM-SHA-512 and SCRAM-SHA-256, ACLs enforced
#   CONTROLLER 127.0.0.1:PORT+100+N-1  KRaft quorum
# The SECURE listener knows two users: admin (a super user) and xling, allowed only topics and groups whose
# names start with xsec. (see `acls`). Their passwords are random, in secrets/ (mode 0600), never printed.
set -euo pipefail

KAFKA_VERSION=3.9.1
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${XLING_CACHE:-$ROOT/.cache}"
LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
DIR="${XLING_KAFKA_DIR:-$CACHE/kafka-cluster}"
PORT="${XLING_KAFKA_PORT:-19092}"
NODES=3
JAVA="${JAVA:-java}"
HEAP="${XLING_KAFKA_HEAP:-512m}"

die() { echo "kafka.sh: $*" >&2; exit 1; }
plain_port() { echo $((PORT + $1 - 1)); }
secure_port() { echo $((PORT + 200 + $1 - 1)); }
controller_port() { echo $((PORT + 100 + $1 - 1)); }
bootstrap() { local n s=""; for n in $(seq 1 $NODES); do s+="${s:+,}127.0.0.1:$(plain_port "$n")"; done; echo "$s"; }
secure_bootstrap() { local n s=""; for n in $(seq 1 $NODES); do s+="${s:+,}127.0.0.1:$(secure_port "$n")"; done; echo "$s"; }
tool() { "$JAVA" -Xmx256m -Xshare:auto -cp "$LIBS/*" -Dlog4j.configuration="file:$DIR/tools-log4j.properties" "$@"; }

fetch() {
	command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven) and a JDK >= 17"
	command -v "$JAVA" >/dev/null || die "java not found: install a JDK >= 17"
	if [ -f "$LIBS/.verified" ]; then return; fi
	mkdir -p "$CACHE"
	local tmp; tmp="$(mktemp -d "$CACHE/kafka-fetch.XXXXXX")"
	trap 'rm -rf "$tmp"' RETURN
	local log
	log="$(mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" 2>&1)" \
		|| die "resolving Kafka $KAFKA_VERSION's jars from Maven Central failed: $log"
	# The folder must hold exactly the pinned jars, each with its pinned digest.
	diff <(cd "$tmp/libs" && ls -1 *.jar) <(awk '{print $2}' "$HERE/jars.sha256" | sort) >/dev/null \
		|| die "the jars Maven resolved differ from scripts/kafka/jars.sha256's list: $(diff <(cd "$tmp/libs" && ls -1 *.jar) <(awk '{print $2}' "$HERE/jars.sha256" | sort) | tr '\n' ' ')"
	(cd "$tmp/libs" && sha256sum -c --quiet "$HERE/jars.sha256") || die "a Kafka jar's SHA-256 differs from scripts/kafka/jars.sha256"
	touch "$tmp/libs/.verified"
	mkdir -p "$(dirname "$LIBS")"
	rm -rf "$LIBS"
	mv "$tmp/libs" "$LIBS"
}

# certs makes a CA and a certificate for 127.0.0.1/localhost signed by it, in a PKCS12 keystore for the brokers.
certs() {
	local d="$DIR/tls"
	[ -f "$d/broker.p12" ] && return
	mkdir -p "$d" "$DIR/secrets"
	chmod 700 "$DIR/secrets"
	openssl rand -hex 16 > "$DIR/secrets/keystore.password"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=xling test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/broker.key" -out "$d/broker.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/san.ext"
	openssl x509 -req -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
		-extfile "$d/san.ext" -out "$d/broker.pem" 2>/dev/null
	openssl pkcs12 -export -in "$d/broker.pem" -inkey "$d/broker.key" -certfile "$d/ca.pem" -name broker \
		-passout "file:$DIR/secrets/keystore.password" -out "$d/broker.p12"
	chmod 600 "$d"/*.key
}

config() {
	local n=$1 voters="" i
	for i in $(seq 1 $NODES); do voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"; done
	mkdir -p "$DIR/node$n"
	cat > "$DIR/node$n/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(plain_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n"),SECURE://127.0.0.1:$(secure_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(plain_port "$n"),SECURE://127.0.0.1:$(secure_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DIR/node$n/data
num.partitions=4
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# xling keeps each message under 1 MiB (pipeline.MaxMessageBytes), Kafka's default limit.
message.max.bytes=1048588
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS;User:admin
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.ssl.keystore.type=PKCS12
listener.name.secure.ssl.keystore.location=$DIR/tls/broker.p12
listener.name.secure.ssl.keystore.password=$(cat "$DIR/secrets/keystore.password")
EOF
	chmod 600 "$DIR/node$n/server.properties"
	cat > "$DIR/node$n/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$DIR/node$n/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

# format lays out the storage of every node with one cluster id, and the SCRAM users (KRaft keeps them in
# its metadata log, so they exist before any listener opens).
format() {
	[ -f "$DIR/.formatted" ] && return
	[ -d "$LIBS" ] || die "Kafka's jars are not in $LIBS: run scripts/kafka/kafka.sh fetch (make kafka does)"
	mkdir -p "$DIR/secrets"
	chmod 700 "$DIR/secrets"
	printf 'log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\nlog4j.appender.stderr.Target=System.err\nlog4j.appender.stderr.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stderr.layout.ConversionPattern=%%p %%m%%n\n' > "$DIR/tools-log4j.properties"
	certs
	local u
	for u in admin xling; do [ -f "$DIR/secrets/$u.password" ] || openssl rand -hex 16 > "$DIR/secrets/$u.password"; done
	chmod 600 "$DIR/secrets"/*
	local id n
	id="$(tool kafka.tools.StorageTool random-uuid)"
	for n in $(seq 1 $NODES); do
		config "$n"
		tool kafka.tools.StorageTool format -t "$id" -c "$DIR/node$n/server.properties" --ignore-formatted \
			--add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$DIR/secrets/admin.password")]" \
			--add-scram "SCRAM-SHA-512=[name=xling,password=$(cat "$DIR/secrets/xling.password")]" \
			--add-scram "SCRAM-SHA-256=[name=xling,password=$(cat "$DIR/secrets/xling.password")]" >/dev/null
	done
	touch "$DIR/.formatted"
}

pid_of() { local f="$DIR/node$1/pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }

start_node() {
	local n=$1
	if pid_of "$n" >/dev/null; then return; fi
	(cd "$DIR/node$n" && exec "$JAVA" -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -Xshare:auto -Djava.awt.headless=true \
		-Dlog4j.configuration="file:$DIR/node$n/log4j.properties" -cp "$LIBS/*" kafka.Kafka server.properties \
		>"$DIR/node$n/stdout.log" 2>&1) &
	echo $! > "$DIR/node$n/pid"
}

# healthy says whether node n answers on its port and the cluster's metadata lists every node.
healthy() {
	local n out
	for n in $(seq 1 $NODES); do
		pid_of "$n" >/dev/null || return 1
		(exec 3<>/dev/tcp/127.0.0.1/"$(plain_port "$n")") 2>/dev/null || return 1
	done
	out="$(tool kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$(bootstrap)" 2>/dev/null)" || return 1
	[ "$(grep -c '(id: [0-9]* rack' <<<"$out")" -eq "$NODES" ]
}

wait_healthy() {
	local deadline=$((SECONDS + ${XLING_KAFKA_WAIT:-180})) n
	until healthy; do
		for n in $(seq 1 $NODES); do
			if [ -f "$DIR/node$n/pid" ] && ! pid_of "$n" >/dev/null && [ ! -f "$DIR/node$n/down" ]; then
				die "node $n exited while starting; the end of its log ($DIR/node$n/server.log):
$(tail -20 "$DIR/node$n/server.log" "$DIR/node$n/stdout.log" 2>/dev/null)"
			fi
		done
		[ $SECONDS -lt $deadline ] || die "the cluster in $DIR is not healthy after ${XLING_KAFKA_WAIT:-180} s (logs: $DIR/node*/server.log)"
		sleep 1
	done
}

stop_node() {
	local n=$1 pid
	pid="$(pid_of "$n")" || return 0
	kill -TERM "$pid"
	for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
	kill -KILL "$pid" 2>/dev/null || true
}

check_node() { [[ "${1:-}" =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3, not '${1:-}'"; }

case "${1:-}" in
fetch) fetch ;;
start)
	fetch
	mkdir -p "$DIR"
	# A cluster keeps the ports it was formatted with: its quorum voters name them.
	if [ -f "$DIR/port" ] && [ "$(cat "$DIR/port")" != "$PORT" ]; then
		die "the cluster in $DIR was made on port $(cat "$DIR/port"), not $PORT: set XLING_KAFKA_PORT=$(cat "$DIR/port") or use another XLING_KAFKA_DIR"
	fi
	echo "$PORT" > "$DIR/port"
	format
	for n in $(seq 1 $NODES); do rm -f "$DIR/node$n/down"; start_node "$n"; done
	# A cluster started for a process (the tests' kafkatest) stops when that process is gone.
	if [ -n "${XLING_KAFKA_OWNER_PID:-}" ] && [ ! -f "$DIR/watcher.pid" ]; then
		(while kill -0 "$XLING_KAFKA_OWNER_PID" 2>/dev/null; do sleep 2; done
		 for n in $(seq 1 $NODES); do stop_node "$n" & done; wait; rm -f "$DIR/watcher.pid") </dev/null >/dev/null 2>&1 &
		echo $! > "$DIR/watcher.pid"
	fi
	wait_healthy
	echo "kafka.sh: Kafka $KAFKA_VERSION healthy: PLAINTEXT $(bootstrap), SASL_SSL $(secure_bootstrap) ($DIR)"
	;;
stop) for n in $(seq 1 $NODES); do stop_node "$n" & done; wait ;;
kill)
	check_node "${2:-}"
	pid="$(pid_of "$2")" || die "node $2 is not running"
	touch "$DIR/node$2/down"
	kill -KILL "$pid"
	;;
stop-node) check_node "${2:-}"; touch "$DIR/node$2/down"; stop_node "$2" ;;
restart)
	check_node "${2:-}"
	rm -f "$DIR/node$2/down"
	start_node "$2"
	wait_healthy
	;;
wait) wait_healthy ;;
env)
	cat <<EOF
XLING_KAFKA_VERSION=$KAFKA_VERSION
XLING_KAFKA_BROKERS=$(bootstrap)
XLING_KAFKA_SECURE_BROKERS=$(secure_bootstrap)
XLING_KAFKA_TLS_CA=$DIR/tls/ca.pem
XLING_KAFKA_PASSWORD_FILE=$DIR/secrets/xling.password
XLING_KAFKA_ADMIN_PASSWORD_FILE=$DIR/secrets/admin.password
XLING_KAFKA_PIDS=$(for n in $(seq 1 $NODES); do printf '%s ' "$(pid_of "$n" || echo -)"; done)
EOF
	;;
acls)
	# xling's principal may use only what the secured tests name: topics and groups prefixed xsec.
	for r in topic group; do
		tool kafka.admin.AclCommand --bootstrap-server "$(bootstrap)" --add --allow-principal User:xling \
			--operation All --"$r" xsec. --resource-pattern-type prefixed >/dev/null
	done
	;;
*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
