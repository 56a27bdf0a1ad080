#!/usr/bin/env bash
# probe.sh [HOST] [PORT]: exits 0 when a Kafka broker there answers a Metadata request with at least
# one broker in it. Speaks the wire protocol from bash (no JVM, no node_modules), so it is cheap
# enough to poll every few hundred milliseconds while a broker starts.
set -uo pipefail
host="${1:-127.0.0.1}"; port="${2:-9092}"
{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || exit 1
# MetadataRequest v4 (supported by Kafka 1.0 through 4.x): size=20, api_key=3, api_version=4,
# correlation_id=0x5649474c ("VIGL"), client_id="probe", topics=null (-1), allow_auto_topic_creation=false.
printf '\x00\x00\x00\x14\x00\x03\x00\x04\x56\x49\x47\x4c\x00\x05probe\xff\xff\xff\xff\x00' >&3
# Response: size(4) correlation_id(4) throttle_time_ms(4) brokers_count(4) ...
hdr=$(timeout 3 head -c 16 <&3 | od -An -v -tx1 | tr -d ' \n')
exec 3<&-
[ "${#hdr}" -eq 32 ] || exit 1
[ "${hdr:8:8}" = "5649474c" ] || exit 1
[ $((16#${hdr:24:8})) -ge 1 ]
