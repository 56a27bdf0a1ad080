#!/usr/bin/env bash
# Fetches Apache Kafka and its run-time jars from Maven Central into cluster/kafka/target/lib.
# Idempotent: does nothing when the jars for the pom's version are already there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
here="$VIGIL_ROOT/cluster/kafka"
lib="$here/target/lib"
stamp="$here/target/.fetched"

if [ -f "$stamp" ] && [ "$stamp" -nt "$here/pom.xml" ] && ls "$lib"/kafka_2.13-*.jar >/dev/null 2>&1; then
  exit 0
fi
ensure_pkg java default-jre-headless
ensure_pkg mvn maven
log "fetching Apache Kafka jars from Maven Central (first run only, ~50 MB)"
rm -rf "$lib"
# -B: no colour codes in logs; the transfer listener prints one line per artifact as progress.
mvn -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
  -Dorg.slf4j.simpleLogger.log.org.apache.maven.cli.transfer.Slf4jMavenTransferListener=warn \
  | grep -E '^\[(INFO|ERROR|WARNING)\] (Copying|BUILD|Downloaded from central: .*kafka|ERROR)' >&2 || true
ls "$lib"/kafka_2.13-*.jar >/dev/null 2>&1 || die "Maven did not produce $lib/kafka_2.13-*.jar (see mvn output above)"
touch "$stamp"
log "Kafka jars ready: $(ls "$lib" | wc -l) jars in $lib"
